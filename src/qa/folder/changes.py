"""What changed in the documents folder since the index was built: per document, indexed, new,
changed, deleted or skipped, at the cost of a stat per file (a hash only when a file may have
changed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from qa.errors import QaError
from qa.ingest.discover import discover, hash_file
from qa.ingest.documents import SUPPORTED_SUFFIXES, unsupported_type
from qa.names import NOT_UTF8, utf8_name

if TYPE_CHECKING:
    from qa.index.built import DocumentEntry, Index

__all__ = ["PENDING", "OnDisk", "document_states", "files_on_disk"]

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
