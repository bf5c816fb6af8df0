"""`qa delete` and `qa restore`: documents out of the folder and back, as the page's Delete and
Restore do. Nothing is lost: a deleted file waits in the folder's hidden .deleted/."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from qa.folder.add import Refused
from qa.folder.changes import files_on_disk
from qa.folder.trash import TRASH, Trashed, delete_document, restore_document, trashed
from qa.ingest.discover import check_folder
from qa.names import shown
from qa.settings import Settings
from qa.wording import human_time

EXIT_OK, EXIT_ERROR = 0, 1


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    delete = commands.add_parser(
        "delete",
        parents=[common],
        help="move documents into the folder's .deleted/, then index",
    )
    delete.add_argument(
        "names", nargs="+", metavar="NAME", help="a document as `qa status` names it, or its path"
    )
    restore = commands.add_parser(
        "restore", parents=[common], help="list deleted documents, or put them back, then index"
    )
    restore.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="a deleted document (its latest deletion) or a key from the list; none: list them",
    )
    for parser, run in ((delete, run_delete), (restore, run_restore)):
        parser.add_argument("--no-index", action="store_true", help="move only; index later")
        parser.add_argument("--json", action="store_true", help="end with one JSON line")
        parser.set_defaults(run=run)


def run_delete(args: argparse.Namespace, settings: Settings) -> int:
    check_folder(settings.docs)
    present = files_on_disk(settings.docs)
    deleted, refused = [], []
    for name in args.names:
        source = source_name(name, settings.docs)
        try:
            if source not in present:
                raise Refused(f"no such document in {settings.docs}")
            kept = delete_document(settings.docs, source, allowed=present)
        except Refused as exc:
            refused.append((name, str(exc)))
            print(f"Not deleted: {shown(name)}: {exc}", file=sys.stderr)
            continue
        deleted.append({"source": source, "kept": str(kept)})
        name = shown(source)
        print(f"Deleted {name} (kept as {shown(str(kept))}; `qa restore {name}` puts it back)")
    return _finish(args, settings, {"deleted": deleted}, refused)


def run_restore(args: argparse.Namespace, settings: Settings) -> int:
    check_folder(settings.docs)
    waiting = trashed(settings.docs)
    if not args.names:
        return _list(args, settings, waiting)
    restored, refused = [], []
    for name in args.names:
        try:
            source = restore_document(settings.docs, _key(name, waiting, settings.docs))
        except Refused as exc:
            refused.append((name, str(exc)))
            print(f"Not restored: {shown(name)}: {exc}", file=sys.stderr)
            continue
        waiting = trashed(settings.docs)
        restored.append(source)
        print(f"Restored {shown(source)}")
    return _finish(args, settings, {"restored": restored}, refused)


def source_name(name: str, docs: Path) -> str:
    """A path to a file inside the documents folder, as its document name; any other name is
    taken as a document name already ("notes.txt", "sub/notes.txt"). Links are not followed:
    a linked document is named by where the link sits."""
    path = Path(os.path.abspath(name))
    root = Path(os.path.abspath(docs))
    if path.is_relative_to(root) and path != root:
        return path.relative_to(root).as_posix()
    return Path(name).as_posix()


def _key(name: str, waiting: list[Trashed], docs: Path) -> str:
    """A key from the list as it is; a document name: its latest deletion."""
    if any(item.key == name for item in waiting):
        return name
    source = source_name(name, docs)
    latest = next((item for item in waiting if item.source == source), None)
    if latest is None:
        raise Refused(f"not among the deleted documents in {docs / TRASH}; `qa restore` lists them")
    return latest.key


def _list(args: argparse.Namespace, settings: Settings, waiting: list[Trashed]) -> int:
    if args.json:
        items = [{"key": t.key, "source": t.source, "deleted_at": t.deleted_at} for t in waiting]
        print(json.dumps({"deleted": items}, ensure_ascii=False))
    elif not waiting:
        print(f"No deleted documents in {settings.docs / TRASH}.")
    else:
        print(f"Deleted documents in {settings.docs / TRASH}, newest first:")
        for item in waiting:
            print(f"  {shown(item.source)} (deleted {human_time(item.deleted_at)}; key {item.key})")
    return EXIT_OK


def _finish(
    args: argparse.Namespace,
    settings: Settings,
    done: dict[str, list[Any]],
    refused: list[tuple[str, str]],
) -> int:
    """Index what moved (unless --no-index), print the JSON line; exit 1 when any was refused."""
    from qa.cli.building import build_reporting

    moved = any(done.values())
    report = build_reporting(settings) if moved and not args.no_index else None
    if args.json:
        refusals = [{"name": name, "reason": reason} for name, reason in refused]
        print(json.dumps({**done, "refused": refusals, "index": report}, ensure_ascii=False))
    return EXIT_ERROR if refused else EXIT_OK
