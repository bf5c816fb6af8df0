"""qa beside txtai's hybrid search (the issue's reference), on the same passages, model and
questions.

txtai indexes qa's own passages (the text a user would see) with the bundled all-MiniLM-L6-v2
and `hybrid=True` (its BM25 + dense fusion, default weights), so the comparison is the ranking
alone; then the 200-word windows of the issue's BM25 baseline (bench/baselines.py). A follow-up
is asked of txtai twice: alone, and after its previous question (txtai has no conversation).
Prints recall@1 / MRR@10 over the answerable questions of each labelled set, and warm in-process
latency (txtai: the search; qa: search and answer). Needs txtai, which qa does not depend on:
`pip install -e '.[bench]'`; without it the script says so and exits. --docs and --set measure
sets written on another folder, as in bench/baselines.py.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
from pathlib import Path
from typing import Any

from baselines import bm25_windows_ranks, engine_outcomes, engine_ranks, windows
from common import add_corpus_options, corpus_from, machine, shown

from qa.embed.base import Embedder
from qa.embed.embedder import load_embedder
from qa.query import evaluate
from qa.query.engine import Engine
from qa.query.search import Weights
from qa.settings import bundled_model_path

# Issue 3's figures on the maintainers' held-out set (recall@1), which we cannot see.
MAINTAINERS_BM25 = 0.88
MAINTAINERS = {
    "dense passage cosine alone": "0.73 / -",
    "txtai hybrid, 200-word windows": "0.90 / 0.93",
}


def txtai_index(texts: list[str]) -> Any:
    from txtai import Embeddings  # optional, so imported only here

    embeddings = Embeddings(path=str(bundled_model_path()), hybrid=True, content=False)
    embeddings.index([(row, text, None) for row, text in enumerate(texts)])
    embeddings.search("warm up", 1)
    return embeddings


def txtai_ranks(
    embeddings: Any, passages: list[str], items: list[evaluate.Item], *, with_history: bool
) -> tuple[list[int | None], list[float]]:
    ranks: list[int | None] = []
    seconds: list[float] = []
    texts = [evaluate.normalise(text) for text in passages]
    for item in items:
        assert item.evidence is not None
        query = " ".join([*item.history[-1:], item.question]) if with_history else item.question
        started = time.perf_counter()
        found = embeddings.search(query, evaluate.RANKS)
        seconds.append(time.perf_counter() - started)
        evidence = evaluate.normalise(item.evidence)
        rows = [int(row) for row, _ in found]
        ranks.append(next((n for n, r in enumerate(rows, 1) if evidence in texts[r]), None))
    return ranks, seconds


def qa_ranks(engine: Engine, items: list[evaluate.Item]) -> tuple[list[int | None], list[float]]:
    outcomes = engine_outcomes(engine, items)
    return [o.rank for o in outcomes], [o.seconds for o in outcomes]


def report(name: str, ranks: list[int | None], seconds: list[float]) -> None:
    recall = sum(r == 1 for r in ranks) / len(ranks)
    mrr = sum(1 / r for r in ranks if r) / len(ranks)
    p50 = statistics.median(seconds) * 1000
    print(f"  {name:45} recall@1 {recall:.3f}  MRR@10 {mrr:.3f}  p50 {p50:6.2f} ms")


def reweighted(ranks: list[int | None], bm25_found: list[bool]) -> tuple[float, float]:
    """recall@1 and MRR@10 on a set where BM25 windows find MAINTAINERS_BM25 of the questions:
    our questions weighted by whether BM25 finds them (theirs are more literal than ours)."""

    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    def both(keep: bool) -> tuple[float, float]:
        picked = [r for r, found in zip(ranks, bm25_found, strict=True) if found == keep]
        return mean([r == 1 for r in picked]), mean([1 / r if r else 0.0 for r in picked])

    (recall_found, mrr_found), (recall_missed, mrr_missed) = both(True), both(False)
    share = MAINTAINERS_BM25
    return (
        share * recall_found + (1 - share) * recall_missed,
        share * mrr_found + (1 - share) * mrr_missed,
    )


def estimate(
    engine: Engine, model: Embedder, windows_index: tuple[list[str], Any], sets: list[Path]
) -> None:
    items = [i for path in sets for i in evaluate.read_items(path) if i.evidence]
    dense = Engine(
        engine.settings, engine.index, weights=Weights(1, 0, 0, 0), embedder_factory=lambda: model
    )
    systems = {
        "dense passage cosine alone": engine_ranks(dense, items),
        "txtai hybrid, 200-word windows": txtai_ranks(
            windows_index[1], windows_index[0], items, with_history=False
        )[0],
        "qa (as shipped)": engine_ranks(engine, items),
    }
    found = [r == 1 for r in bm25_windows_ranks(engine, items)]
    print(f"all sets reweighted to BM25 windows recall@1 {MAINTAINERS_BM25} (the maintainers'):")
    for name, ranks in systems.items():
        recall, mrr = reweighted(ranks, found)
        known = f"  (issue 3 measured {MAINTAINERS[name]})" if name in MAINTAINERS else ""
        print(f"  {name:45} recall@1 {recall:.3f}  MRR@10 {mrr:.3f}{known}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_corpus_options(parser)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    if importlib.util.find_spec("txtai") is None:
        print("txtai is not installed: pip install -e '.[bench]' to compare with it")
        return
    settings, sets = corpus_from(args)
    model = load_embedder(settings)  # one model for qa and the dense baseline
    engine = Engine.open(settings, embedder_factory=lambda: model)
    engine.warm()
    chunkings = {
        "qa's passages": [p.text for p in engine.index.passages],
        "200-word windows": [w for d in engine.index.documents for w in windows(d.text)],
    }
    indexes = {name: (texts, txtai_index(texts)) for name, texts in chunkings.items()}
    compare(engine, indexes, sets)
    estimate(engine, model, indexes["200-word windows"], sets)


def compare(engine: Engine, indexes: dict[str, tuple[list[str], Any]], sets: list[Path]) -> None:
    for path in sets:
        items = [i for i in evaluate.read_items(path) if i.evidence is not None]
        print(f"{shown(path)}: {len(items)} answerable questions")
        for chunking, (texts, embeddings) in indexes.items():
            for with_history in (False, True):
                label = f"txtai hybrid, {chunking}" + (", +history" if with_history else "")
                report(label, *txtai_ranks(embeddings, texts, items, with_history=with_history))
        engine.clear_caches()
        report("qa (as shipped, incl. the answer)", *qa_ranks(engine, items))


if __name__ == "__main__":
    main()
