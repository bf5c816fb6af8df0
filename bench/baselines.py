"""The baselines issue 3 compares against, on each labelled set beside `qa` itself.

- BM25 over 200-word windows (stride 100, so no evidence is cut in two), the question alone;
- the dense passage cosine alone (qa's passages, every other signal weighted 0);
- qa as shipped.
Prints recall@1 and MRR@10 over the answerable questions of eval/seeds.jsonl,
eval/heldout.jsonl and eval/literal.jsonl.
"""

from __future__ import annotations

import re

from common import ROOT, machine, seeds_index

from qa import evaluate
from qa.answer import Answer
from qa.embedding import load_embedder
from qa.engine import Engine
from qa.keyword import KeywordIndex
from qa.search import Weights

WINDOW_WORDS = 200
STRIDE_WORDS = 100
SETS = ("seeds.jsonl", "heldout.jsonl", "literal.jsonl")


def windows(text: str) -> list[str]:
    words = [m.span() for m in re.finditer(r"\S+", text)]
    starts = range(0, max(1, len(words) - STRIDE_WORDS), STRIDE_WORDS)
    return [text[words[i][0] : words[min(i + WINDOW_WORDS, len(words)) - 1][1]] for i in starts]


def bm25_windows_ranks(engine: Engine, items: list[evaluate.Item]) -> list[int | None]:
    texts = [w for d in engine.index.documents for w in windows(d.text)]
    keywords = KeywordIndex.build(texts)
    ranks = []
    for item in items:
        assert item.evidence is not None
        evidence = evaluate.normalise(item.evidence)
        order = keywords.scores(item.question).argsort()[::-1][: evaluate.RANKS]
        found = (n for n, row in enumerate(order, 1) if evidence in evaluate.normalise(texts[row]))
        ranks.append(next(found, None))
    return ranks


def engine_outcomes(engine: Engine, items: list[evaluate.Item]) -> list[evaluate.Outcome]:
    texts = {d.source: d.text for d in engine.index.documents}

    def ask(item: evaluate.Item) -> Answer:
        return engine.ask(item.question, history=item.history, top_k=evaluate.RANKS)

    return evaluate.run(items, ask, texts.get)


def engine_ranks(engine: Engine, items: list[evaluate.Item]) -> list[int | None]:
    return [o.rank for o in engine_outcomes(engine, items)]


def report(name: str, ranks: list[int | None]) -> None:
    recall = sum(r == 1 for r in ranks) / len(ranks)
    mrr = sum(1 / r for r in ranks if r) / len(ranks)
    print(f"  {name:34} recall@1 {recall:.3f}  MRR@10 {mrr:.3f}")


def main() -> None:
    print(f"machine: {machine()}")
    settings = seeds_index()
    model = load_embedder(settings)
    shipped = Engine.open(settings, embedder_factory=lambda: model)
    dense_only = Engine(
        settings, shipped.index, weights=Weights(1, 0, 0, 0), embedder_factory=lambda: model
    )
    for name in SETS:
        items = [i for i in evaluate.read_items(ROOT / "eval" / name) if i.evidence is not None]
        print(f"eval/{name}: {len(items)} answerable questions")
        report("BM25, 200-word windows", bm25_windows_ranks(shipped, items))
        report("dense passage cosine alone", engine_ranks(dense_only, items))
        report("qa (hybrid, as shipped)", engine_ranks(shipped, items))


if __name__ == "__main__":
    main()
