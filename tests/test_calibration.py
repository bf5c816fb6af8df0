"""The bar for answering, measured per index (qa.query.calibration)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.query.calibration import CEILING, PROBES, SPREAD, Calibration, cached_calibration, calibrate


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
