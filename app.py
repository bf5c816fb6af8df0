"""The qa browser app: `python app.py [--host HOST] [--port PORT]`.

Uses the same documents and index folders as the CLI (QA_DOCS, QA_INDEX, ...; see
qa.settings). The UI is built when this module is imported (tests import it); the server only
starts under __main__.
"""

from __future__ import annotations

import argparse
import sys

from qa.errors import QaError
from qa.settings import Settings
from qa.web.auth import parse_auth
from qa.web.service import Service


def parse_args(settings: Settings, argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Serve qa in the browser.")
    parser.add_argument("--host", default=settings.host, help="default 127.0.0.1 (QA_HOST)")
    parser.add_argument("--port", type=int, default=settings.port, help="default 7860 (QA_PORT)")
    return parser.parse_args(argv)


try:
    settings = Settings.from_env()
    parse_auth(settings.auth)  # a malformed QA_AUTH fails now, not after the slow import
except (ValueError, QaError) as exc:
    if __name__ != "__main__":
        raise
    sys.exit(f"Error: {exc}")
service = Service(settings)
if __name__ == "__main__":
    args = parse_args(settings)  # --help and bad flags answer before the slow import
    # Check the index and load the model while Gradio imports (seconds): the first question
    # is answered sooner. Imported by a test, nothing starts until a server does.
    service.start()

from qa.web.app import create_app, serve  # noqa: E402  (after start(): this import is the slow part)

app = create_app(settings, service=service)


if __name__ == "__main__":
    try:
        serve(settings, host=args.host, port=args.port, app=app)
    except QaError as exc:  # the port is taken, say
        sys.exit(f"Error: {exc}")
