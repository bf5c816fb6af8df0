"""The baselines issue 3 compares against, on each labelled set beside `qa` itself.

- BM25 over 200-word windows (stride 100, so no evidence is cut in two), the question alone;
- the dense cosine over the same 200-word windows (the bundled model), the question alone;
- the dense passage cosine alone (qa's passages, every other signal weighted 0);
- qa as shipped, with its answer-level figures (answer-hit, refusals).
Prints recall@1, recall@5 and MRR@10 over the answerable questions of eval/seeds.jsonl,
eval/heldout.jsonl and eval/literal.jsonl; or, with --docs and --set, of other sets written on
another folder (e.g. `--docs eval/corpora/git/docs --set eval/git.jsonl`).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
from common import add_corpus_options, corpus_from, machine, shown

from qa.embed.base import Embedder
from qa.embed.embedder import load_embedder
from qa.index.keyword import KeywordIndex
from qa.query import evaluate
from qa.query.answer import Answer
from qa.query.engine import Engine
from qa.query.search import Weights

WINDOW_WORDS = 200
STRIDE_WORDS = 100


def windows(text: str) -> list[str]:
    words = [m.span() for m in re.finditer(r"\S+", text)]
    starts = range(0, max(1, len(words) - STRIDE_WORDS), STRIDE_WORDS)
    return [text[words[i][0] : words[min(i + WINDOW_WORDS, len(words)) - 1][1]] for i in starts]


def _rank(order: Any, texts: list[str], evidence: str) -> int | None:
    found = (n for n, row in enumerate(order, 1) if evidence in evaluate.normalise(texts[row]))
    return next(found, None)


def bm25_windows_ranks(engine: Engine, items: list[evaluate.Item]) -> list[int | None]:
    texts = [w for d in engine.index.documents for w in windows(d.text)]
    keywords = KeywordIndex.build(texts)
    ranks = []
    for item in items:
        assert item.evidence is not None
        order = keywords.scores(item.question).argsort()[::-1][: evaluate.RANKS]
        ranks.append(_rank(order, texts, evaluate.normalise(item.evidence)))
    return ranks


def dense_windows_ranks(
    engine: Engine, model: Embedder, items: list[evaluate.Item]
) -> list[int | None]:
    texts = [w for d in engine.index.documents for w in windows(d.text)]
    vectors = model.embed(texts)
    questions = model.embed([item.question for item in items])
    ranks = []
    for item, query in zip(items, questions, strict=True):
        assert item.evidence is not None
        order = np.argsort(-(vectors @ query))[: evaluate.RANKS]
        ranks.append(_rank(order, texts, evaluate.normalise(item.evidence)))
    return ranks


def engine_outcomes(engine: Engine, items: list[evaluate.Item]) -> list[evaluate.Outcome]:
    texts = {d.source: d.text for d in engine.index.documents}

    def ask(item: evaluate.Item) -> Answer:
        return engine.ask(item.question, history=item.history, top_k=evaluate.RANKS)

    return evaluate.run(items, ask, texts.get)


def engine_ranks(engine: Engine, items: list[evaluate.Item]) -> list[int | None]:
    return [o.rank for o in engine_outcomes(engine, items)]


def rank_figures(ranks: list[int | None]) -> dict[str, float]:
    n = len(ranks)
    return {
        "recall@1": round(sum(r == 1 for r in ranks) / n, 4),
        "recall@5": round(sum(r is not None and r <= 5 for r in ranks) / n, 4),
        "mrr@10": round(sum(1 / r for r in ranks if r) / n, 4),
    }


def report(name: str, figures: dict[str, Any]) -> None:
    ranks = "  ".join(f"{key} {figures[key]:.3f}" for key in ("recall@1", "recall@5", "mrr@10"))
    extra = ""
    if "answer_hit" in figures:
        extra = (
            f"  answer-hit {figures['answer_hit']:.3f}"
            f"  unanswerable refused {figures['abstention_accuracy']:.3f}"
            f"  answerable refused {figures['wrongly_refused']:.3f}"
        )
    print(f"  {name:34} {ranks}{extra}")


def measure(
    shipped: Engine, dense_only: Engine, model: Embedder, path: Path
) -> dict[str, dict[str, Any]]:
    items = evaluate.read_items(path)
    answerable = [i for i in items if i.evidence is not None]
    return {
        "BM25, 200-word windows": rank_figures(bm25_windows_ranks(shipped, answerable)),
        "dense cosine, 200-word windows": rank_figures(
            dense_windows_ranks(shipped, model, answerable)
        ),
        "dense passage cosine alone": rank_figures(engine_ranks(dense_only, answerable)),
        "qa (hybrid, as shipped)": evaluate.metrics(engine_outcomes(shipped, items)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_corpus_options(parser)
    parser.add_argument("--json", action="store_true", help="also print one JSON line per set")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    settings, sets = corpus_from(args)
    model = load_embedder(settings)
    shipped = Engine.open(settings, embedder_factory=lambda: model)
    dense_only = Engine(
        settings, shipped.index, weights=Weights(1, 0, 0, 0), embedder_factory=lambda: model
    )
    for path in sets:
        systems = measure(shipped, dense_only, model, path)
        answerable = systems["qa (hybrid, as shipped)"]["answerable"]
        print(f"{shown(path)}: {answerable} answerable questions")
        for name, figures in systems.items():
            report(name, figures)
        if args.json:
            print(json.dumps({"set": shown(path), "systems": systems}))


if __name__ == "__main__":
    main()
