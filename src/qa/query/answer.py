"""Hits -> an answer: the sentence or two that best answer the question, quoted exactly and
cited, or a plain "not in the documents" when nothing relevant was found."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from qa.names import shown
from qa.query.asked import unknown_names
from qa.query.choose import Choice, choose_sentences, follows_term, with_sequel
from qa.query.policy import Policy
from qa.query.search import Hit, Retrieval, Searcher
from qa.wording import line_range

NOT_FOUND = "I couldn't find this in the documents."
EMPTY_QUESTION = "Please type a question."
WEAK_MATCH = "A weak match: the passages share little with the question. Check them first."

__all__ = [
    "EMPTY_QUESTION",
    "NOT_FOUND",
    "WEAK_MATCH",
    "Answer",
    "CitedPassage",
    "Place",
    "Policy",
    "answerability",
    "as_code",
    "compose",
]


@dataclass(frozen=True)
class Place:
    source: str
    start: int
    end: int
    lines: tuple[int, int]


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
        """For people: file, section and place, names escaped; `git-commit.html, section
        "OPTIONS > --amend", lines 120–124`."""
        return f"{shown(self.source)}, {self.where}"

    @property
    def where(self) -> str:
        """The section and place, without the file."""
        return f'section "{shown(self.heading)}", {self.place}' if self.heading else self.place

    @property
    def place(self) -> str:
        return f"page {self.page}" if self.page else line_range(*self.lines)

    def as_json(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "source": self.source,
            "start": self.start,
            "end": self.end,
            "lines": list(self.lines),
            "page": self.page,
            "heading": self.heading,
            "text": self.text,
            "score": round(self.score, 4),
            "also_in": [
                {"source": p.source, "start": p.start, "end": p.end, "lines": list(p.lines)}
                for p in self.also_in
            ],
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
    strength = answerability(hits[0], retrieval) if hits else 0.0
    unknown = unknown_names(question, searcher.index.backend.passage_counts())
    if unknown:
        strength -= policy.unknown_name_penalty
    if strength < policy.abstain_below:
        notes = (*notes, never_mentioned(unknown)) if unknown else notes
        return Answer(question, NOT_FOUND, True, (), notes)
    if strength < policy.weak_below:
        notes = (*notes, WEAK_MATCH)
    chosen = with_sequel(
        choose_sentences(question, retrieval, searcher, policy),
        retrieval.sentence_scores,
        searcher,
        policy,
    )
    shown = _cited_first(hits, chosen)
    rank_of = {hit.row: rank for rank, hit in enumerate(shown, 1)}
    passages = tuple(_cite(rank, hit, searcher, chosen) for rank, hit in enumerate(shown, 1))
    return Answer(question, _quote(chosen, searcher, rank_of), False, passages, notes)


def never_mentioned(names: list[str]) -> str:
    """'The documents never mention "MongoDB".' for the note beside a refusal."""
    quoted = [f"“{name}”" for name in dict.fromkeys(names)]
    listed = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
    return f"The documents never mention {listed}."


def _cited_first(hits: list[Hit], chosen: list[Choice]) -> list[Hit]:
    """The quoted passages first, in retrieval order, then the rest: a reader meets [1] first
    and the list starts with it, never an answer citing only [2]."""
    quoted = {c.passage for c in chosen}
    return [h for h in hits if h.row in quoted] + [h for h in hits if h.row not in quoted]


def answerability(hit: Hit, retrieval: Retrieval) -> float:
    """How likely the documents answer the question, from the top hit.

    Its best cosine, plus the share of the question's weight (idf) the passage contains, plus
    the share found anywhere in the corpus: questions about other subjects are low on all
    three. Weights and threshold are chosen on eval/seeds.jsonl (bench/tune_retrieval.py).
    """
    return max(hit.dense, hit.sentence) + 0.5 * hit.coverage + 0.3 * retrieval.corpus_coverage


def _quote(chosen: list[Choice], searcher: Searcher, rank_of: dict[int, int]) -> str:
    """Each chosen sentence quoted exactly, in document order within a passage, with its
    citation marker; neighbouring sentences of one passage read as one quote."""
    ordered = sorted(chosen, key=lambda c: (rank_of[c.passage], c.sentence))
    parts: list[str] = []
    index = 0
    while index < len(ordered):
        first = last = ordered[index]
        while index + 1 < len(ordered) and _adjacent(last, ordered[index + 1]):
            index += 1
            last = ordered[index]
        if searcher.is_code(first.sentence):
            parts.append(f"{as_code(searcher.span_text(first.sentence, last.sentence))}")
            parts[-1] += f" [{rank_of[first.passage]}]"
        else:
            start = (
                first.sentence - 1
                if follows_term(searcher, first.sentence, first.passage)
                else first.sentence
            )
            quote = searcher.span_text(start, last.sentence)
            parts.append(f"{quote} [{rank_of[first.passage]}]")
        index += 1
    return " ".join(parts)


def as_code(code: str) -> str:
    """A code block as a Markdown fence, longer than any run of backticks inside it."""
    longest = max((len(run) for run in re.findall("`+", code)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{code}\n{fence}"


def _adjacent(a: Choice, b: Choice) -> bool:
    return a.passage == b.passage and b.sentence == a.sentence + 1


def _page(searcher: Searcher, source: str, offset: int) -> int | None:
    """The page the quote starts on: a passage running over a page break is cited where its
    quoted sentence is printed, not where the passage begins."""
    entry = searcher.index.document(source)
    return entry.page_at(offset) if entry is not None else None


def _cite(rank: int, hit: Hit, searcher: Searcher, chosen: list[Choice]) -> CitedPassage:
    passage = searcher.index.passages[hit.row]
    spans = tuple(
        sorted(searcher.sentence_span(c.sentence) for c in chosen if c.passage == hit.row)
    )
    also = tuple(
        Place(p.source, p.start, p.end, p.lines)
        for p in (searcher.index.passages[row] for row in hit.duplicates)
    )
    return CitedPassage(
        rank=rank,
        source=passage.source,
        start=passage.start,
        end=passage.end,
        lines=passage.lines,
        page=_page(searcher, passage.source, spans[0][0]) if spans else passage.page,
        text=passage.text,
        heading=passage.heading,
        score=hit.score,
        also_in=also,
        answer_spans=spans,
    )
