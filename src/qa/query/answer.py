"""Hits -> an answer: the sentence or two that best answer the question, quoted exactly and
cited, or a plain "not in the documents" when nothing relevant was found."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from qa.index.keyword import LETTER_WORD, terms
from qa.names import shown
from qa.query.asked import DATE, answer_type, defined_subject, defines
from qa.query.search import Hit, Retrieval, Searcher
from qa.wording import line_range

NOT_FOUND = "I couldn't find this in the documents."
EMPTY_QUESTION = "Please type a question."
WEAK_MATCH = "A weak match: the passages share little with the question. Check them first."


@dataclass(frozen=True)
class Policy:
    """When to answer, and which sentences; chosen on the labelled set (bench/tune_retrieval.py)."""

    abstain_below: float = 0.46  # answerability() of the top hit; the floor when calibrated
    calibrated: bool = True  # raise the bar to what off-topic probes reach (qa.query.calibration)
    weak_below: float = 0.9  # answered, but flagged as a weak match (WEAK_MATCH) below this
    quote_from: int = 2  # answer sentences come from the top few passages
    keyword_weight: float = 0.1  # share of the question's content weight a sentence contains
    rank_weight: float = 0.0  # per rank: a sentence from passage 1 beats a tie from passage 3
    second_within: float = 0.8  # quote a second sentence scoring at least this share of the best
    definition_weight: float = 0.1  # for "What is X?": a sentence saying what X is
    entry_weight: float = 0.05  # the first sentence of an API entry or definition term
    code_penalty: float = 0.1  # code answers only when clearly best; quoted as code


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
    if strength < policy.abstain_below:
        return Answer(question, NOT_FOUND, True, (), notes)
    if strength < policy.weak_below:
        notes = (*notes, WEAK_MATCH)
    chosen = _choose_sentences(question, retrieval, searcher, policy)
    shown = _cited_first(hits, chosen)
    rank_of = {hit.row: rank for rank, hit in enumerate(shown, 1)}
    passages = tuple(_cite(rank, hit, searcher, chosen) for rank, hit in enumerate(shown, 1))
    return Answer(question, _quote(chosen, searcher, rank_of), False, passages, notes)


def _cited_first(hits: list[Hit], chosen: list[_Choice]) -> list[Hit]:
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


@dataclass(frozen=True)
class _Choice:
    passage: int  # row in Index.passages
    sentence: int  # row in Index.sentences
    score: float
    holds_type: bool  # holds what the question asks for (a date, a number, a name)


def _choose_sentences(
    question: str, retrieval: Retrieval, searcher: Searcher, policy: Policy
) -> list[_Choice]:
    """The best-scoring sentence of the top passages, and the runner-up when nearly as good."""
    wanted = searcher.index.backend.content_shares([(t, 1.0) for t in terms(question)])
    wanted_type = answer_type(question)
    subject = defined_subject(question)
    scored: dict[int, _Choice] = {}
    for rank, hit in enumerate(retrieval.hits[: policy.quote_from]):
        for row in map(int, searcher.sentences_in(hit.row)):
            text = searcher.sentence_text(row)
            holds_type = wanted_type is not None and bool(wanted_type.search(text))
            if searcher.is_heading(row) and not (wanted_type is DATE and holds_type):
                # A heading names the topic; only a dated one (a dateline, "... Press Conference
                # on February 9, 2022") answers, and only "when": quoting headings for other
                # questions cost more answers than it gained on the labelled sets.
                continue
            if _is_fragment(text) and not holds_type:
                continue  # "Published: Aug 14, 2025 10:06 PM" answers no "where" question
            score = (
                float(retrieval.sentence_scores[row])
                + policy.keyword_weight * _overlap(wanted, text)
                - policy.rank_weight * rank
                + _structure_bonus(searcher, row, hit.row, text, subject, policy)
            )
            if row not in scored or scored[row].score < score:
                scored[row] = _Choice(hit.row, row, score, holds_type)
    return _best_and_close_second(list(scored.values()), searcher, policy)


def _structure_bonus(
    searcher: Searcher, row: int, passage: int, text: str, subject: str | None, policy: Policy
) -> float:
    """What a sentence's place says of it: code answers only when clearly best; the first
    sentence under a term states what the term is; a sentence defining the asked subject."""
    if searcher.is_code(row):
        return -policy.code_penalty
    bonus = policy.entry_weight if _follows_term(searcher, row, passage) else 0.0
    if subject is not None and defines(subject, text):
        bonus += policy.definition_weight
    return bonus


def _follows_term(searcher: Searcher, row: int, passage: int) -> bool:
    rows = searcher.sentences_in(passage)
    return row - 1 >= int(rows[0]) and searcher.is_term(row - 1)


def _best_and_close_second(
    candidates: list[_Choice], searcher: Searcher, policy: Policy
) -> list[_Choice]:
    ranked = sorted(candidates, key=lambda c: -c.score)
    typed = [c for c in ranked if c.holds_type]
    if typed and typed[0].score >= policy.second_within * ranked[0].score:
        # "When ...?" is answered by the sentence with a date in it, when it is nearly as good.
        ranked = typed
    # A sentence the documents print twice (a quote, a copy spelling "US" for "U.S.") is cited
    # in the best-ranked passage holding it; candidates come in passage rank order.
    best = [next(c for c in candidates if searcher.same_sentence(c.sentence, ranked[0].sentence))]
    runners_up = (c for c in ranked[1:] if not searcher.same_sentence(c.sentence, best[0].sentence))
    second = next(runners_up, None)
    if second is not None and second.score >= policy.second_within * ranked[0].score:
        best.append(second)
    return best


FRAGMENT_WORDS = 4  # a "sentence" with fewer words of three letters or more is a label or date


def _is_fragment(text: str) -> bool:
    return len(LETTER_WORD.findall(text)) < FRAGMENT_WORDS


def _overlap(wanted: dict[str, float], text: str) -> float:
    """Share of the question's content weight the sentence contains (coverage, per sentence)."""
    present = set(terms(text))
    return sum(share for term, share in wanted.items() if term in present)


def _quote(chosen: list[_Choice], searcher: Searcher, rank_of: dict[int, int]) -> str:
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
                if _follows_term(searcher, first.sentence, first.passage)
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


def _adjacent(a: _Choice, b: _Choice) -> bool:
    return a.passage == b.passage and b.sentence == a.sentence + 1


def _cite(rank: int, hit: Hit, searcher: Searcher, chosen: list[_Choice]) -> CitedPassage:
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
        page=passage.page,
        text=passage.text,
        heading=passage.heading,
        score=hit.score,
        also_in=also,
        answer_spans=spans,
    )
