"""Adding files to the documents folder (from the page and `qa add`). Every name that arrives is
untrusted.

Added files land in the documents folder under a cleaned name; they never replace another file
(a "-1", "-2" suffix is added) and a file whose content is already there is refused. Each is read
first, as a build would, in a reader process: what a build would skip is refused now.
"""

from __future__ import annotations

import os
import re
import shutil
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from qa.errors import DocsFolderError, DocumentError
from qa.ingest.discover import discover, hash_file
from qa.ingest.documents import SUPPORTED_SUFFIXES
from qa.ingest.limits import Limits
from qa.ingest.sandbox import Reader
from qa.names import NOT_UTF8, utf8_name

__all__ = [
    "ACCEPTED",
    "MAX_FILES",
    "Incoming",
    "Refused",
    "UploadResult",
    "add_files",
    "candidates",
    "clean_name",
    "content_index",
    "save_uploads",
]

MAX_FILES = 20
MAX_NAME_CHARS = 150
ACCEPTED = ", ".join(sorted(SUPPORTED_SUFFIXES))
# Characters Windows or shells treat specially; replaced so a name is safe to copy around.
_RESERVED = re.compile(r'[<>:"|?*\x00-\x1f\x7f]')
_LEADING = re.compile(r"^[\s.\-]+")


class Refused(Exception):
    """One file is not added, deleted or restored; the message says why, for the person asking."""


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
        for candidate in candidates(name):
            target = docs / candidate
            try:
                os.link(temp, target)  # atomic, and fails when the name is taken
            except FileExistsError:
                continue
            return target
    finally:
        temp.unlink(missing_ok=True)
    raise Refused("too many files with this name already")


def candidates(name: str) -> Iterable[str]:
    stem, suffix = os.path.splitext(name)
    yield name
    for number in range(1, 1000):
        yield f"{stem}-{number}{suffix}"


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"
