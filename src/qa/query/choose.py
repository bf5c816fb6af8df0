"""Which sentences of the top passages answer the question: the best-scoring one, helped by
what the question asks for (a date, a number, a name, a definition) and by the sentence's place
(the first under an API entry; code only when clearly best), its runner-up when nearly as good,
and the next sentence when the best is too short to stand alone."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qa.index.keyword import LETTER_WORD, terms
from qa.query.asked import DATE, answer_type, defined_subject, defines
from qa.query.policy import Policy
from qa.query.search import Retrieval, Searcher

__all__ = ["Choice", "choose_sentences", "follows_term", "with_sequel"]


@dataclass(frozen=True)
class Choice:
    passage: int  # row in Index.passages
    sentence: int  # row in Index.sentences
    score: float
    holds_type: bool  # holds what the question asks for (a date, a number, a name)


def choose_sentences(
    question: str, retrieval: Retrieval, searcher: Searcher, policy: Policy
) -> list[Choice]:
    """The best-scoring sentence of the top passages, and the runner-up when nearly as good."""
    wanted = searcher.index.backend.content_shares([(t, 1.0) for t in terms(question)])
    wanted_type = answer_type(question)
    subject = defined_subject(question)
    scored: dict[int, Choice] = {}
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
                scored[row] = Choice(hit.row, row, score, holds_type)
    return _best_and_close_second(list(scored.values()), searcher, policy)


def _structure_bonus(
    searcher: Searcher, row: int, passage: int, text: str, subject: str | None, policy: Policy
) -> float:
    """What a sentence's place says of it: code answers only when clearly best; the first
    sentence under a term states what the term is; a sentence defining the asked subject."""
    if searcher.is_code(row):
        return -policy.code_penalty
    bonus = policy.entry_weight if follows_term(searcher, row, passage) else 0.0
    if subject is not None and defines(subject, text):
        bonus += policy.definition_weight
    return bonus


def follows_term(searcher: Searcher, row: int, passage: int) -> bool:
    rows = searcher.sentences_in(passage)
    return row - 1 >= int(rows[0]) and searcher.is_term(row - 1)


def _best_and_close_second(
    candidates: list[Choice], searcher: Searcher, policy: Policy
) -> list[Choice]:
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


def with_sequel(
    chosen: list[Choice], scores: np.ndarray, searcher: Searcher, policy: Policy
) -> list[Choice]:
    """A short best sentence ("How many characters per line to allow.") seldom answers alone:
    the next sentence of its paragraph ("The default is 88.") is quoted with it when it too is
    about the question (its cosine, `scores`, at least `sequel_within` of the best's)."""
    best = chosen[0]
    if len(searcher.sentence_text(best.sentence).split()) >= policy.short_sentence:
        return chosen
    sequel = best.sentence + 1
    rows = searcher.sentences_in(best.passage)
    if not len(rows) or sequel > int(rows[-1]) or any(c.sentence == sequel for c in chosen):
        return chosen
    if searcher.is_heading(sequel) or searcher.is_code(sequel):
        return chosen
    if not searcher.same_paragraph(best.sentence, sequel):
        return chosen
    if scores[sequel] < policy.sequel_within * scores[best.sentence]:
        return chosen
    return [best, Choice(best.passage, sequel, best.score, best.holds_type), *chosen[1:]]


FRAGMENT_WORDS = 4  # a "sentence" with fewer words of three letters or more is a label or date


def _is_fragment(text: str) -> bool:
    return len(LETTER_WORD.findall(text)) < FRAGMENT_WORDS


def _overlap(wanted: dict[str, float], text: str) -> float:
    """Share of the question's content weight the sentence contains (coverage, per sentence)."""
    present = set(terms(text))
    return sum(share for term, share in wanted.items() if term in present)
