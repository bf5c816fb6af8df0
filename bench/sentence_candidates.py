"""Does a question need every sentence of the index scored? The labelled sets with and without
the sentence-level candidate source.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/sentence_candidates.py [--sets seeds,git,...]

Today qa.query.search.Searcher scores the question against every sentence vector of the index
(a (sentences x 384) product per question: at 100,000 passages a third of the question's time,
docs/scale.md) for two uses: the best sentence of each candidate passage (a fused signal, and
the quote), and a third candidate source, the passages of the 100 best sentences anywhere.
Only the second needs every sentence; without it, a question needs the sentences of the
candidate passages only (dense top 50 + BM25 top 50: a few hundred dot products). This runs
`qa eval` on each labelled set as it is and with that source left out (monkeypatched here,
nothing in src/ changes), each variant calibrated on its own, and prints recall@1, MRR@10 and
answer-hit side by side. Real model, real documents; asserts nothing.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from common import ROOT

from qa.index.build import build_index
from qa.query import evaluate, search
from qa.query.engine import Engine, single_threaded_blas
from qa.settings import Settings

SETS = {  # set -> its documents
    "seeds": ROOT / "seeds",
    "heldout": ROOT / "seeds",
    "literal": ROOT / "seeds",
    "git": ROOT / "eval" / "corpora" / "git" / "docs",
    "postgresql": ROOT / "eval" / "corpora" / "postgresql" / "docs",
    "black": ROOT / "eval" / "corpora" / "black" / "docs",
    "r-data": ROOT / "eval" / "corpora" / "r-data" / "docs",
}
METRICS = ("recall@1", "mrr@10", "answer_hit", "abstention_accuracy")
ORIGINAL = search.Searcher._candidates


def without_sentence_source(
    self: search.Searcher,
    query: search.Query,
    keyword: np.ndarray,
    sentence_scores: np.ndarray,
    allowed: np.ndarray | None,
) -> np.ndarray:
    """Searcher._candidates minus the passages of the best sentences of the whole index."""
    _, dense_rows = self.index.backend.search(
        query.vector[None, :], search.CANDIDATES, allowed=allowed
    )
    rows = np.concatenate(
        [dense_rows[0][dense_rows[0] >= 0], search._top(keyword, search.CANDIDATES)]
    )
    rows = np.unique(rows[rows >= 0])
    return rows if allowed is None else np.intersect1d(rows, allowed)


def measure(settings: Settings, items: list[evaluate.Item]) -> dict[str, Any]:
    shutil.rmtree(settings.cache / "calibration", ignore_errors=True)  # the bar of this variant
    engine = Engine.open(settings)
    engine.warm()
    texts = {d.source: d.text for d in engine.index.documents}
    outcomes = evaluate.run(
        items,
        lambda item: engine.ask(item.question, history=item.history, top_k=evaluate.RANKS),
        texts.__getitem__,
    )
    return evaluate.metrics(outcomes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(SETS))
    args = parser.parse_args()
    single_threaded_blas()
    root = Path(tempfile.mkdtemp(prefix="qa-sentences-"))
    cache = root / "cache"  # the model's export once; each variant's calibration apart
    indexes: dict[Path, Settings] = {}
    print(f"{'set':<11} {'variant':<22} " + " ".join(f"{m[:10]:>10}" for m in METRICS))
    for name in args.sets.split(","):
        docs = SETS[name]
        if docs not in indexes:
            settings = Settings.from_env(docs=docs, index=root / f"index-{name}", cache=cache)
            build_index(settings)
            indexes[docs] = settings
        items = evaluate.read_items(ROOT / "eval" / f"{name}.jsonl")
        for label, candidates in (
            ("every sentence (today)", ORIGINAL),
            ("candidates' only", without_sentence_source),
        ):
            search.Searcher._candidates = candidates  # type: ignore[method-assign]
            result = measure(indexes[docs], items)
            cells = " ".join(f"{result[m]:>10.3f}" for m in METRICS)
            print(f"{name:<11} {label:<22} {cells}", flush=True)
    search.Searcher._candidates = ORIGINAL  # type: ignore[method-assign]
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
