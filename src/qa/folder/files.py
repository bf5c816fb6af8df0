"""The documents folder: adding and deleting files (from the page and `qa add`), and what
changed in it since the index was built. Every name that arrives is untrusted.

Added files land in the documents folder under a cleaned name; they never replace another file
(a "-1", "-2" suffix is added) and a file whose content is already there is refused. Deletes
only touch regular files inside the documents folder.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import unicodedata
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from qa.errors import DocsFolderError, DocumentError, QaError
from qa.ingest.discover import discover, hash_file
from qa.ingest.documents import SUPPORTED_SUFFIXES, unsupported_type
from qa.ingest.limits import Limits
from qa.ingest.sandbox import Reader
from qa.names import NOT_UTF8, utf8_name

if TYPE_CHECKING:
    from qa.index.built import DocumentEntry, Index

MAX_FILES = 20
MAX_NAME_CHARS = 150
ACCEPTED = ", ".join(sorted(SUPPORTED_SUFFIXES))
# Characters Windows or shells treat specially; replaced so a name is safe to copy around.
_RESERVED = re.compile(r'[<>:"|?*\x00-\x1f\x7f]')
_LEADING = re.compile(r"^[\s.\-]+")


class Refused(Exception):
    """One file is not added; the message says why, for the person who uploaded it."""


@dataclass(frozen=True)
class Incoming:
    name: str  # as the client sent it: untrusted
    path: Path  # where the bytes are (Gradio's upload cache, or the file `qa add` was given)
    label: str = ""  # how messages name it, when not by `name` (`qa add` shows the path given)


@dataclass
class UploadResult:
    added: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (name as sent, reason)

    def as_json(self) -> dict[str, object]:
        return {
            "added": self.added,
            "refused": [{"name": name, "reason": reason} for name, reason in self.refused],
        }


def clean_name(raw: str) -> str:
    """A safe file name for the documents folder, or Refused.

    Folder parts are refused rather than stripped: browsers send bare names, so a path is a
    broken or hostile client. Leading dots and dashes are dropped (hidden files are not indexed,
    and "-name" reads as an option in a shell).
    """
    if not utf8_name(raw):
        raise Refused(NOT_UTF8)
    name = unicodedata.normalize("NFC", raw).strip()
    if "/" in name or "\\" in name or name in {".", ".."}:
        raise Refused("file names with a folder path are not accepted")
    name = _LEADING.sub("", _RESERVED.sub("_", name)).strip()
    stem, suffix = os.path.splitext(name)
    if not stem:
        raise Refused("the file name is empty")
    if suffix.lower() not in SUPPORTED_SUFFIXES:
        shown = suffix or "(no extension)"
        raise Refused(f"unsupported file type {shown}; accepted types: {ACCEPTED}")
    return stem[:MAX_NAME_CHARS].rstrip(" .") + suffix.lower()


def save_uploads(
    docs: Path, files: Sequence[Incoming], *, max_bytes: int, limits: Limits | None = None
) -> UploadResult:
    """Check and copy at most MAX_FILES files into `docs` (one upload from the page)."""
    if len(files) > MAX_FILES:
        reason = f"at most {MAX_FILES} files per upload ({len(files)} were sent)"
        return UploadResult(refused=[(f.label or f.name, reason) for f in files])
    return add_files(docs, files, max_bytes=max_bytes, limits=limits)


def add_files(
    docs: Path, files: Sequence[Incoming], *, max_bytes: int, limits: Limits | None = None
) -> UploadResult:
    """Check and copy each file into `docs`; the caller serialises calls (one lock).

    Each file is read as the index build will read it, within `limits` (None: those the QA_*
    variables set), in a reader process: a hostile file costs this process nothing.
    """
    result = UploadResult()
    if not docs.is_dir():
        raise DocsFolderError(f"The documents folder {docs} does not exist.")
    known = content_index(docs)
    with Reader(limits or _limits_from_env()) as reader:
        for item in files:
            try:
                target, digest = _save_one(docs, item, known, max_bytes, reader)
            except Refused as exc:
                result.refused.append((item.label or item.name, str(exc)))
                continue
            known[digest] = target.name  # a second copy in the same upload is a duplicate too
            result.added.append(target.name)
    return result


def _limits_from_env() -> Limits:
    from qa.settings import Settings

    return Limits.from_settings(Settings.from_env())


def content_index(docs: Path) -> dict[str, str]:
    """sha256 -> source name of every document already in the folder."""
    out: dict[str, str] = {}
    for path in discover(docs):
        try:
            out.setdefault(hash_file(path), path.relative_to(docs).as_posix())
        except OSError:
            continue  # unreadable: cannot be a duplicate of anything we could index
    return out


def _save_one(
    docs: Path, item: Incoming, known: dict[str, str], max_bytes: int, reader: Reader
) -> tuple[Path, str]:
    name = clean_name(item.name)
    if not item.path.is_file():
        raise Refused("no such file")
    try:
        size = item.path.stat().st_size
        if size > max_bytes:
            raise Refused(f"too large ({_mb(size)}; the limit is {_mb(max_bytes)})")
        digest = hash_file(item.path)
    except OSError as exc:
        raise Refused(f"cannot be read ({exc.strerror})") from None
    existing = known.get(digest)
    if existing is not None:
        raise Refused(f"same content as the existing document {existing}")
    _check_readable(item.path, Path(name).suffix, reader)
    try:
        return _place(docs, item.path, name), digest
    except OSError as exc:  # the folder is read-only or full
        raise Refused(f"cannot be copied into {docs} ({exc.strerror})") from None


def _check_readable(path: Path, suffix: str, reader: Reader) -> None:
    """Refuse now what the index build would skip later (binary, empty, unreadable PDF, over a
    limit)."""
    probe = path
    if path.suffix.lower() != suffix:  # the extractor is chosen by suffix
        probe = path.with_name(f"probe-{uuid.uuid4().hex}{suffix}")
        shutil.copyfile(path, probe)
    try:
        reader.read(probe, root=probe.parent)
    except DocumentError as exc:
        raise Refused(f"cannot be indexed: {exc}") from None
    finally:
        if probe != path:
            probe.unlink(missing_ok=True)


def _place(docs: Path, source: Path, name: str) -> Path:
    """Copy to a hidden temp file, then link it under the first free name: never overwrites."""
    temp = docs / f".upload-{uuid.uuid4().hex}.tmp"  # hidden: a concurrent build ignores it
    try:
        shutil.copyfile(source, temp)  # inside: a copy cut short by a full disk is removed
        for candidate in _candidates(name):
            target = docs / candidate
            try:
                os.link(temp, target)  # atomic, and fails when the name is taken
            except FileExistsError:
                continue
            return target
    finally:
        temp.unlink(missing_ok=True)
    raise Refused("too many files with this name already")


def _candidates(name: str) -> Iterable[str]:
    stem, suffix = os.path.splitext(name)
    yield name
    for number in range(1, 1000):
        yield f"{stem}-{number}{suffix}"


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


TRASH = ".deleted"  # hidden, so no build reads it; inside docs, so a move is a rename
_STAMP = "%Y%m%dT%H%M%SZ"  # one folder per deletion, named by its time (UTC)


@dataclass(frozen=True)
class Trashed:
    key: str  # "<when>/<source>", what restore_document takes
    source: str  # where it was, and goes back to
    deleted_at: str  # ISO time, UTC


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
    for name in _candidates(datetime.now(UTC).strftime(_STAMP)):
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


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


PENDING = ("new", "changed", "deleted")


@dataclass(frozen=True)
class OnDisk:
    size: int
    modified: float  # seconds since the epoch (st_mtime)


def files_on_disk(docs: Path) -> dict[str, OnDisk]:
    """Every file of the documents folder (relative POSIX path) with its size and modification
    time; empty when the folder is missing."""
    try:
        paths = discover(docs)
    except QaError:
        return {}
    out = {}
    for path in paths:
        try:
            stat = path.stat()
        except OSError:
            continue
        out[path.relative_to(docs).as_posix()] = OnDisk(stat.st_size, stat.st_mtime)
    return out


def document_states(
    index: Index | None, on_disk: Mapping[str, OnDisk], *, docs: Path
) -> dict[str, str]:
    """Per document: "indexed", or one of PENDING, or "skipped: <reason>" for a file the last
    build skipped or of a type no build reads."""
    states: dict[str, str] = {}
    for entry in index.documents if index is not None else ():
        found = on_disk.get(entry.source)
        states[entry.source] = (
            "deleted" if found is None else "changed" if _changed(entry, found, docs) else "indexed"
        )
    skipped = {s["source"]: s["reason"] for s in index.manifest.get("skipped", [])} if index else {}
    for source in sorted(on_disk):
        if source in states:
            continue
        if source not in skipped:  # no build needed to know these
            if not utf8_name(source):
                skipped[source] = NOT_UTF8
            elif Path(source).suffix.lower() not in SUPPORTED_SUFFIXES:
                skipped[source] = unsupported_type(Path(source))
        states[source] = f"skipped: {skipped[source]}" if source in skipped else "new"
    return states


def _changed(entry: DocumentEntry, found: OnDisk, docs: Path) -> bool:
    """Another size is a change; the same size is hashed only when the file was written after
    it was indexed, so a look at a large folder costs a stat per file. (An edit that keeps the
    size and sets an older time, as `cp -p` can, is seen only by `qa index`, which hashes all.)"""
    if found.size != entry.size:
        return True
    if found.modified < datetime.fromisoformat(entry.indexed_at).timestamp() - 1:
        return False  # the stamp is to the second; a second's slack costs one hash at most
    try:
        return hash_file(docs / entry.source) != entry.sha256
    except OSError:
        return True  # unreadable now: the next build will say why
