"""The first index backend: FAISS exact inner product for dense, numpy BM25 for keywords.

Its files are those every build has had: passages.faiss and keywords.{vocab.json, pointers,
rows, counts, lengths}.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from qa.index.dense import VectorIndex
from qa.index.keyword import KeywordIndex, Terms
from qa.index.neighbours import StandIns
from qa.index.store import Build, BuildWriter

DENSE_FILE = "passages.faiss"
KEYWORD_ARRAYS = ("pointers", "rows", "counts", "lengths")


@dataclass(frozen=True)
class FaissBackend:
    vectors: VectorIndex
    keywords: KeywordIndex

    def __post_init__(self) -> None:
        # Each half is checksummed on its own; a build whose halves disagree is damaged.
        if len(self.vectors) != len(self.keywords):
            raise ValueError("the dense and keyword indexes hold different numbers of rows")

    def __len__(self) -> int:
        return len(self.vectors)

    def search(
        self, queries: np.ndarray, k: int, *, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        return self.vectors.search(queries, k, allowed=allowed)

    def keyword_scores(self, terms: Terms) -> np.ndarray:
        return self.keywords.scores(terms)

    def coverage(
        self, terms: Terms, *, stand_ins: StandIns | None = None
    ) -> tuple[np.ndarray, float]:
        return self.keywords.coverage(terms, stand_ins=stand_ins)

    def content_shares(self, terms: Terms) -> dict[str, float]:
        return self.keywords.content_shares(terms)

    def passage_counts(self) -> Mapping[str, int]:
        return self.keywords.passage_counts()

    def save(self, writer: BuildWriter) -> None:
        writer.write_with(DENSE_FILE, self.vectors.save)
        vocabulary = sorted(self.keywords.vocabulary, key=self.keywords.vocabulary.__getitem__)
        writer.write_json("keywords.vocab.json", vocabulary)
        for name, array in self.keywords.arrays().items():
            writer.write_array(f"keywords.{name}.npy", array)


class FaissKind:
    def build(self, vectors: np.ndarray, texts: Sequence[str]) -> FaissBackend:
        return FaissBackend(VectorIndex.build(vectors), KeywordIndex.build(texts))

    def open(self, build: Build) -> FaissBackend:
        keywords = KeywordIndex.from_arrays(
            build.json("keywords.vocab.json"),
            {name: build.array(f"keywords.{name}.npy") for name in KEYWORD_ARRAYS},
        )
        return FaissBackend(VectorIndex.load(build.path / DENSE_FILE), keywords)
