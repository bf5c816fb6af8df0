"""The bar for answering, measured per index (qa.query.calibration) and the short-answer
sequel (qa.query.choose.with_sequel)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qa.query.calibration import CEILING, PROBES, SPREAD, Calibration, cached_calibration, calibrate
from qa.query.choose import Choice, with_sequel
from qa.query.policy import Policy


def test_the_bar_is_the_probes_mean_plus_their_spread_between_floor_and_ceiling() -> None:
    scores = iter([0.2, 0.4] * (len(PROBES) // 2))
    calibration = calibrate(lambda probe: next(scores))
    assert (calibration.mean, calibration.deviation, calibration.probes) == (
        pytest.approx(0.3),
        pytest.approx(0.1),
        40,
    )
    assert calibration.abstain_below(0.46) == pytest.approx(0.3 + SPREAD * 0.1)
    assert Calibration(0.1, 0.01, 40).abstain_below(0.46) == 0.46  # never below the floor
    assert Calibration(0.6, 0.2, 40).abstain_below(0.46) == CEILING  # nor above the ceiling


def test_a_calibration_is_measured_once_per_index_and_a_broken_cache_is_measured_again(
    tmp_path: Path,
) -> None:
    measured: list[int] = []

    def measure() -> Calibration:
        measured.append(1)
        return Calibration(0.3, 0.1, 40)

    manifest = {"files": {"a": "1"}}
    assert cached_calibration(tmp_path, manifest, measure) == Calibration(0.3, 0.1, 40)
    assert cached_calibration(tmp_path, manifest, measure) == Calibration(0.3, 0.1, 40)
    assert len(measured) == 1
    [saved] = tmp_path.iterdir()
    saved.write_text("{not json", encoding="utf-8")
    assert cached_calibration(tmp_path, manifest, measure) == Calibration(0.3, 0.1, 40)
    assert len(measured) == 2
    assert json.loads(saved.read_text(encoding="utf-8"))["mean"] == 0.3
    cached_calibration(tmp_path, {"files": {"a": "2"}}, measure)  # another index
    assert len(measured) == 3


def test_an_unwritable_cache_costs_a_measurement_not_an_error(tmp_path: Path) -> None:
    blocker = tmp_path / "calibration"
    blocker.write_text("a file where the folder should be", encoding="utf-8")
    found = cached_calibration(blocker, {}, lambda: Calibration(0.2, 0.1, 40))
    assert found == Calibration(0.2, 0.1, 40)


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
