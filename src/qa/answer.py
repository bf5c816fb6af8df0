"""Hits -> an answer: the sentence or two that best answer the question, quoted exactly and
cited, or a plain "not in the documents" when nothing relevant was found."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qa.keyword import terms
from qa.search import Hit, Retrieval, Searcher

NOT_FOUND = "I couldn't find this in the documents."
EMPTY_QUESTION = "Please type a question."


@dataclass(frozen=True)
class Policy:
    """When to answer, and which sentences; chosen on the labelled set (bench/tune_retrieval.py)."""

    abstain_below: float = 0.40  # best sentence/passage cosine of the top hit
    quote_from: int = 3  # answer sentences come from the top few passages
    keyword_weight: float = 0.25  # share of query terms a sentence contains, next to its cosine
    rank_weight: float = 0.05  # per rank: a sentence from passage 1 beats a tie from passage 3
    second_within: float = 0.9  # quote a second sentence scoring at least this share of the best


@dataclass(frozen=True)
class Place:
    source: str
    start: int
    end: int


@dataclass(frozen=True)
class CitedPassage:
    rank: int
    source: str
    start: int
    end: int
    lines: tuple[int, int]
    page: int | None
    text: str
    heading: str
    score: float
    also_in: tuple[Place, ...] = ()
    answer_spans: tuple[tuple[int, int], ...] = ()

    @property
    def citation(self) -> str:
        where = f"page {self.page}" if self.page else f"lines {self.lines[0]}-{self.lines[1]}"
        return f"{self.source}, {where}"

    def as_json(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "source": self.source,
            "start": self.start,
            "end": self.end,
            "lines": list(self.lines),
            "page": self.page,
            "text": self.text,
            "score": round(self.score, 4),
            "also_in": [{"source": p.source, "start": p.start, "end": p.end} for p in self.also_in],
            "answer_spans": [list(span) for span in self.answer_spans],
        }


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    abstained: bool
    passages: tuple[CitedPassage, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "passages": [p.as_json() for p in self.passages],
        }
        if self.notes:
            out["notes"] = list(self.notes)
        return out


def compose(
    question: str,
    retrieval: Retrieval,
    searcher: Searcher,
    *,
    policy: Policy,
    notes: tuple[str, ...] = (),
) -> Answer:
    hits = retrieval.hits
    if not hits or max(hits[0].dense, hits[0].sentence) < policy.abstain_below:
        return Answer(question, NOT_FOUND, True, (), notes)
    chosen = _choose_sentences(question, retrieval, searcher, policy)
    passages = tuple(_cite(rank, hit, searcher, chosen) for rank, hit in enumerate(hits, 1))
    return Answer(question, _quote(chosen, searcher), False, passages, notes)


@dataclass(frozen=True)
class _Choice:
    rank: int  # 1-based citation marker
    sentence: int  # row in Index.sentences
    score: float


def _choose_sentences(
    question: str, retrieval: Retrieval, searcher: Searcher, policy: Policy
) -> list[_Choice]:
    wanted = set(terms(question))
    scored: dict[int, _Choice] = {}
    for rank, hit in enumerate(retrieval.hits[: policy.quote_from], 1):
        for row in searcher.sentences_in(hit.row):
            overlap = _overlap(wanted, searcher, int(row))
            score = (
                float(retrieval.sentence_scores[row])
                + policy.keyword_weight * overlap
                - policy.rank_weight * (rank - 1)
            )
            if row not in scored or scored[row].score < score:
                scored[int(row)] = _Choice(rank, int(row), score)
    ranked = sorted(scored.values(), key=lambda c: -c.score)
    best = ranked[:1]
    if len(ranked) > 1 and ranked[1].score >= policy.second_within * ranked[0].score:
        best.append(ranked[1])
    return sorted(best, key=lambda c: (c.rank, c.sentence))


def _overlap(wanted: set[str], searcher: Searcher, row: int) -> float:
    if not wanted:
        return 0.0
    return len(wanted & set(terms(searcher.sentence_text(row)))) / len(wanted)


def _quote(chosen: list[_Choice], searcher: Searcher) -> str:
    """Quote each chosen sentence exactly; adjacent ones from one passage share a marker."""
    parts: list[str] = []
    index = 0
    while index < len(chosen):
        first = last = chosen[index]
        while index + 1 < len(chosen) and _adjacent(last, chosen[index + 1]):
            index += 1
            last = chosen[index]
        parts.append(f"{searcher.span_text(first.sentence, last.sentence)} [{first.rank}]")
        index += 1
    return " ".join(parts)


def _adjacent(a: _Choice, b: _Choice) -> bool:
    return a.rank == b.rank and b.sentence == a.sentence + 1


def _cite(rank: int, hit: Hit, searcher: Searcher, chosen: list[_Choice]) -> CitedPassage:
    passage = searcher.index.passages[hit.row]
    spans = tuple(searcher.sentence_span(c.sentence) for c in chosen if c.rank == rank)
    also = tuple(
        Place(p.source, p.start, p.end)
        for p in (searcher.index.passages[row] for row in hit.duplicates)
    )
    return CitedPassage(
        rank=rank,
        source=passage.source,
        start=passage.start,
        end=passage.end,
        lines=passage.lines,
        page=passage.page,
        text=passage.text,
        heading=passage.heading,
        score=hit.score,
        also_in=also,
        answer_spans=spans,
    )


