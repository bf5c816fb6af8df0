"""Deleting documents from the folder, and restoring them: a delete is a move into a hidden TRASH
folder inside the documents folder, so a wrong click loses nothing.

Deletes only touch regular files (or links) inside the documents folder, named by the index or
the folder listing; every name that arrives is untrusted.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from qa.folder.add import Refused, candidates

__all__ = ["TRASH", "Trashed", "delete_document", "restore_document", "trashed"]

TRASH = ".deleted"  # hidden, so no build reads it; inside docs, so a move is a rename
_STAMP = "%Y%m%dT%H%M%SZ"  # one folder per deletion, named by its time (UTC)


@dataclass(frozen=True)
class Trashed:
    key: str  # "<when>/<source>", what restore_document takes
    source: str  # where it was, and goes back to
    deleted_at: str  # ISO time, UTC


def delete_document(docs: Path, source: str, *, allowed: Iterable[str]) -> Path:
    """Move the document `source` (a name the index or the folder listing showed) into the
    hidden TRASH folder inside `docs`, and return where it went: a wrong click loses nothing
    (see restore_document)."""
    if source not in set(allowed):
        raise Refused(f"{source} is not a document in the index")
    path = docs / source
    # The folder holding it must be inside docs; the entry itself is moved, not what a
    # symlink points to.
    inside = path.parent.resolve().is_relative_to(docs.resolve())
    if not inside or path.name in {"", ".", ".."} or Path(source).is_absolute():
        raise Refused(f"{source} is outside the documents folder")
    if not (path.is_symlink() or path.is_file()):
        raise Refused(f"{source} is no longer in the documents folder")
    return _to_trash(docs, path, source)


def _to_trash(docs: Path, path: Path, source: str) -> Path:
    """Into a folder of its own named by the time, under its own relative path, so it can go
    back exactly where it was and never replaces an earlier deleted file."""
    try:
        folder = _new_deletion_folder(docs)
        target = folder / source
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            path.rename(target)
        except OSError:
            _prune(folder)  # no empty deletion left behind
            raise
    except OSError as exc:
        raise Refused(f"{source} could not be moved to {docs / TRASH} ({exc.strerror})") from exc
    return target


def _new_deletion_folder(docs: Path) -> Path:
    (docs / TRASH).mkdir(exist_ok=True)
    for name in candidates(datetime.now(UTC).strftime(_STAMP)):
        with contextlib.suppress(FileExistsError):
            (docs / TRASH / name).mkdir()
            return docs / TRASH / name
    raise Refused("too many deletions this second; try again in a moment")


def trashed(docs: Path) -> list[Trashed]:
    """Files deleted from the page, newest first."""
    out = []
    for folder in sorted((docs / TRASH).glob("*"), reverse=True):
        when = _deleted_at(folder.name)
        if when is None or not folder.is_dir() or folder.is_symlink():
            continue
        for path in sorted(_files_below(folder)):
            source = path.relative_to(folder).as_posix()
            out.append(Trashed(f"{folder.name}/{source}", source, when))
    return out


def restore_document(docs: Path, key: str) -> str:
    """Move a deleted file back where it was; refused when that name is taken again."""
    found = next((t for t in trashed(docs) if t.key == key), None)
    if found is None:
        raise Refused(f"{key} is not among the deleted documents")
    target = docs / found.source
    if target.exists() or target.is_symlink():
        raise Refused(f"{found.source} exists again; rename or delete it, then restore")
    target.parent.mkdir(parents=True, exist_ok=True)
    (docs / TRASH / key).rename(target)
    _prune(docs / TRASH / key.split("/", 1)[0])
    return found.source


def _files_below(folder: Path) -> Iterable[Path]:
    for root, _, names in os.walk(folder):  # links to folders are not followed
        yield from (Path(root) / name for name in names)


def _deleted_at(name: str) -> str | None:
    try:
        when = datetime.strptime(name[:16], _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None
    return when.isoformat()


def _prune(folder: Path) -> None:
    """Remove the emptied time folder (and its emptied subfolders)."""
    for root, _, _ in sorted(os.walk(folder), key=lambda w: -len(w[0])):
        with contextlib.suppress(OSError):
            Path(root).rmdir()
