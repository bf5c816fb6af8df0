"""The index backend interface: FAISS + BM25 answers it exactly, and a second engine written
here (brute-force numpy) gives the same hits and answers through the unchanged query code."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from fakes import FakeEmbedder

from qa.index.backend import BACKENDS, IndexBackend, Terms, backend_kind
from qa.index.build import build_index
from qa.index.built import load
from qa.index.faiss_backend import FaissBackend
from qa.index.keyword import K1, QUESTION_WORDS, B, terms
from qa.index.neighbours import StandIns
from qa.index.store import BuildWriter, open_build
from qa.query.engine import Engine
from qa.query.search import Searcher
from qa.settings import Settings

SEEDS = Path(__file__).parent.parent / "eval" / "seeds.jsonl"
TEXTS = ["Apple and banana.", "An apple.", "Cherry.", "Banana bread with apple and banana."]


@pytest.fixture
def tiny() -> tuple[np.ndarray, IndexBackend]:
    vectors = FakeEmbedder().embed(TEXTS)
    return vectors, backend_kind("faiss").build(vectors, TEXTS)


def bm25(term_count: float, length: float, held_by: int) -> float:
    """One term's BM25 in TEXTS (4 passages, 8 terms), written out from the formula."""
    idf = math.log(1 + (4 - held_by + 0.5) / (held_by + 0.5))
    return idf * term_count * (K1 + 1) / (term_count + K1 * (1 - B + B * length / (8 / 4)))


def test_faiss_backend_is_the_default_and_answers_the_protocol(
    tiny: tuple[np.ndarray, IndexBackend],
) -> None:
    _, backend = tiny
    assert isinstance(backend, IndexBackend) and isinstance(backend, FaissBackend)
    assert len(backend) == 4
    with pytest.raises(ValueError) as caught:
        backend_kind("milvus")
    assert str(caught.value) == "No index backend named 'milvus'; there is faiss."


def test_dense_top_k_is_exact_and_the_row_filter_holds(
    tiny: tuple[np.ndarray, IndexBackend],
) -> None:
    vectors, backend = tiny
    query = vectors[3:4]
    cosines = (vectors @ query[0]).astype(np.float32)
    scores, rows = backend.search(query, 3)
    assert rows.tolist() == [np.argsort(-cosines, kind="stable")[:3].tolist()]
    assert rows[0, 0] == 3
    np.testing.assert_allclose(scores[0], cosines[rows[0]], rtol=1e-6)
    # Only allowed rows, best first, -1 padding once they run out.
    scores, rows = backend.search(query, 3, allowed=np.array([1, 2]))
    assert rows.tolist() == [[1, 2, -1]]
    np.testing.assert_allclose(scores[0, :2], cosines[[1, 2]], rtol=1e-6)


def test_keyword_scores_coverage_and_counts(tiny: tuple[np.ndarray, IndexBackend]) -> None:
    _, backend = tiny
    # Terms per passage: [appl, banana], [appl], [cherri], [banana, bread, appl, banana].
    assert dict(backend.passage_counts()) == {"appl": 3, "banana": 2, "bread": 1, "cherri": 1}
    assert "banana" in backend.passage_counts() and "kiwi" not in backend.passage_counts()
    expected = [bm25(1, 2, 2), 0.0, 0.0, bm25(2, 4, 2)]
    np.testing.assert_allclose(backend.keyword_scores([("banana", 1.0)]), expected, rtol=1e-6)
    # A repeated term counts once, at its larger weight; a weight scales the score.
    halved = backend.keyword_scores([("banana", 0.5), ("banana", 0.25), ("kiwi", 1.0)])
    np.testing.assert_allclose(halved, np.array(expected) / 2, rtol=1e-6)
    idf = {t: math.log(1 + (4 - n + 0.5) / (n + 0.5)) for t, n in {"cherri": 1, "kiwi": 0}.items()}
    shares = backend.content_shares([("cherri", 1.0), ("kiwi", 1.0), ("what", 1.0)])
    total = idf["cherri"] + idf["kiwi"]
    assert shares == pytest.approx({"cherri": idf["cherri"] / total, "kiwi": idf["kiwi"] / total})
    stand_ins = {"kiwi": [("banana", 0.5)]}
    coverage, found = backend.coverage([("cherri", 1.0), ("kiwi", 1.0)], stand_ins=stand_ins)
    kiwi = 0.5 * shares["kiwi"]
    np.testing.assert_allclose(coverage, [kiwi, 0.0, shares["cherri"], kiwi], rtol=1e-6)
    assert found == pytest.approx(shares["cherri"])


def test_save_and_open_give_the_same_backend(
    tiny: tuple[np.ndarray, IndexBackend], tmp_path: Path
) -> None:
    vectors, backend = tiny
    writer = BuildWriter(tmp_path)
    backend.save(writer)
    writer.commit({})
    assert sorted(writer.files) == [
        "keywords.counts.npy",
        "keywords.lengths.npy",
        "keywords.pointers.npy",
        "keywords.rows.npy",
        "keywords.vocab.json",
        "passages.faiss",
    ]
    opened = backend_kind("faiss").open(open_build(tmp_path))
    for allowed in (None, np.array([0, 2])):
        for a, b in zip(
            opened.search(vectors, 4, allowed=allowed),
            backend.search(vectors, 4, allowed=allowed),
            strict=True,
        ):
            np.testing.assert_array_equal(a, b)
    query = [("banana", 1.0), ("appl", 0.5)]
    np.testing.assert_array_equal(opened.keyword_scores(query), backend.keyword_scores(query))
    assert dict(opened.passage_counts()) == dict(backend.passage_counts())


# --------------------------------------------------------------------------- a second engine


class BruteForce:
    """Every row scored on every call: a dense cosine matrix product and a term-count matrix.
    Shares nothing with the FAISS backend but the BM25 constants and the term analysis."""

    def __init__(self, vectors: np.ndarray, texts: Sequence[str]) -> None:
        self.vectors = vectors
        counted = [Counter(terms(t)) for t in texts]
        self.columns = {t: i for i, t in enumerate(sorted({t for c in counted for t in c}))}
        self.tf = np.zeros((len(texts), len(self.columns)), np.float32)
        for row, counts in enumerate(counted):
            for term, count in counts.items():
                self.tf[row, self.columns[term]] = count
        self.lengths = self.tf.sum(axis=1)

    def __len__(self) -> int:
        return len(self.vectors)

    def search(
        self, queries: np.ndarray, k: int, *, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        scores = queries.reshape(-1, self.vectors.shape[1]) @ self.vectors.T
        if allowed is not None:
            barred = np.ones(len(self.vectors), bool)
            barred[allowed] = False
            scores[:, barred] = -np.inf
        rows = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        top = np.take_along_axis(scores, rows, axis=1)
        return np.where(np.isinf(top), -1.0, top), np.where(np.isinf(top), -1, rows)

    def _held(self, term: str) -> np.ndarray:
        column = self.columns.get(term)
        return np.zeros(len(self), np.float32) if column is None else self.tf[:, column]

    def _idf(self, term: str) -> float:
        found = int((self._held(term) > 0).sum())
        return math.log(1 + (len(self) - found + 0.5) / (found + 0.5))

    def keyword_scores(self, query: Terms) -> np.ndarray:
        norm = K1 * (1 - B + B * self.lengths / self.lengths.mean())
        out = np.zeros(len(self), np.float32)
        for term, weight in _merged(query).items():
            tf = self._held(term)
            out += weight * self._idf(term) * tf * (K1 + 1) / (tf + norm)
        return out

    def content_shares(self, query: Terms) -> dict[str, float]:
        weighted = {
            t: w * self._idf(t) for t, w in _merged(query).items() if t not in QUESTION_WORDS
        }
        total = sum(weighted.values())
        return {t: w / total for t, w in weighted.items()} if total else {}

    def coverage(
        self, query: Terms, *, stand_ins: StandIns | None = None
    ) -> tuple[np.ndarray, float]:
        out, found = np.zeros(len(self), np.float32), 0.0
        for term, share in self.content_shares(query).items():
            if term in self.columns:
                out += share * (self._held(term) > 0)
                found += share
            elif stand_ins and term in stand_ins:
                credit = [value * (self._held(t) > 0) for t, value in stand_ins[term]]
                out += share * np.max(credit, axis=0) if credit else 0.0
        return out, found

    def passage_counts(self) -> Mapping[str, int]:
        return {t: int((self.tf[:, i] > 0).sum()) for t, i in self.columns.items()}

    def save(self, writer: BuildWriter) -> None:
        writer.write_array("brute.vectors.npy", self.vectors)


def _merged(query: Terms) -> dict[str, float]:
    best: dict[str, float] = {}
    for term, weight in query:
        best[term] = max(weight, best.get(term, 0.0))
    return best


def test_a_second_engine_gives_the_same_hits_and_answers(
    seeded: Settings, fake_embedder: FakeEmbedder
) -> None:
    build_index(seeded, embedder_factory=lambda: fake_embedder)
    index = load(seeded.index)
    brute = BruteForce(index.passage_vectors, [p.embed_text for p in index.passages])
    assert isinstance(brute, IndexBackend) and "brute" not in BACKENDS
    indexes = (index, replace(index, backend=brute))
    engines = [Engine(seeded, i, embedder_factory=lambda: fake_embedder) for i in indexes]
    searchers = [Searcher(i) for i in indexes]
    questions = [json.loads(line)["question"] for line in SEEDS.read_text().splitlines()]
    sources = sorted({p.source for p in index.passages})[:2]
    compared = 0
    for question in questions:
        (query, faiss), (_, other) = (e.retrieve(question) for e in engines)
        assert [(h.row, h.duplicates) for h in other.hits] == [
            (h.row, h.duplicates) for h in faiss.hits
        ]
        for mine, theirs in zip(other.hits, faiss.hits, strict=True):
            assert (mine.score, mine.keyword, mine.coverage) == pytest.approx(
                (theirs.score, theirs.keyword, theirs.coverage), rel=1e-5, abs=1e-6
            )
        assert other.corpus_coverage == pytest.approx(faiss.corpus_coverage, rel=1e-6)
        allowed = searchers[0].rows_of(sources)
        filtered = [s.search(query, k=5, allowed=allowed).hits for s in searchers]
        assert [h.row for h in filtered[0]] == [h.row for h in filtered[1]]
        assert all(index.passages[h.row].source in sources for h in filtered[0])
        faiss_answer, other_answer = (e.ask(question) for e in engines)
        # Equal but for the last float bits of each passage's score.
        assert replace(other_answer, passages=()) == replace(faiss_answer, passages=())
        assert [replace(p, score=0.0) for p in other_answer.passages] == [
            replace(p, score=0.0) for p in faiss_answer.passages
        ]
        assert [p.score for p in other_answer.passages] == pytest.approx(
            [p.score for p in faiss_answer.passages], rel=1e-5
        )
        compared += len(faiss.hits)
    assert len(questions) == 129 and compared > 129 * 3
