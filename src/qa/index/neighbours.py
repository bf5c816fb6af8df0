"""Question words the documents never use -> document words near them in meaning.

A question says "writer" where the op-ed says "author", "cost" where the review says
"expenses": coverage (the share of the question's words a passage holds) misses such a word
entirely. At build time each keyword term of the documents gets the model's vector of its
commonest spelling; at query time a content word of the question that no passage holds is
embedded as well, and the nearest document terms stand in for it at part credit.

Only missing words are looked up. For a word the documents do use, the model's nearest words
are as often siblings ("north" -> "south", "Korea" -> "Japan") as synonyms, and expanding
those cost answers on the labelled sets.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from qa.index.keyword import LETTER_WORD, QUESTION_WORDS, STOPWORDS, stem

MAX_TERMS = 50_000  # the commonest terms get vectors; the rarest are mostly names and typos
NEAR = 0.65  # cosine from which a document term may stand in for a missing question word
CREDIT = 0.3  # a stand-in counts for this share of the missing word, times the cosine
PER_WORD = 3  # stand-ins per missing word, nearest first

StandIns = Mapping[str, Sequence[tuple[str, float]]]  # missing term -> (document term, credit)


@dataclass(frozen=True)
class TermVectors:
    terms: tuple[str, ...]  # keyword terms (stems), one per row of `vectors`
    vectors: np.ndarray  # float32 (T, d), normalised: the model's vector of each term's spelling

    @classmethod
    def empty(cls, dimension: int) -> TermVectors:
        return cls((), np.zeros((0, dimension), np.float32))

    def stand_ins(
        self,
        words: Sequence[str],
        vectors: np.ndarray,
        *,
        near: float = NEAR,
        credit: float = CREDIT,
    ) -> dict[str, list[tuple[str, float]]]:
        """For each missing word (and its vector), the nearest document terms with their
        credit; words with none near enough are left out."""
        if not len(self.terms) or not len(words):
            return {}
        out = {}
        for word, vector in zip(words, np.asarray(vectors, np.float32), strict=True):
            scores = self.vectors @ vector
            best = [r for r in _best(scores, PER_WORD) if scores[r] >= near]
            if best:
                out[stem(word)] = [(self.terms[r], credit * float(scores[r])) for r in best]
        return out


def _best(scores: np.ndarray, count: int) -> list[int]:
    """Rows of the `count` highest scores, highest first (ties by row)."""
    rows = np.arange(len(scores)) if len(scores) <= count else np.argpartition(-scores, count)
    top = rows[:count]
    return sorted(top.tolist(), key=lambda r: (-scores[r], r))


def missing_words(question: str, vocabulary: Container[str]) -> list[str]:
    """Content words of the question, lower-cased, whose term no passage holds (once each)."""
    words = _content_words(question)
    return [word for term, word in words.items() if term not in vocabulary]


def _content_words(question: str) -> dict[str, str]:
    """Each content term of the question with its first spelling, lower-cased; letters only,
    as numbers and codes have no synonyms."""
    out: dict[str, str] = {}
    for word in LETTER_WORD.findall(question.lower()):
        if word not in STOPWORDS and stem(word) not in QUESTION_WORDS:
            out.setdefault(stem(word), word)
    return out


def near_match_notes(question: str, stand_ins: StandIns, texts: Sequence[str]) -> list[str]:
    """For each question word the documents never use, which of its stand-ins the given texts
    (the passages an answer quotes) hold, as a note: a reader should see why a passage counts
    as matching a word it does not contain."""
    found = _spellings_in(texts, {t for near in stand_ins.values() for t, _ in near})
    notes = []
    for term, word in _content_words(question).items():
        held = [found[t] for t, _ in stand_ins.get(term, ()) if t in found]
        if held:
            spelled = [f'"{w}"' for w in dict.fromkeys(held)]
            read = "were read as near matches" if len(spelled) > 1 else "was read as a near match"
            notes.append(f'The documents never use "{word}"; {" and ".join(spelled)} {read}.')
    return notes


def _spellings_in(texts: Sequence[str], wanted: set[str]) -> dict[str, str]:
    """The first spelling of each wanted term in the texts, lower-cased."""
    out: dict[str, str] = {}
    for text in texts:
        for word in LETTER_WORD.findall(text.lower()):
            term = stem(word)
            if term in wanted:
                out.setdefault(term, word)
    return out


def build_term_vectors(
    passage_counts: Mapping[str, int],
    texts: Callable[[], Iterable[str]],
    embed: Callable[[list[str]], np.ndarray],
    *,
    previous: TermVectors | None,
    dimension: int,
) -> TermVectors:
    """Vectors for the commonest MAX_TERMS terms of the index: those the previous build had are
    kept, the others embedded by their commonest spelling in `texts` (read only then)."""
    terms = _commonest_terms(passage_counts)
    known = dict(zip(previous.terms, previous.vectors, strict=True)) if previous else {}
    new = [t for t in terms if t not in known]
    if new:
        spelled = spellings(texts(), set(new))
        new = [t for t in new if t in spelled]  # a term only inside a longer token, say
        if new:
            known.update(zip(new, embed([spelled[t] for t in new]), strict=True))
    kept = tuple(t for t in terms if t in known)
    if not kept:
        return TermVectors.empty(dimension)
    return TermVectors(kept, np.ascontiguousarray([known[t] for t in kept], dtype=np.float32))


def spellings(texts: Iterable[str], wanted: set[str]) -> dict[str, str]:
    """The commonest lower-cased spelling of each wanted term in the texts (stopwords, which
    no keyword term comes from, are not counted)."""
    counts: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for text in texts:
        for word in LETTER_WORD.findall(text.lower()):
            term = stem(word)
            if term in wanted and word not in STOPWORDS:
                counts[term][word] += 1
    return {term: seen.most_common(1)[0][0] for term, seen in counts.items()}


def _commonest_terms(passage_counts: Mapping[str, int]) -> list[str]:
    """Letter-only terms by how many passages hold them, most first, ties by spelling."""
    candidates = [(-n, t) for t, n in passage_counts.items() if LETTER_WORD.fullmatch(t)]
    return sorted(t for _, t in sorted(candidates)[:MAX_TERMS])
