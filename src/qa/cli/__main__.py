from qa.cli.main import main

raise SystemExit(main())
