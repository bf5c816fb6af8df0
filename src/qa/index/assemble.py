"""Embedding new documents and assembling the next Index: unchanged documents keep their rows and
vectors, new ones are chunked and embedded in one length-sorted run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

from qa.embed.base import Embedder, model_name
from qa.index.backend import DEFAULT_BACKEND, backend_kind
from qa.index.built import DocumentEntry, Index, SentenceKind
from qa.index.neighbours import TermVectors, build_term_vectors
from qa.index.plan import Plan, chunk_params
from qa.ingest.chunking import Chunks, Sentence, chunk
from qa.ingest.documents import Document
from qa.ingest.tokens import token_counter
from qa.settings import Settings

ProgressFn = Callable[[str, int, int], None]  # (stage, done, total)
EMBED_STAGE = "Embedding passages"
WORDS_STAGE = "Embedding new words"


def assemble(
    settings: Settings,
    plan: Plan,
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


def once(factory: Callable[[], Embedder]) -> Callable[[], Embedder]:
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
        self.sentence_count = 0  # a running total: summing the parts per document is quadratic

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
            document.ocr_pages,
        )
        spans = np.array([(s.start, s.end, _kind(s)) for s in chunks.sentences], dtype=np.int64)
        self._append(entry, chunks.passages, vectors[0], spans.reshape(-1, 3), vectors[1])

    def _append(
        self,
        entry: DocumentEntry,
        passages: list[Any],
        passage_vectors: np.ndarray,
        spans: np.ndarray,
        sentence_vectors: np.ndarray,
    ) -> None:
        p_lo, s_lo = len(self.passages), self.sentence_count
        doc_row = np.full((len(spans), 1), len(self.entries), dtype=np.int64)
        self.sentences.append(np.hstack([doc_row, spans]))
        self.sentence_count += len(spans)
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


def _kind(sentence: Sentence) -> SentenceKind:
    if sentence.is_code:
        return SentenceKind.CODE
    if sentence.is_term:
        return SentenceKind.TERM
    return SentenceKind.HEADING if sentence.is_heading else SentenceKind.PROSE
