"""Index + query -> ranked hits: dense (passages and their sentences) fused with BM25.

Built once per loaded index; retrieval goes through the index's backend (qa.index.backend),
whatever engine that is, and the fusion after it is in-memory numpy work.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from qa.index.built import Index, SentenceKind
from qa.index.keyword import terms
from qa.index.neighbours import StandIns

CANDIDATES = 50  # per signal, before fusion
SAME_TEXT = 0.8  # shingle overlap above which two passages are one passage shown once
NEAR_VECTOR = 0.9  # cosine below which two passages cannot be near-identical
_PUNCTUATION = re.compile(r"[^\w\s]")


@dataclass(frozen=True)
class Weights:
    """How the signals mix (relative weights); chosen on the labelled set, see
    bench/tune_retrieval.py."""

    passage: float = 0.5
    sentence: float = 0.4
    keyword: float = 0.1
    coverage: float = 0.7


@dataclass(frozen=True)
class Query:
    vector: np.ndarray  # (d,), normalised
    terms: Sequence[tuple[str, float]]  # weighted keyword terms
    stand_ins: StandIns = field(default_factory=dict)  # for terms no passage holds


@dataclass(frozen=True)
class Hit:
    row: int  # passage row in Index.passages
    score: float  # fused, what ranks
    dense: float  # passage cosine
    sentence: float  # best sentence cosine inside the passage
    keyword: float  # BM25 scaled to the best keyword match (0..1)
    coverage: float  # share of the question's content weight the passage contains (0..1)
    duplicates: tuple[int, ...] = ()  # rows of the same text elsewhere


@dataclass(frozen=True)
class Retrieval:
    hits: list[Hit]
    sentence_scores: np.ndarray  # cosine of every sentence in the index to the query
    corpus_coverage: float = 0.0  # share of the question's content weight the index contains


class Searcher:
    def __init__(self, index: Index, *, weights: Weights | None = None) -> None:
        self.index = index
        self.weights = weights or Weights()
        self._row_source = [p.source for p in index.passages]
        self._shingle_cache: dict[int, frozenset[str]] = {}
        self._twin_cache: dict[int, tuple[int, ...]] = {}
        self._sentence_ptr, self._sentence_rows = _sentences_of_passages(index)
        self._sentence_passage = _passage_of_sentences(
            len(index.sentences), self._sentence_ptr, self._sentence_rows
        )

    def rows_of(self, sources: Collection[str]) -> np.ndarray:
        return np.array([r for r, s in enumerate(self._row_source) if s in sources], np.int64)

    def search(self, query: Query, *, k: int, allowed: np.ndarray | None = None) -> Retrieval:
        sentence_scores = self.index.sentence_vectors @ query.vector
        if not len(self.index.passages) or (allowed is not None and not len(allowed)):
            return Retrieval([], sentence_scores)
        backend = self.index.backend
        keyword = backend.keyword_scores(query.terms)
        coverage, in_corpus = backend.coverage(query.terms, stand_ins=query.stand_ins)
        candidates = self._candidates(query, keyword, sentence_scores, allowed)
        hits = self._score(query, candidates, keyword, coverage, sentence_scores)
        return Retrieval(self._collapse(hits, k, allowed), sentence_scores, in_corpus)

    def _candidates(
        self,
        query: Query,
        keyword: np.ndarray,
        sentence_scores: np.ndarray,
        allowed: np.ndarray | None,
    ) -> np.ndarray:
        """The union of each signal's best passages; only these are scored in full."""
        _, dense_rows = self.index.backend.search(
            query.vector[None, :], CANDIDATES, allowed=allowed
        )
        rows = np.concatenate(
            [
                dense_rows[0][dense_rows[0] >= 0],
                _top(keyword, CANDIDATES),
                self._sentence_passage[_top(sentence_scores, CANDIDATES * 2)],
            ]
        )
        rows = np.unique(rows[rows >= 0])
        if allowed is not None:
            rows = np.intersect1d(rows, allowed)
        return rows

    def _score(
        self,
        query: Query,
        rows: np.ndarray,
        keyword_all: np.ndarray,
        coverage_all: np.ndarray,
        sentence_scores: np.ndarray,
    ) -> list[Hit]:
        keyword = keyword_all[rows]
        keyword = keyword / keyword.max() if keyword.max() > 0 else keyword
        coverage = coverage_all[rows]
        dense = self.index.passage_vectors[rows] @ query.vector
        sentence = np.array([self._best_sentence(r, sentence_scores) for r in rows])
        w = self.weights
        # A weighted mean, so the shown score stays on the 0..1 scale of its signals.
        fused = (
            w.passage * dense + w.sentence * sentence + w.keyword * keyword + w.coverage * coverage
        ) / (w.passage + w.sentence + w.keyword + w.coverage)
        order = np.argsort(-fused, kind="stable")
        return [
            Hit(
                int(rows[i]),
                float(fused[i]),
                float(dense[i]),
                float(sentence[i]),
                float(keyword[i]),
                float(coverage[i]),
            )
            for i in order
        ]

    def _best_sentence(self, row: int, sentence_scores: np.ndarray) -> float:
        lo, hi = self._sentence_ptr[row], self._sentence_ptr[row + 1]
        if lo == hi:
            return 0.0
        return float(sentence_scores[self._sentence_rows[lo:hi]].max())

    def sentences_in(self, row: int) -> np.ndarray:
        lo, hi = self._sentence_ptr[row], self._sentence_ptr[row + 1]
        return self._sentence_rows[lo:hi]

    def _shingles(self, row: int) -> frozenset[str]:
        cached = self._shingle_cache.get(row)
        if cached is None:
            cached = self._shingle_cache[row] = _shingles(self.index.passages[row].text)
        return cached

    def sentence_span(self, row: int) -> tuple[int, int]:
        _, start, end, _ = self.index.sentences[row]
        return int(start), int(end)

    def is_heading(self, row: int) -> bool:
        return int(self.index.sentences[row][3]) in (SentenceKind.HEADING, SentenceKind.TERM)

    def is_term(self, row: int) -> bool:
        return int(self.index.sentences[row][3]) == SentenceKind.TERM

    def is_code(self, row: int) -> bool:
        return int(self.index.sentences[row][3]) == SentenceKind.CODE

    def same_paragraph(self, first: int, second: int) -> bool:
        """Sentences `first` < `second` of one document with no blank line between them."""
        _, first_end = self.sentence_span(first)
        second_start, _ = self.sentence_span(second)
        doc = self.index.documents[int(self.index.sentences[first][0])]
        return "\n\n" not in doc.text[first_end:second_start]

    def sentence_text(self, row: int) -> str:
        return self.span_text(row, row)

    def span_text(self, first: int, last: int) -> str:
        """Document text from the start of sentence `first` to the end of `last` (same document)."""
        doc = self.index.documents[int(self.index.sentences[first][0])]
        return doc.text[int(self.index.sentences[first][1]) : int(self.index.sentences[last][2])]

    def _collapse(self, hits: list[Hit], k: int, allowed: np.ndarray | None) -> list[Hit]:
        """Near-identical passages (the corpus repeats itself) become one hit listing all."""
        kept: list[Hit] = []
        for hit in hits:
            home = next((h for h in kept if self.same_text(h.row, hit.row)), None)
            if home is None:
                if len(kept) == k:
                    break
                kept.append(hit)
        shown = None if allowed is None else set(allowed.tolist())
        self._find_twins([h.row for h in kept])
        return [self._with_duplicates(h, shown) for h in kept]

    def _with_duplicates(self, hit: Hit, shown: set[int] | None) -> Hit:
        """The hit and its twins anywhere in the index; the first by (source, start) that the
        document filter allows stands for the group, so equal scores never make the shown copy
        depend on float noise."""
        ordered = self._twin_cache[hit.row]
        first = next(r for r in ordered if shown is None or r in shown)
        return replace(hit, row=first, duplicates=tuple(r for r in ordered if r != first))

    def _find_twins(self, rows: list[int]) -> None:
        """Each row's near-identical passages, ordered by (source, start), itself included.

        One pass over the passage vectors for all new rows at once (the scan, not the
        arithmetic, is what costs on a large index), remembered because the index behind a
        Searcher never changes.
        """
        new = [r for r in dict.fromkeys(rows) if r not in self._twin_cache]
        if not new:
            return
        close = self.index.passage_vectors @ self.index.passage_vectors[new].T
        passages = self.index.passages
        for column, row in enumerate(new):
            near = np.flatnonzero(close[:, column] >= NEAR_VECTOR).tolist()
            group = {row} | {r for r in near if self.same_text(row, r)}
            ordered = sorted(group, key=lambda r: (passages[r].source, passages[r].start))
            self._twin_cache[row] = tuple(ordered)

    def same_sentence(self, a: int, b: int) -> bool:
        """The same words (a caption or a quote repeated in the documents): quoting both says
        nothing new."""
        return _words(self.sentence_text(a)) == _words(self.sentence_text(b))

    def same_text(self, a: int, b: int) -> bool:
        """Near-identical text; the vectors are compared first because that costs one dot."""
        if a == b:
            return True
        vectors = self.index.passage_vectors
        if float(vectors[a] @ vectors[b]) < NEAR_VECTOR:
            return False
        first, second = self._shingles(a), self._shingles(b)
        if not first or not second:
            return False
        return len(first & second) / min(len(first), len(second)) >= SAME_TEXT


def _shingles(text: str) -> frozenset[str]:
    words = re.findall(r"\w+", text.lower())
    return frozenset(" ".join(words[i : i + 3]) for i in range(max(1, len(words) - 2)))


def _sentences_of_passages(index: Index) -> tuple[np.ndarray, np.ndarray]:
    """CSR map passage row -> sentence rows inside its span."""
    pointers, rows = [0], []
    doc_of = {d.source: i for i, d in enumerate(index.documents)}
    for passage in index.passages:
        doc = index.documents[doc_of[passage.source]]
        lo, hi = doc.sentences
        spans = index.sentences[lo:hi]
        inside = np.nonzero((spans[:, 1] >= passage.start) & (spans[:, 2] <= passage.end))[0]
        rows.extend((inside + lo).tolist())
        pointers.append(len(rows))
    return np.array(pointers, np.int64), np.array(rows, np.int64)


def _passage_of_sentences(count: int, pointers: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Each sentence's first passage (the one its text is first shown in)."""
    out = np.full(count, -1, np.int64)
    for passage in range(len(pointers) - 2, -1, -1):
        out[rows[pointers[passage] : pointers[passage + 1]]] = passage
    return out


def _top(values: np.ndarray, count: int) -> np.ndarray:
    """Rows of the `count` largest values, in no particular order (the caller unions them)."""
    if len(values) <= count:
        return np.arange(len(values))
    return np.argpartition(-values, count - 1)[:count]


def keyword_query(text: str, *, weight: float = 1.0) -> list[tuple[str, float]]:
    return [(t, weight) for t in terms(text)]


def _words(text: str) -> list[str]:
    """Words without case or punctuation: "U.S. forces" and "US forces" read the same."""
    return _PUNCTUATION.sub("", text).lower().split()
