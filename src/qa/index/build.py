"""The indexing pipeline: documents -> passages -> vectors -> a new build, incrementally.

Unchanged documents keep their passages and vectors; the model is loaded only when something
must be embedded. One build at a time per index folder (a lock file), and the live build is
replaced only by a complete new one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import filelock

from qa.embed.base import Embedder
from qa.embed.embedder import load_embedder
from qa.errors import DocsFolderError, DocumentError, IndexBusyError, SetupError
from qa.index.assemble import ProgressFn, assemble, once
from qa.index.built import Index
from qa.index.plan import Found, Plan, plan_changes, previous_build, scan
from qa.index.store import remove_leftovers
from qa.index.write import write_build
from qa.ingest.discover import discover
from qa.ingest.documents import TYPES_IN_WORDS, Document, Skipped
from qa.ingest.limits import MIB, Limits, mb
from qa.ingest.sandbox import Reader
from qa.ingest.text import OnPage
from qa.names import NOT_UTF8, shown, utf8_name
from qa.settings import Settings
from qa.wording import counted

READ_STAGE = "Reading documents"
LARGE_FILE_BYTES = 4 * MIB  # named in the progress before it is read: it may take a while


@dataclass(frozen=True)
class BuildReport:
    documents: int
    added: list[str]
    changed: list[str]
    removed: list[str]
    skipped: list[Skipped]
    passages: int
    embedded: int  # passages embedded in this run
    seconds: float
    built: bool  # False when nothing changed and the live build was kept
    warnings: list[str] = field(default_factory=list)
    read_seconds: float = 0.0  # of `seconds`, reading documents (the rest: chunking, embedding)
    waited: float = 0.0  # seconds spent waiting for another build's lock, not in `seconds`

    def as_json(self) -> dict[str, Any]:
        return {
            "documents": self.documents,
            "added": self.added,
            "changed": self.changed,
            "removed": self.removed,
            "skipped": [s.source for s in self.skipped],
            "skip_reasons": {s.source: s.reason for s in self.skipped},
            "passages": self.passages,
            "embedded": self.embedded,
            "seconds": round(self.seconds, 3),
            "read_seconds": round(self.read_seconds, 3),
            "built": self.built,
            "warnings": self.warnings,
            "waited": round(self.waited, 3),
        }


def build_index(
    settings: Settings,
    *,
    embedder_factory: Callable[[], Embedder] | None = None,
    progress: ProgressFn | None = None,
    lock_wait: float = 600.0,
) -> BuildReport:
    if not settings.docs.is_dir():
        discover(settings.docs)  # raises DocsFolderError before an index folder is created
    asked = time.perf_counter()
    with build_lock(settings.index, wait=lock_wait, progress=progress):
        started = time.perf_counter()
        warnings: list[str] = []
        previous, known = previous_build(settings, warnings)
        found = scan(settings.docs)
        plan = plan_changes([f for f in found if utf8_name(f.source)], previous, known)
        plan.unnamable = [
            Skipped(shown(f.source), NOT_UTF8) for f in found if not utf8_name(f.source)
        ]
        if plan.nothing_to_do:
            remove_leftovers(settings.index)  # of a build killed earlier
            report = _report(plan.keep.values(), plan, 0, started, built=False, warnings=warnings)
            return replace(report, waited=started - asked)
        reading, limits = time.perf_counter(), Limits.from_settings(settings)
        documents, skipped = _read(plan.read, settings.docs, limits, progress)
        plan.read_seconds = time.perf_counter() - reading
        plan.skipped.extend(skipped)
        factory = once(embedder_factory or (lambda: load_embedder(settings)))
        index, embedded = assemble(settings, plan, documents, factory, progress)
        _check_not_empty(index, settings.docs, plan.skipped + plan.unnamable)
        write_build(settings, index, plan.skipped, {f.source: f.sha256 for f in found})
        warnings += [f"{shown(d.source)}: {d.warning}" for d in documents if d.warning]
        report = _report(index.documents, plan, embedded, started, built=True, warnings=warnings)
        return replace(report, waited=started - asked)


@contextmanager
def build_lock(index_dir: Path, *, wait: float, progress: ProgressFn | None) -> Iterator[None]:
    index_dir.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(index_dir / ".lock"))
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        if progress:
            progress("Waiting for another build of this index to finish", 0, 0)
        try:
            lock.acquire(timeout=wait)
        except filelock.Timeout:
            raise IndexBusyError(
                f"Another build of {index_dir} is still running after {wait:g} s. "
                "Wait for it to finish, then run `qa index` again."
            ) from None
    try:
        yield
    finally:
        lock.release()


def _read(
    items: list[Found], docs: Path, limits: Limits, progress: ProgressFn | None
) -> tuple[list[Document], list[Skipped]]:
    """Every item within the limits (see qa.ingest.sandbox); one that breaks them is skipped."""
    documents, skipped = [], []
    with Reader(limits) as reader:
        for done, item in enumerate(items, 1):
            if progress:
                _announce_large(item, progress)
            try:
                documents.append(
                    reader.read(item.path, root=docs, on_page=_ocr_progress(item, progress))
                )
            except DocumentError as exc:
                skipped.append(Skipped(item.source, str(exc), retry=isinstance(exc, SetupError)))
            if progress:
                progress(READ_STAGE, done, len(items))
    return documents, skipped


def _ocr_progress(item: Found, progress: ProgressFn | None) -> OnPage | None:
    """Pages read by OCR as progress: the file and its page count named first (a line, terminal
    or not: OCR takes seconds a page), then a bar of its pages."""
    if progress is None:
        return None

    def on_page(done: int, total: int) -> None:
        if done == 0:
            progress(f"Reading {item.source} by OCR ({counted(total, 'page')})", 0, 0)
        progress(f"OCR of {item.source}", done, total)

    return on_page


def _announce_large(item: Found, progress: ProgressFn) -> None:
    try:
        size = item.path.stat().st_size
    except OSError:
        return
    if size >= LARGE_FILE_BYTES:
        progress(f"Reading {item.source} ({mb(size)})", 0, 0)


def _check_not_empty(index: Index, docs: Path, skipped: list[Skipped]) -> None:
    if index.documents:
        return
    reasons = "; ".join(f"{s.source}: {s.reason}" for s in skipped[:3])
    raise DocsFolderError(
        f"Nothing in {docs} could be indexed ({counted(len(skipped), 'file')} skipped: "
        f"{reasons}). Add {TYPES_IN_WORDS} files with text in them."
    )


def _report(
    documents: Any,
    plan: Plan,
    embedded: int,
    started: float,
    *,
    built: bool,
    warnings: list[str],
) -> BuildReport:
    indexed = {d.source for d in documents}
    dropped = [s for s in plan.changed if s not in indexed]  # changed into something unreadable
    passages = sum(d.passages[1] - d.passages[0] for d in documents)
    return BuildReport(
        documents=len(indexed),
        added=[s for s in plan.added if s in indexed],
        changed=[s for s in plan.changed if s in indexed],
        removed=sorted(plan.removed + dropped),
        skipped=sorted(plan.skipped + plan.unnamable, key=lambda s: s.source),
        passages=passages,
        embedded=embedded,
        seconds=time.perf_counter() - started,
        built=built,
        warnings=warnings,
        read_seconds=plan.read_seconds,
    )
