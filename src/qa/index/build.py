"""The indexing pipeline: documents -> passages -> vectors -> a new build, incrementally.

Unchanged documents keep their passages and vectors; the model is loaded only when something
must be embedded. One build at a time per index folder (a lock file), and the live build is
replaced only by a complete new one.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import filelock
import numpy as np

from qa.embed.base import Embedder, model_name
from qa.embed.embedder import load_embedder
from qa.errors import DocsFolderError, DocumentError, IndexBusyError, IndexVersionError, QaError
from qa.index.backend import DEFAULT_BACKEND, backend_kind
from qa.index.built import DocumentEntry, Index, load, save
from qa.index.neighbours import TermVectors, build_term_vectors
from qa.index.store import FORMAT_VERSION, BuildWriter, listed_sources, remove_leftovers
from qa.ingest.chunking import ChunkParams, Chunks, chunk
from qa.ingest.discover import discover, hash_file
from qa.ingest.documents import TYPES_IN_WORDS, Document, Skipped
from qa.ingest.limits import MIB, Limits, mb
from qa.ingest.sandbox import Reader
from qa.ingest.tokens import token_counter
from qa.names import NOT_UTF8, shown, utf8_name
from qa.settings import Settings
from qa.wording import counted

ProgressFn = Callable[[str, int, int], None]  # (stage, done, total)
READ_STAGE = "Reading documents"
EMBED_STAGE = "Embedding passages"
WORDS_STAGE = "Embedding new words"
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


@dataclass(frozen=True)
class _Found:
    source: str
    path: Path
    sha256: str


@dataclass
class _Plan:
    previous: Index | None
    keep: dict[str, DocumentEntry]  # unchanged documents, reused as they are
    read: list[_Found]  # new or changed documents
    added: list[str]
    changed: list[str]
    removed: list[str]
    skipped: list[Skipped]  # unchanged files that were skipped last time too
    forget_skips: bool = False  # a file skipped last time is gone: the manifest must say so
    read_seconds: float = 0.0
    # Names no UTF-8 store can hold: reported on every build, never written to the manifest.
    unnamable: list[Skipped] = field(default_factory=list)

    @property
    def nothing_to_do(self) -> bool:
        return self.previous is not None and not (self.read or self.removed or self.forget_skips)


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
        previous, known = _previous(settings, warnings)
        found = _scan(settings.docs)
        plan = _plan([f for f in found if utf8_name(f.source)], previous, known)
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
        factory = _once(embedder_factory or (lambda: load_embedder(settings)))
        index, embedded = _assemble(settings, plan, documents, factory, progress)
        _check_not_empty(index, settings.docs, plan.skipped + plan.unnamable)
        _write(settings, index, plan.skipped, {f.source: f.sha256 for f in found})
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


def chunk_params(settings: Settings) -> ChunkParams:
    return ChunkParams(
        target_tokens=settings.chunk_tokens, overlap_sentences=settings.chunk_overlap
    )


def _previous(settings: Settings, warnings: list[str]) -> tuple[Index | None, set[str]]:
    """The live build when its passages can be reused (same model and chunking), and the
    documents it holds either way (so a full re-embed reports them as changed, not added)."""
    try:
        previous = load(settings.index)
    except IndexVersionError as exc:
        warnings.append(
            f"the index was written in format version {exc.version} and this qa writes "
            f"version {FORMAT_VERSION}: every document is embedded again"
        )
        return None, listed_sources(settings.index)
    except QaError as exc:
        if (settings.index / "CURRENT").exists():
            warnings.append(f"previous index not reused: {exc}")
        return None, set()
    counter = token_counter(settings.model_path)
    model = previous.manifest["model"]  # a dict: load() checked its dimension
    same_model = model.get("name") == model_name(settings.model_path)
    same_limit = model.get("max_tokens") == counter.max_tokens
    same_chunks = previous.manifest.get("chunking") == chunk_params(settings).as_dict()
    known = {d.source for d in previous.documents}
    if same_model and same_limit and same_chunks:
        return previous, known
    warnings.append("model or chunking changed: every document is embedded again")
    return None, known


def _scan(docs: Path) -> list[_Found]:
    paths = discover(docs)
    if not paths:
        raise DocsFolderError(
            f"No documents in {docs}. Add {TYPES_IN_WORDS} files there, "
            "or pass --docs DIR (or set QA_DOCS)."
        )
    found = []
    for path in paths:
        try:
            found.append(_Found(path.relative_to(docs).as_posix(), path, hash_file(path)))
        except OSError:
            found.append(_Found(path.relative_to(docs).as_posix(), path, ""))
    return found


def _plan(found: list[_Found], previous: Index | None, known: set[str]) -> _Plan:
    old = {d.source: d for d in previous.documents} if previous else {}
    old_skips = {s["source"]: s for s in previous.manifest.get("skipped", [])} if previous else {}
    plan = _Plan(previous, {}, [], [], [], [], [])
    for item in found:
        entry, skip = old.get(item.source), old_skips.get(item.source)
        if entry is not None and entry.sha256 == item.sha256:
            plan.keep[item.source] = entry
        elif skip is not None and skip["sha256"] == item.sha256 and item.sha256:
            plan.skipped.append(Skipped(item.source, skip["reason"]))
        else:
            plan.read.append(item)
            (plan.changed if item.source in known else plan.added).append(item.source)
    present = {f.source for f in found}
    plan.removed = sorted(s for s in known if s not in present)
    plan.forget_skips = bool(set(old_skips) - present)
    return plan


def _read(
    items: list[_Found], docs: Path, limits: Limits, progress: ProgressFn | None
) -> tuple[list[Document], list[Skipped]]:
    """Every item within the limits (see qa.ingest.sandbox); one that breaks them is skipped."""
    documents, skipped = [], []
    with Reader(limits) as reader:
        for done, item in enumerate(items, 1):
            if progress:
                _announce_large(item, progress)
            try:
                documents.append(reader.read(item.path, root=docs))
            except DocumentError as exc:
                skipped.append(Skipped(item.source, str(exc)))
            if progress:
                progress(READ_STAGE, done, len(items))
    return documents, skipped


def _announce_large(item: _Found, progress: ProgressFn) -> None:
    try:
        size = item.path.stat().st_size
    except OSError:
        return
    if size >= LARGE_FILE_BYTES:
        progress(f"Reading {item.source} ({mb(size)})", 0, 0)


def _assemble(
    settings: Settings,
    plan: _Plan,
    documents: list[Document],
    factory: Callable[[], Embedder],
    progress: ProgressFn | None,
) -> tuple[Index, int]:
    counter = token_counter(settings.model_path)
    params = chunk_params(settings)
    fresh = {d.source: (d, chunk(d, counter=counter, params=params)) for d in documents}
    vectors, dimension = _embed(fresh, factory, progress, plan.previous)
    parts = _Parts()
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for source in sorted(set(plan.keep) | set(fresh)):
        if source in plan.keep:
            assert plan.previous is not None
            parts.reuse(plan.previous, plan.keep[source])
        else:
            document, chunks = fresh[source]
            parts.add(document, chunks, vectors[source], now)
    embedded = sum(len(c.passages) for _, c in fresh.values())
    index = parts.index(settings, dimension, counter.max_tokens)
    term_vectors = build_term_vectors(
        index.backend.passage_counts(),
        lambda: (p.embed_text for p in index.passages),
        lambda words: _embed_reporting(factory(), words, WORDS_STAGE, progress),
        previous=plan.previous.term_vectors if plan.previous else None,
        dimension=dimension,
    )
    return replace(index, term_vectors=term_vectors), embedded


def _once(factory: Callable[[], Embedder]) -> Callable[[], Embedder]:
    """The model is loaded at most once per build, for passages and words alike."""
    made: list[Embedder] = []

    def get() -> Embedder:
        if not made:
            made.append(factory())
        return made[0]

    return get


def _embed_reporting(
    embedder: Embedder, texts: list[str], stage: str, progress: ProgressFn | None
) -> np.ndarray:
    """The texts' vectors, reporting (stage, done, total) after each batch."""
    done = 0

    def advance(count: int) -> None:
        nonlocal done
        done += count
        if progress:
            progress(stage, done, len(texts))

    return embedder.embed(texts, progress=advance)


def _embed(
    fresh: dict[str, tuple[Document, Chunks]],
    factory: Callable[[], Embedder],
    progress: ProgressFn | None,
    previous: Index | None,
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], int]:
    """Passages (with their heading) and sentences of new documents, in one length-sorted run."""
    texts: list[str] = []
    for document, chunks in fresh.values():
        texts += [p.embed_text for p in chunks.passages]
        texts += [s.embed_text(document.text) for s in chunks.sentences]
    if not texts:
        dimension = int(previous.manifest["model"]["dimension"]) if previous else 0
        return {}, dimension
    embedder = factory()
    matrix = _embed_reporting(embedder, texts, EMBED_STAGE, progress)
    out, row = {}, 0
    for source, (_, chunks) in fresh.items():
        n, m = len(chunks.passages), len(chunks.sentences)
        out[source] = (matrix[row : row + n], matrix[row + n : row + n + m])
        row += n + m
    return out, embedder.dimension


class _Parts:
    """Accumulates documents in order, then freezes them into an Index."""

    def __init__(self) -> None:
        self.entries: list[DocumentEntry] = []
        self.passages: list[Any] = []
        self.passage_vectors: list[np.ndarray] = []
        self.sentences: list[np.ndarray] = []
        self.sentence_vectors: list[np.ndarray] = []

    def reuse(self, previous: Index, entry: DocumentEntry) -> None:
        (p_lo, p_hi), (s_lo, s_hi) = entry.passages, entry.sentences
        spans = previous.sentences[s_lo:s_hi, 1:]
        self._append(
            entry,
            previous.passages[p_lo:p_hi],
            previous.passage_vectors[p_lo:p_hi],
            spans,
            previous.sentence_vectors[s_lo:s_hi],
        )

    def add(
        self,
        document: Document,
        chunks: Chunks,
        vectors: tuple[np.ndarray, np.ndarray],
        now: str,
    ) -> None:
        entry = DocumentEntry(
            document.source,
            document.sha256,
            document.size,
            document.text,
            document.pages,
            now,
            document.warning,
            (0, 0),
            (0, 0),
        )
        spans = np.array([(s.start, s.end, s.is_heading) for s in chunks.sentences], dtype=np.int64)
        self._append(entry, chunks.passages, vectors[0], spans.reshape(-1, 3), vectors[1])

    def _append(
        self,
        entry: DocumentEntry,
        passages: list[Any],
        passage_vectors: np.ndarray,
        spans: np.ndarray,
        sentence_vectors: np.ndarray,
    ) -> None:
        p_lo, s_lo = len(self.passages), sum(len(s) for s in self.sentences)
        doc_row = np.full((len(spans), 1), len(self.entries), dtype=np.int64)
        self.sentences.append(np.hstack([doc_row, spans]))
        self.passages.extend(passages)
        self.passage_vectors.append(passage_vectors)
        self.sentence_vectors.append(sentence_vectors)
        self.entries.append(
            replace(
                entry,
                passages=(p_lo, len(self.passages)),
                sentences=(s_lo, s_lo + len(spans)),
            )
        )

    def index(self, settings: Settings, dimension: int, max_tokens: int) -> Index:
        passage_vectors = _stack(self.passage_vectors, dimension)
        manifest = {
            "model": {
                "name": model_name(settings.model_path),
                "dimension": dimension,
                "max_tokens": max_tokens,
                "backend": settings.backend,
            },
            "chunking": chunk_params(settings).as_dict(),
        }
        return Index(
            manifest=manifest,
            documents=self.entries,
            passages=self.passages,
            passage_vectors=passage_vectors,
            sentences=np.vstack(self.sentences) if self.sentences else np.zeros((0, 4), np.int64),
            sentence_vectors=_stack(self.sentence_vectors, dimension),
            backend=backend_kind(DEFAULT_BACKEND).build(
                passage_vectors, [p.embed_text for p in self.passages]
            ),
            term_vectors=TermVectors.empty(dimension),
        )


def _stack(arrays: list[np.ndarray], dimension: int) -> np.ndarray:
    if not arrays:
        return np.zeros((0, dimension), dtype=np.float32)
    if len(arrays) == 1:  # one document (a huge one, say): its rows as they are, not a copy
        return np.ascontiguousarray(arrays[0], dtype=np.float32)
    return np.ascontiguousarray(np.vstack(arrays), dtype=np.float32)


def _check_not_empty(index: Index, docs: Path, skipped: list[Skipped]) -> None:
    if index.documents:
        return
    reasons = "; ".join(f"{s.source}: {s.reason}" for s in skipped[:3])
    raise DocsFolderError(
        f"Nothing in {docs} could be indexed ({counted(len(skipped), 'file')} skipped: "
        f"{reasons}). Add {TYPES_IN_WORDS} files with text in them."
    )


def _write(
    settings: Settings, index: Index, skipped: list[Skipped], hashes: dict[str, str]
) -> None:
    """Write and commit a new build; `hashes` are the scan's, so a skip is remembered for the
    bytes that were actually examined (a file fixed a moment later is read again next time)."""
    manifest = {
        **index.manifest,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "counts": {
            "documents": len(index.documents),
            "passages": len(index.passages),
            "sentences": len(index.sentences),
        },
        "libraries": _library_versions(),
        "documents": [d.record(with_text=False) for d in index.documents],
        "skipped": [
            {
                "source": s.source,
                "reason": s.reason,
                "sha256": hashes.get(s.source, ""),
            }
            for s in skipped
        ],
    }
    try:
        writer = BuildWriter(settings.index)
    except OSError as exc:
        raise _cannot_write(settings.index, exc) from exc
    try:
        save(writer, index)
        writer.commit(manifest)
    except BaseException as exc:
        writer.abort()
        if isinstance(exc, OSError):
            raise _cannot_write(settings.index, exc) from exc
        raise


def _cannot_write(index_dir: Path, exc: OSError) -> QaError:
    return QaError(
        f"Cannot write the index in {index_dir}: {exc.strerror or exc}. Free some disk space or "
        "make the folder writable, then run `qa index` again."
    )


def _library_versions() -> dict[str, str]:
    versions = {}
    for name in (
        "qa",
        "numpy",
        "faiss-cpu",
        "tokenizers",
        "onnxruntime",
        "sentence-transformers",
    ):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            continue
    versions["python"] = sys.version.split()[0]
    return versions


def _report(
    documents: Any,
    plan: _Plan,
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
