"""The index as one value in memory: documents, passages, vectors, and the search backend.

Loaded once and never mutated, so a server can swap a new one in while queries run on the old.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any

import numpy as np

from qa.errors import IndexCorruptError
from qa.index.backend import DEFAULT_BACKEND, IndexBackend, backend_kind
from qa.index.neighbours import TermVectors
from qa.index.store import RUN_QA_INDEX, Build, BuildWriter, open_build
from qa.ingest.chunking import Passage

SENTENCE_COLUMNS = 4  # document row, start, end, kind (SentenceKind)


class SentenceKind(IntEnum):
    """The last column of Index.sentences: what a sentence-like span is, for quoting it."""

    PROSE = 0
    HEADING = 1  # a heading or title-like line: names a topic, rarely answers
    CODE = 2  # (part of) a code block: quoted only as code
    TERM = 3  # a definition term or API signature: heads its description


@dataclass(frozen=True)
class DocumentEntry:
    source: str
    sha256: str
    size: int
    text: str
    pages: tuple[int, ...]
    indexed_at: str
    warning: str | None
    passages: tuple[int, int]  # rows [lo, hi) in Index.passages
    sentences: tuple[int, int]  # rows [lo, hi) in Index.sentences
    ocr_pages: tuple[int, ...] = ()  # 1-based pages whose text OCR read

    def page_at(self, offset: int) -> int | None:
        if not self.pages:
            return None
        return sum(1 for start in self.pages if start <= offset)

    def record(self, *, with_text: bool) -> dict[str, Any]:
        row: dict[str, Any] = {
            "source": self.source,
            "sha256": self.sha256,
            "size": self.size,
            "pages": list(self.pages),
            "indexed_at": self.indexed_at,
            "warning": self.warning,
            "passages": list(self.passages),
            "sentences": list(self.sentences),
        }
        if self.ocr_pages:  # optional: rows written before OCR have none
            row["ocr_pages"] = list(self.ocr_pages)
        return {**row, "text": self.text} if with_text else row


@dataclass(frozen=True)
class Index:
    manifest: dict[str, Any]
    documents: list[DocumentEntry]
    passages: list[Passage]
    passage_vectors: np.ndarray  # float32 (N, d), normalised
    sentences: np.ndarray  # int64 (M, 4): document row, start, end, kind (SentenceKind)
    sentence_vectors: np.ndarray  # float32 (M, d), normalised
    backend: IndexBackend  # dense and keyword retrieval over the passage rows (qa.index.backend)
    term_vectors: TermVectors  # for question words no passage holds (qa.index.neighbours)
    build: str = ""  # the build folder it was loaded from; "" for one not yet written

    @property
    def dense(self) -> IndexBackend:
        """Dense top-k as `index.dense.search(...)` read before the backend had a name."""
        return self.backend

    @property
    def model_name(self) -> str:
        return str(self.manifest["model"]["name"])

    def document(self, source: str) -> DocumentEntry | None:
        return next((d for d in self.documents if d.source == source), None)

    def summary(self) -> dict[str, Any]:
        """What `qa status` and the page say about the index."""
        model = self.manifest.get("model", {})
        counts = self.manifest.get("counts", {})
        return {
            "documents": counts.get("documents", len(self.documents)),
            "passages": counts.get("passages", len(self.passages)),
            "model": model.get("name"),
            "backend": model.get("backend"),
            "built_at": self.manifest.get("built_at"),
        }


def save(writer: BuildWriter, index: Index) -> None:
    writer.write_jsonl("documents.jsonl", (d.record(with_text=True) for d in index.documents))
    writer.write_jsonl("passages.jsonl", (_passage_row(p) for p in index.passages))
    writer.write_array("passage_vectors.npy", index.passage_vectors)
    writer.write_array("sentences.npy", index.sentences)
    writer.write_array("sentence_vectors.npy", index.sentence_vectors)
    index.backend.save(writer)
    writer.write_json("terms.json", list(index.term_vectors.terms))
    writer.write_array("term_vectors.npy", index.term_vectors.vectors)


def load(index_dir: Path) -> Index:
    """Load and verify the live build; IndexMissingError / IndexCorruptError say what to do."""
    build = open_build(index_dir)
    try:
        index = _read(build)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise IndexCorruptError(
            f"The index in {index_dir} cannot be read ({type(exc).__name__}). {RUN_QA_INDEX}"
        ) from exc
    _check_consistent(index, index_dir)
    return index


def _read(build: Build) -> Index:
    return Index(
        manifest=build.manifest,
        documents=[_document(row) for row in build.jsonl("documents.jsonl")],
        passages=[_passage(row) for row in build.jsonl("passages.jsonl")],
        passage_vectors=build.array("passage_vectors.npy"),
        sentences=build.array("sentences.npy"),
        sentence_vectors=build.array("sentence_vectors.npy"),
        # Every build so far is FAISS + BM25; an engine of another kind would be named in the
        # manifest and looked up here.
        backend=backend_kind(DEFAULT_BACKEND).open(build),
        term_vectors=TermVectors(tuple(build.json("terms.json")), build.array("term_vectors.npy")),
        build=build.path.name,
    )


def _check_consistent(index: Index, index_dir: Path) -> None:
    n, m = len(index.passages), len(index.sentences)
    model = index.manifest.get("model")
    model = model if isinstance(model, dict) else {}
    shapes_ok = (
        len(index.backend) == n
        and index.passage_vectors.shape == (n, model.get("dimension"))
        and index.sentence_vectors.shape == (m, model.get("dimension"))
        and index.sentences.shape == (m, SENTENCE_COLUMNS)
        and index.term_vectors.vectors.shape
        == (len(index.term_vectors.terms), model.get("dimension"))
    )
    if not shapes_ok:
        raise IndexCorruptError(f"The index files in {index_dir} do not agree. {RUN_QA_INDEX}")


def _passage_row(p: Passage) -> dict[str, Any]:
    return {
        "id": p.id,
        "source": p.source,
        "start": p.start,
        "end": p.end,
        "lines": list(p.lines),
        "page": p.page,
        "heading": p.heading,
        "text": p.text,
    }


_PASSAGE_FIELDS = ("id", "source", "start", "end", "text", "heading", "page")
_DOCUMENT_FIELDS = ("source", "sha256", "size", "text", "indexed_at", "warning")


def _passage(row: dict[str, Any]) -> Passage:
    fields = {name: row[name] for name in _PASSAGE_FIELDS}
    return Passage(**fields, lines=_pair(row["lines"]))


def _document(row: dict[str, Any]) -> DocumentEntry:
    fields = {name: row[name] for name in _DOCUMENT_FIELDS}
    return DocumentEntry(
        **fields,
        pages=tuple(row["pages"]),
        passages=_pair(row["passages"]),
        sentences=_pair(row["sentences"]),
        ocr_pages=tuple(int(p) for p in row.get("ocr_pages", ())),
    )


def _pair(values: list[int]) -> tuple[int, int]:
    # JSON gives lists; the dataclasses hold (first, last) pairs. A row with another length is
    # a damaged file: load() reports it as such.
    first, last = values
    return first, last
