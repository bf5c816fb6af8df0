"""BM25 keyword search over passages, stored as plain arrays (a CSR postings matrix).

Written here rather than taken from bm25s: bm25s imports scipy (0.44 s measured here), and
`qa ask` has a 1.5 s budget for the whole process; the scoring itself is a few numpy lines.
"""

from __future__ import annotations

import re
from array import array
from collections import Counter
from collections.abc import ItemsView, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import Stemmer

K1 = 1.2
B = 0.75
_WORD = re.compile(r"\w+")
LETTER_WORD = re.compile(r"[^\W\d_]{3,}")  # a word of three letters or more, no digits
_STEMMER = Stemmer.Stemmer("english")
STOPWORDS = frozenset(
    """
    a an and are as at be been being but by can could did do does for from had has have he
    her hers him his how i if in into is it its me my no nor not of on or our ours she so
    such than that the their them then there these they this those to was we were what when
    where which while who whom whose why will with would you your yours about after all also
    any because before both each few more most other over same should some very just only
    own too
    """.split()
)

Terms = Sequence[tuple[str, float]]  # keyword terms with their weights (a follow-up's are < 1)


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    return str(_STEMMER.stemWord(word))


# Words that say what kind of answer is wanted; a passage need not contain them. Stemmed, as
# the terms they are compared with.
QUESTION_WORDS = frozenset(
    stem(w)
    for w in """
    how many much what when where who whom which why did does do was were is are year kind
    say said according
    """.split()
)


def terms(text: str) -> list[str]:
    """Lower-cased, stemmed words without stopwords; numbers are kept as they are."""
    words = _WORD.findall(text.lower())
    return [stem(w) for w in words if w not in STOPWORDS]


def asked_words(question: str) -> frozenset[str]:
    """The question's content words, stemmed as the index stems them (to show in passages)."""
    return frozenset(t for t in terms(question) if t not in QUESTION_WORDS)


def asked_spans(text: str, asked: frozenset[str]) -> list[tuple[int, int]]:
    """Where in `text` the words are that the index would match to `asked` (by stem)."""
    if not asked:
        return []
    return [m.span() for m in _WORD.finditer(text) if stem(m[0].lower()) in asked]


@dataclass(frozen=True)
class KeywordIndex:
    vocabulary: dict[str, int]
    pointers: np.ndarray  # int64 (V + 1,): postings of term t are pointers[t]:pointers[t + 1]
    rows: np.ndarray  # int32: passage row of each posting
    counts: np.ndarray  # float32: term frequency of each posting
    lengths: np.ndarray  # float32 (N,): terms per passage

    @classmethod
    def build(cls, texts: Sequence[str]) -> KeywordIndex:
        # Postings gather in flat typed arrays: a 50 MB document has millions of them, and
        # Python tuples would cost ten times the memory of the index they become.
        found: dict[str, int] = {}
        term_ids, counts = array("i"), array("f")
        sizes = np.zeros(len(texts), dtype=np.int64)
        lengths = np.zeros(len(texts), dtype=np.float32)
        for row, text in enumerate(texts):
            counted = Counter(terms(text))
            term_ids.extend(found.setdefault(t, len(found)) for t in counted)
            counts.extend(counted.values())
            sizes[row], lengths[row] = len(counted), sum(counted.values())
        vocabulary = sorted(found)
        renumber = np.empty(len(found), dtype=np.int64)
        renumber[[found[t] for t in vocabulary]] = np.arange(len(vocabulary))
        term_of = renumber[np.frombuffer(term_ids, dtype=np.int32)]
        order = np.argsort(term_of, kind="stable")  # stable: rows stay ascending per term
        rows = np.repeat(np.arange(len(texts), dtype=np.int32), sizes)[order]
        per_term = np.bincount(term_of, minlength=len(vocabulary))
        pointers = np.concatenate([[0], np.cumsum(per_term)]).astype(np.int64)
        postings = np.frombuffer(counts, dtype=np.float32)[order]
        return cls({t: i for i, t in enumerate(vocabulary)}, pointers, rows, postings, lengths)

    def __len__(self) -> int:
        return len(self.lengths)

    def scores(self, query: str | Sequence[tuple[str, float]]) -> np.ndarray:
        """BM25 score of every passage; a query may weigh its terms (for follow-ups)."""
        weighted = [(t, 1.0) for t in terms(query)] if isinstance(query, str) else list(query)
        out = np.zeros(len(self.lengths), dtype=np.float32)
        if not len(self.lengths):
            return out
        norm = K1 * (1 - B + B * self.lengths / max(float(self.lengths.mean()), 1e-9))
        for term, weight in _merge(weighted):
            index = self.vocabulary.get(term)
            if index is None:
                continue
            lo, hi = self.pointers[index], self.pointers[index + 1]
            rows, tf = self.rows[lo:hi], self.counts[lo:hi]
            idf = np.log(1 + (len(self.lengths) - (hi - lo) + 0.5) / ((hi - lo) + 0.5))
            out[rows] += weight * idf * tf * (K1 + 1) / (tf + norm[rows])
        return out

    def content_shares(self, query: Sequence[tuple[str, float]]) -> dict[str, float]:
        """Each content term of the query (question words left out) with its share of the
        query's weight x idf; a term asked twice counts once, at its larger weight."""
        weighted = {t: w * self.idf(t) for t, w in _merge(list(query)) if t not in QUESTION_WORDS}
        total = sum(weighted.values())
        return {t: w / total for t, w in weighted.items()} if total else {}

    def coverage(
        self,
        query: Sequence[tuple[str, float]],
        *,
        stand_ins: Mapping[str, Sequence[tuple[str, float]]] | None = None,
    ) -> tuple[np.ndarray, float]:
        """Share of the query's content weight each passage contains, and the share the corpus
        contains. A term no passage holds may have stand-ins (qa.index.neighbours): a passage with
        one gets that stand-in's credit of the term's share; the corpus share counts real terms
        only, so an off-topic question does not look answerable through them."""
        out = np.zeros(len(self.lengths), dtype=np.float32)
        found = 0.0
        for term, share in self.content_shares(query).items():
            index = self.vocabulary.get(term)
            if index is not None:
                out[self._rows_of(index)] += share
                found += share
            elif stand_ins and term in stand_ins:
                out += share * self._credit(stand_ins[term])
        return out, found

    def _credit(self, stand_ins: Sequence[tuple[str, float]]) -> np.ndarray:
        """Per passage, the best credit among the stand-ins it holds."""
        credit = np.zeros(len(self.lengths), dtype=np.float32)
        for term, value in stand_ins:
            index = self.vocabulary.get(term)
            if index is not None:
                rows = self._rows_of(index)
                credit[rows] = np.maximum(credit[rows], value)
        return credit

    def passage_counts(self) -> Mapping[str, int]:
        """Every term with how many passages hold it (a view: nothing is copied)."""
        return _PassageCounts(self.vocabulary, self.pointers)

    def _rows_of(self, index: int) -> np.ndarray:
        return self.rows[self.pointers[index] : self.pointers[index + 1]]

    def idf(self, term: str) -> float:
        """Inverse document frequency; a term no passage has gets the highest value."""
        index = self.vocabulary.get(term)
        found = 0 if index is None else int(self.pointers[index + 1] - self.pointers[index])
        return float(np.log(1 + (len(self.lengths) - found + 0.5) / (found + 0.5)))

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "pointers": self.pointers,
            "rows": self.rows,
            "counts": self.counts,
            "lengths": self.lengths,
        }

    @classmethod
    def from_arrays(cls, vocabulary: list[str], arrays: dict[str, np.ndarray]) -> KeywordIndex:
        return cls(
            {t: i for i, t in enumerate(vocabulary)},
            arrays["pointers"],
            arrays["rows"],
            arrays["counts"],
            arrays["lengths"],
        )


class _PassageCounts(Mapping[str, int]):
    def __init__(self, vocabulary: dict[str, int], pointers: np.ndarray) -> None:
        self._vocabulary, self._pointers = vocabulary, pointers

    def __getitem__(self, term: str) -> int:
        index = self._vocabulary[term]
        return int(self._pointers[index + 1] - self._pointers[index])

    def __contains__(self, term: object) -> bool:
        return term in self._vocabulary

    def __iter__(self) -> Iterator[str]:
        return iter(self._vocabulary)

    def __len__(self) -> int:
        return len(self._vocabulary)

    def items(self) -> ItemsView[str, int]:
        # All at once: one array difference rather than a lookup per term of a large vocabulary.
        counts = np.diff(self._pointers).tolist()
        return {term: counts[index] for term, index in self._vocabulary.items()}.items()


def _merge(weighted: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """A term repeated in the query counts once, at its largest weight."""
    best: dict[str, float] = {}
    for term, weight in weighted:
        best[term] = max(weight, best.get(term, 0.0))
    return list(best.items())
