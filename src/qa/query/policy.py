"""When qa answers and which sentences it quotes: the constants behind answer choice, chosen on
the labelled sets (bench/tune_retrieval.py, docs/evaluation.md)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Policy"]


@dataclass(frozen=True)
class Policy:
    """When to answer, and which sentences; chosen on the labelled set (bench/tune_retrieval.py)."""

    abstain_below: float = 0.46  # answerability() of the top hit; the floor when calibrated
    unknown_name_penalty: float = 0.2  # the question names something no passage contains
    calibrated: bool = True  # raise the bar to what off-topic probes reach (qa.query.calibration)
    weak_below: float = 0.9  # answered, but flagged as a weak match (WEAK_MATCH) below this
    quote_from: int = 2  # answer sentences come from the top few passages
    keyword_weight: float = 0.1  # share of the question's content weight a sentence contains
    rank_weight: float = 0.0  # per rank: a sentence from passage 1 beats a tie from passage 3
    second_within: float = 0.8  # quote a second sentence scoring at least this share of the best
    definition_weight: float = 0.1  # for "What is X?": a sentence saying what X is
    entry_weight: float = 0.05  # the first sentence of an API entry or definition term
    code_penalty: float = 0.1  # code answers only when clearly best; quoted as code
    short_sentence: int = 14  # words: a shorter best sentence is quoted with the next one ...
    sequel_within: float = 0.3  # ... when that one's cosine is at least this share of its
