"""Which sentences are quoted (qa.query.choose), on a hand-written stand-in for a Searcher."""

from __future__ import annotations

import numpy as np
import pytest

from qa.query.choose import Choice, with_sequel
from qa.query.policy import Policy


class _Sentences:
    """What with_sequel asks of a Searcher, over a hand-written document."""

    def __init__(self, text: str, spans: list[tuple[int, int]], kinds: dict[int, str]) -> None:
        self.text, self.spans, self.kinds = text, spans, kinds

    def sentence_text(self, row: int) -> str:
        start, end = self.spans[row]
        return self.text[start:end]

    def sentences_in(self, row: int) -> np.ndarray:
        return np.arange(len(self.spans))

    def is_heading(self, row: int) -> bool:
        return self.kinds.get(row) == "heading"

    def is_code(self, row: int) -> bool:
        return self.kinds.get(row) == "code"

    def same_paragraph(self, first: int, second: int) -> bool:
        return "\n\n" not in self.text[self.spans[first][1] : self.spans[second][0]]


TEXT = "How many characters per line to allow. The default is 88.\n\nOther text here."
SPANS = [
    (TEXT.index(s), TEXT.index(s) + len(s))
    for s in ("How many characters per line to allow.", "The default is 88.", "Other text here.")
]


@pytest.mark.parametrize(
    ("best", "kinds", "quoted"),
    [
        (0, {}, [0, 1]),  # short: the next sentence of its paragraph completes it
        (1, {}, [1]),  # the next sentence is in another paragraph
        (0, {1: "code"}, [0]),  # code is never a sequel
        (2, {}, [2]),  # the last sentence has none
    ],
)
def test_a_short_best_sentence_is_quoted_with_the_next_of_its_paragraph(
    best: int, kinds: dict[int, str], quoted: list[int]
) -> None:
    searcher = _Sentences(TEXT, SPANS, kinds)
    scores = np.array([0.6, 0.4, 0.5])
    chosen = with_sequel([Choice(0, best, 1.0, False)], scores, searcher, Policy())  # type: ignore[arg-type]
    assert [c.sentence for c in chosen] == quoted


def test_a_sequel_about_something_else_is_left_out() -> None:
    searcher = _Sentences(TEXT, SPANS, {})
    scores = np.array([0.6, 0.17, 0.5])  # under 0.3 of the best's cosine
    chosen = with_sequel([Choice(0, 0, 1.0, False)], scores, searcher, Policy())  # type: ignore[arg-type]
    assert [c.sentence for c in chosen] == [0]
