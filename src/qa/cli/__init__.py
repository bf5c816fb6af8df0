"""The command line: `qa index`, `add`, `status`, `delete`, `restore`, `ask`, `chat`, `eval`,
`serve` (`main`, with `documents` and `query` holding their commands). An edge: errors become
messages and exit codes here."""
