"""How sure an answer must be, measured on each index: the bar for answering rises with how well
questions about other subjects happen to match this collection.

A question about cooking scores 0.2 on a news corpus but 0.4 on technical documentation, whose
plain how-to prose matches any how-to question a little. One fixed bar either answers off-topic
questions on documentation or refuses real ones on news. So each index is probed with questions
on subjects no document collection of qa's users is likely to hold, and the bar is set above
what they reach: their mean plus SPREAD standard deviations, never below the policy's own floor
and never above CEILING (a collection that does hold some probes' subjects must not refuse all).
The probes are not the labelled sets' questions; the bar's constants were chosen on the seeds,
Git, PostgreSQL, Black and R sets together (docs/evaluation.md).
"""

from __future__ import annotations

import hashlib
import json
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["PROBES", "Calibration", "cached_calibration", "calibrate"]

SPREAD = 2.2
CEILING = 0.75
VERSION = 1  # of the probes and the formula: a cached figure of another version is redone

PROBES: tuple[str, ...] = (
    "What is the boiling point of olive oil?",
    "How do I teach my dog to sit?",
    "Who painted the Mona Lisa?",
    "What year did the Titanic sink?",
    "How many strings does a cello have?",
    "What is the best way to clean suede shoes?",
    "How do I make a paper airplane that flies far?",
    "Which country has the longest coastline?",
    "How long does it take to fly from London to Tokyo?",
    "What causes the northern lights?",
    "How do I change a car tyre?",
    "What is a good stretching routine before running?",
    "Who invented the telephone?",
    "How do I grow strawberries on a balcony?",
    "What is the difference between baking soda and baking powder?",
    "How many moons does Jupiter have?",
    "What is the rule for a touchdown in American football?",
    "How do I write a cover letter for a job application?",
    "Which vitamins are in spinach?",
    "How do I fold a fitted sheet?",
    "What is the tallest building in the world?",
    "How do I pair Bluetooth headphones with my laptop?",
    "How do I set up a VPN on my phone?",
    "What is the best budget smartphone camera?",
    "How do I recover a deleted photo on Android?",
    "How do I speed up a slow Wi-Fi connection?",
    "What is the plot of Hamlet?",
    "How do I calculate compound interest?",
    "What language is spoken in Brazil?",
    "How do I remove a stripped screw?",
    "What is the capital of Canada?",
    "How often should I change my car's oil?",
    "What temperature should a fridge be set to?",
    "How do I knit a scarf?",
    "Who composed the Four Seasons?",
    "How do I make cold brew coffee?",
    "What is photosynthesis?",
    "How do I install a ceiling fan?",
    "What are the symptoms of dehydration?",
    "How do I sign up for a library card?",
)


@dataclass(frozen=True)
class Calibration:
    """What the probes reached on one index: the mean and spread of their answerability."""

    mean: float
    deviation: float
    probes: int

    def abstain_below(self, floor: float) -> float:
        return min(CEILING, max(floor, self.mean + SPREAD * self.deviation))


def calibrate(answerability: Callable[[str], float]) -> Calibration:
    """Probe with every question of PROBES; `answerability` scores one against the index."""
    scores = [answerability(probe) for probe in PROBES]
    return Calibration(statistics.fmean(scores), statistics.pstdev(scores), len(scores))


def cached_calibration(
    folder: Path, manifest: dict[str, Any], measure: Callable[[], Calibration]
) -> Calibration:
    """The calibration of the index `manifest` describes, from `folder` when measured before
    (the manifest names every file's checksum, so equal manifests mean equal indexes), else
    measured and kept there; a cache that cannot be written or read is a cost, not an error."""
    digest = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()
    path = folder / f"{digest[:32]}.json"
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        if saved.get("version") == VERSION:
            return Calibration(
                float(saved["mean"]), float(saved["deviation"]), int(saved["probes"])
            )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    calibration = measure()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps({"version": VERSION, **asdict(calibration)}), "utf-8")
        partial.replace(path)
    except OSError:
        pass
    return calibration
