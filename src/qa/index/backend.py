"""The search engine behind an index: what the query stage asks of dense and keyword retrieval.

Rows are passage rows (Index.passages); every array indexed by row has one entry per passage.
A build makes a backend whole from its passages (`BackendKind.build`) and writes it into the
build folder (`IndexBackend.save`); a reader opens it from there (`BackendKind.open`). Nothing
in qa.query sees how an engine stores or scores: FAISS + numpy BM25 (qa.index.faiss_backend)
is one implementation, selected by name in `backend_kind`.

An engine that keeps its rows across builds (an ANN server upserting and deleting by source, or
an index grown by segments) implements `build` against what it already holds and answers the
same calls; the row filter becomes its filter on the source field, as a document's passages
are one contiguous range of rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from qa.index.keyword import Terms
from qa.index.neighbours import StandIns
from qa.index.store import Build, BuildWriter

DEFAULT_BACKEND = "faiss"


@runtime_checkable
class IndexBackend(Protocol):
    """Dense (inner product on normalised vectors) and keyword (BM25) retrieval over rows."""

    def __len__(self) -> int:
        """How many passage rows it holds."""
        ...

    def search(
        self, queries: np.ndarray, k: int, *, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Dense top-k: (scores, rows), each (len(queries), k), best first; only rows in
        `allowed` when given; rows of -1 pad when fewer match."""
        ...

    def keyword_scores(self, terms: Terms) -> np.ndarray:
        """BM25 score of every row, float32 (len(self),); 0 where no term matches."""
        ...

    def coverage(
        self, terms: Terms, *, stand_ins: StandIns | None = None
    ) -> tuple[np.ndarray, float]:
        """Per row, the share of the terms' content weight (weight x idf) it holds, stand-ins
        counted at their credit; and the share the whole index holds (real terms only)."""
        ...

    def content_shares(self, terms: Terms) -> dict[str, float]:
        """Each content term (question words left out) with its share of weight x idf."""
        ...

    def passage_counts(self) -> Mapping[str, int]:
        """Every term some row holds, with how many rows hold it."""
        ...

    def save(self, writer: BuildWriter) -> None:
        """Write its files into a build being written."""
        ...


class BackendKind(Protocol):
    """How an engine's backend is made: whole from a build's passages, or opened from a build."""

    def build(self, vectors: np.ndarray, texts: Sequence[str]) -> IndexBackend:
        """From every passage's vector (float32 (N, d), normalised) and keyword text."""
        ...

    def open(self, build: Build) -> IndexBackend:
        """From a build folder it saved; raises what reading the files raises."""
        ...


def _faiss() -> BackendKind:
    # Imported when asked for: an engine's client library loads only when that engine is used.
    from qa.index.faiss_backend import FaissKind

    return FaissKind()


BACKENDS: dict[str, Callable[[], BackendKind]] = {"faiss": _faiss}


def backend_kind(name: str = DEFAULT_BACKEND) -> BackendKind:
    """The engine registered under `name`; ValueError names the ones there are."""
    make = BACKENDS.get(name)
    if make is None:
        known = ", ".join(sorted(BACKENDS))
        raise ValueError(f"No index backend named {name!r}; there is {known}.")
    return make()
