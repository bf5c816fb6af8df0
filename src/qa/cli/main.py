"""The command line: `qa index`, `qa add`, `qa status`, `qa ask`, `qa chat`, `qa eval`, `qa serve`
(and `qa delete`, `qa restore`). Errors become messages here."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from qa.cli.building import build_reporting
from qa.errors import DocsFolderError, QaError
from qa.names import shown
from qa.settings import Settings
from qa.wording import counted, human_time

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as `yes | head` leaves it
EXIT_TERMINATED = 143  # 128 + SIGTERM


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so a build's cleanup runs (Python's default just exits)."""


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    def stop(signum: int, frame: object) -> None:
        raise _Terminated

    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers (qa.cli.main.main called from a thread)
        return
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env(docs=args.docs, index=args.index)
        with _sigterm_as_interrupt():
            result: int = args.run(args, settings)
        sys.stdout.flush()  # here, where a closed pipe is caught, not at interpreter exit
        return result
    except QaError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except ValueError as exc:  # settings from the environment
        print(f"Error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except _Terminated:
        print("Stopped.", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader left (`qa ask ... | head`): stop quietly with the shell's SIGPIPE status,
        # and point stdout at nothing so the interpreter's final flush cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--docs", type=Path, help="documents folder (default: seeds/, QA_DOCS)")
    common.add_argument("--index", type=Path, help="index folder (default: index/, QA_INDEX)")
    parser = argparse.ArgumentParser(
        prog="qa", description="Question answering over a folder of documents, with citations."
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    index = commands.add_parser("index", parents=[common], help="build or update the index")
    index.add_argument("--json", action="store_true", help="end with one JSON line of results")
    index.set_defaults(run=run_index)
    add = commands.add_parser(
        "add", parents=[common], help="copy documents into the documents folder, then index"
    )
    add.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="a file or a folder")
    add.add_argument("--no-index", action="store_true", help="copy only; index later")
    add.add_argument("--json", action="store_true", help="end with one JSON line of results")
    add.set_defaults(run=run_add)
    status = commands.add_parser(
        "status", parents=[common], help="what the index holds and what changed since"
    )
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.set_defaults(run=run_status)
    for register in _EXTRA_COMMANDS:
        register(commands, common)
    return parser


def run_index(args: argparse.Namespace, settings: Settings) -> int:
    report = build_reporting(settings)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    return EXIT_OK


def run_add(args: argparse.Namespace, settings: Settings) -> int:
    """Copy the files (a folder: the documents in it) under names that replace nothing, refuse
    what could not be indexed, then update the index; exit 1 when anything was refused."""
    from qa.folder.add import Incoming, add_files
    from qa.ingest.limits import Limits

    incoming = [Incoming(path.name, path, str(path)) for path in _expand(args.paths)]
    if settings.docs.exists() and not settings.docs.is_dir():
        raise DocsFolderError(f"{settings.docs} is a file; --docs takes the documents folder.")
    try:
        settings.docs.mkdir(parents=True, exist_ok=True)  # a collection starts with its first file
    except OSError as exc:
        raise DocsFolderError(
            f"Cannot create the documents folder {settings.docs}: {exc.strerror}."
        ) from None
    # No size limit of its own: the documents' limits (QA_MAX_FILE_MB and the rest) apply.
    result = add_files(
        settings.docs, incoming, max_bytes=sys.maxsize, limits=Limits.from_settings(settings)
    )
    for name in result.added:
        print(f"Added {shown(str(settings.docs / name))}")
    for name, reason in result.refused:
        print(f"Not added: {shown(name)}: {reason}", file=sys.stderr)
    report = build_reporting(settings) if result.added and not args.no_index else None
    if args.json:
        print(json.dumps({**result.as_json(), "index": report}, ensure_ascii=False))
    return EXIT_ERROR if result.refused else EXIT_OK


def _expand(paths: Sequence[Path]) -> list[Path]:
    from qa.ingest.discover import discover

    found = [p for path in paths for p in (discover(path) if path.is_dir() else [path])]
    return list(dict.fromkeys(found))  # a file named twice is added once


def run_status(args: argparse.Namespace, settings: Settings) -> int:
    """The index (verified as `qa ask` would load it) and the documents folder compared."""
    from qa.folder.changes import PENDING, document_states, files_on_disk
    from qa.folder.trash import TRASH, trashed
    from qa.index.built import load
    from qa.ingest.discover import check_folder
    from qa.names import as_json

    index = load(settings.index)
    check_folder(settings.docs)  # else every document would read as deleted
    summary = index.summary()
    states = document_states(index, files_on_disk(settings.docs), docs=settings.docs)
    kept = len(trashed(settings.docs))
    if args.json:
        listed = [{"source": as_json(source), "state": state} for source, state in states.items()]
        out = {"index": summary, "documents": listed, "deleted_kept": kept}
        print(json.dumps(out, ensure_ascii=False))
        return EXIT_OK
    print(
        f"Index {settings.index}: {counted(summary['documents'], 'document')}, "
        f"{counted(summary['passages'], 'passage')}, built {human_time(summary['built_at'])} "
        f"with {summary['model']}."
    )
    for source, state in states.items():
        if state != "indexed":
            print(f"  {shown(source)} ({state})")
    pending = sum(state in PENDING for state in states.values())
    if pending:
        print(f"{counted(pending, 'change')} in {settings.docs} not indexed yet: run `qa index`.")
    else:
        print(f"Up to date with {settings.docs}.")
    if kept:
        # Deleting keeps the file; say so, or the folder grows where nobody looks.
        where = settings.docs / TRASH
        print(f"{counted(kept, 'deleted document')} kept in {where}: `qa restore` lists them.")
    return EXIT_OK


def _register_query_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    from qa.cli.query import register

    register(commands, common)


def _register_document_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    from qa.cli.documents import register

    register(commands, common)


_EXTRA_COMMANDS: list[Callable[[Any, argparse.ArgumentParser], None]] = [
    _register_document_commands,
    _register_query_commands,
]


if __name__ == "__main__":
    raise SystemExit(main())
