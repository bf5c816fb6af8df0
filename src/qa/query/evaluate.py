"""`qa eval`: retrieval and answer quality on a labelled JSONL set, plus latency."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.errors import QaError
from qa.query.answer import Answer, CitedPassage, Place

RANKS = 10  # passages retrieved per question, for MRR@10


class EvalFileError(QaError):
    pass


@dataclass(frozen=True)
class Item:
    question: str
    evidence: str | None  # None: not answerable from the documents
    history: tuple[str, ...] = ()
    kind: str = ""
    offtopic: bool = False  # unanswerable and about another subject than the documents'


@dataclass(frozen=True)
class Outcome:
    item: Item
    rank: int | None  # 1-based rank of the first passage holding the evidence
    answer_hit: bool
    abstained: bool
    seconds: float
    quoted: int = 0  # sentences the answer quotes: answer-hit alone would reward quoting more


def read_items(path: Path) -> list[Item]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EvalFileError(f"Cannot read {path}: {exc.strerror}.") from None
    items = []
    for number, line in enumerate(lines, 1):
        if line.strip():
            items.append(_item(line, path, number))
    if not items:
        raise EvalFileError(f"{path} holds no questions (one JSON object per line).")
    return items


def _item(line: str, path: Path, number: int) -> Item:
    try:
        row = json.loads(line)
        question = row["question"]
        evidence = None if row.get("answerable") is False else row["evidence"]
        offtopic = evidence is None and row.get("offtopic") is True
        return Item(
            question, evidence, tuple(row.get("history", ())), row.get("kind", ""), offtopic
        )
    except (ValueError, KeyError, TypeError):
        raise EvalFileError(
            f"{path}, line {number}: expected {{'question': ..., 'evidence': ...}} or "
            "{'question': ..., 'answerable': false}."
        ) from None


def normalise(text: str) -> str:
    return " ".join(text.split())


def run(
    items: Iterable[Item], ask: Callable[[Item], Answer], document_text: Callable[[str], str]
) -> list[Outcome]:
    outcomes = []
    for item in items:
        started = time.perf_counter()
        answer = ask(item)
        seconds = time.perf_counter() - started
        outcomes.append(_judge(item, answer, document_text, seconds))
    return outcomes


def _judge(
    item: Item, answer: Answer, document_text: Callable[[str], str], seconds: float
) -> Outcome:
    quoted = sum(len(p.answer_spans) for p in answer.passages)
    if item.evidence is None:
        return Outcome(item, None, False, answer.abstained, seconds, quoted)
    evidence = normalise(item.evidence)

    def holds(place: CitedPassage | Place) -> bool:
        return evidence in normalise(document_text(place.source)[place.start : place.end])

    rank = next((p.rank for p in answer.passages if holds(p) or any(map(holds, p.also_in))), None)
    return Outcome(item, rank, quotes(item, answer), answer.abstained, seconds, quoted)


def quotes(item: Item, answer: Answer) -> bool:
    """The answer quotes the item's evidence (answer-hit)."""
    if item.evidence is None or answer.abstained:
        return False
    return normalise(item.evidence) in normalise(answer.answer)


def metrics(outcomes: list[Outcome]) -> dict[str, Any]:
    answerable = [o for o in outcomes if o.item.evidence is not None]
    unanswerable = [o for o in outcomes if o.item.evidence is None]
    latencies = sorted(o.seconds * 1000 for o in outcomes)
    first = [o.rank == 1 for o in answerable]
    hit = [o.answer_hit for o in answerable]
    offtopic = [o for o in unanswerable if o.item.offtopic]
    out = {
        "questions": len(outcomes),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "recall@1": _share(answerable, lambda o: o.rank == 1),
        "recall@1_ci95": wilson(sum(first), len(first)),
        "recall@5": _share(answerable, lambda o: o.rank is not None and o.rank <= 5),
        "mrr@10": _mean([1 / o.rank if o.rank else 0.0 for o in answerable]),
        "answer_hit": _share(answerable, lambda o: o.answer_hit),
        "answer_hit_ci95": wilson(sum(hit), len(hit)),
        "sentences_quoted": _mean([o.quoted for o in answerable if not o.abstained]),
        "abstention_accuracy": _share(unanswerable, lambda o: o.abstained),
        "wrongly_refused": _share(answerable, lambda o: o.abstained),
        "latency_ms_p50": round(_percentile(latencies, 50), 2),
        "latency_ms_p95": round(_percentile(latencies, 95), 2),
    }
    if offtopic:  # items marked "offtopic": true; a set without them has no such figure
        out["offtopic_refused"] = _share(offtopic, lambda o: o.abstained)
    return out


def wilson(successes: int, trials: int, *, z: float = 1.96) -> list[float]:
    """95% Wilson score interval of a share: with a hundred questions a figure moves by several
    points from one sample of questions to another, and a target may lie outside it."""
    if not trials:
        return [0.0, 0.0]
    share = successes / trials
    scale = 1 + z * z / trials
    centre = (share + z * z / (2 * trials)) / scale
    half = z * math.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials)) / scale
    return [round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)]


def failures(outcomes: list[Outcome]) -> list[dict[str, Any]]:
    out = []
    for o in outcomes:
        bad = o.abstained if o.item.evidence is None else (o.rank != 1 or not o.answer_hit)
        if (o.item.evidence is None and not o.abstained) or (o.item.evidence and bad):
            out.append(
                {
                    "question": o.item.question,
                    "rank": o.rank,
                    "answer_hit": o.answer_hit,
                    "abstained": o.abstained,
                    "kind": o.item.kind,
                }
            )
    return out


def below(result: dict[str, Any], thresholds: dict[str, float]) -> list[str]:
    """Thresholds not met: a minimum for quality, a maximum for wrongly_refused and latency."""
    misses = []
    for name, limit in thresholds.items():
        value = result.get(name)
        upper = name == "wrongly_refused" or name.startswith("latency")
        if value is None or (value > limit if upper else value < limit):
            misses.append(f"{name} = {value} ({'above' if upper else 'below'} {limit})")
    return misses


def _share(outcomes: list[Outcome], test: Callable[[Outcome], bool]) -> float:
    return round(sum(1 for o in outcomes if test(o)) / len(outcomes), 4) if outcomes else 0.0


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    position = min(len(sorted_values) - 1, round(q / 100 * (len(sorted_values) - 1)))
    return sorted_values[position]
