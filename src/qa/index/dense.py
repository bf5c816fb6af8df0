"""Dense search behind a narrow interface; FAISS does the work.

An exact inner-product index: on normalised vectors that is cosine similarity, and at the
sizes a folder of documents reaches (10^3-10^5 passages) exact search costs a few ms.
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np


class VectorIndex:
    def __init__(self, index: faiss.Index) -> None:
        self._index = index

    @classmethod
    def build(cls, vectors: np.ndarray) -> VectorIndex:
        index = faiss.IndexFlatIP(vectors.shape[1])
        if len(vectors):
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        return cls(index)

    @classmethod
    def load(cls, path: Path) -> VectorIndex:
        return cls(faiss.read_index(str(path)))

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    def search(
        self, queries: np.ndarray, k: int, *, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows), each (len(queries), k); rows of -1 pad when fewer match."""
        k = max(1, min(k, len(self)))
        queries = np.ascontiguousarray(queries.reshape(-1, self.dimension), dtype=np.float32)
        if allowed is None:
            scores, rows = self._index.search(queries, k)
        else:
            selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
            params = faiss.SearchParameters()
            params.sel = selector
            scores, rows = self._index.search(queries, k, params=params)
        return scores, rows
