"""How the ranking weights and the abstention threshold were chosen, reproducibly.

Prints recall@1 / MRR@10 over a grid of signal weights, then, for a range of abstention
thresholds, how many answerable questions would be refused and how many unanswerable ones
answered (the trade-off behind answer.Policy.abstain_below).
"""

from __future__ import annotations

import itertools

from common import ROOT, seeds_index

from qa import evaluate
from qa.answer import Policy, answerability
from qa.embedding import load_embedder
from qa.engine import Engine
from qa.search import Searcher, Weights


def weight_grid(engine: Engine, items: list[evaluate.Item], texts: dict[str, str]) -> None:
    model = load_embedder(engine.settings)
    print("passage sentence keyword  recall@1  mrr@10")
    rows = []
    for passage, sentence in itertools.product([0.2, 0.35, 0.5, 0.65], repeat=2):
        keyword = round(1 - passage - sentence, 2)
        if keyword < 0:
            continue
        weights = Weights(passage, sentence, keyword)
        tuned = Engine(
            engine.settings, engine.index, weights=weights, embedder_factory=lambda: model
        )
        outcomes = evaluate.run(
            items, lambda i, e=tuned: e.ask(i.question, history=i.history, top_k=10), texts.get
        )
        m = evaluate.metrics(outcomes)
        rows.append((m["recall@1"], m["mrr@10"], passage, sentence, keyword))
    for r1, mrr, p, s, k in sorted(rows, reverse=True):
        print(f"{p:7} {s:8} {k:7}  {r1:8.3f}  {mrr:6.3f}")


def threshold_table(engine: Engine, items: list[evaluate.Item]) -> None:
    scores = []
    searcher = Searcher(engine.index)
    for item in items:
        query, retrieval = engine.retrieve(item.question, item.history)
        hits = retrieval.hits
        value = answerability(query.terms, hits[0], searcher) if hits else 0.0
        scores.append((item.evidence is not None, value))
    answerable = [v for ok, v in scores if ok]
    unanswerable = [v for ok, v in scores if not ok]
    print(
        f"\nthreshold  answerable refused  unanswerable answered   (of {len(answerable)} / "
        f"{len(unanswerable)})"
    )
    for step in range(30, 71, 2):
        t = step / 100
        refused = sum(v < t for v in answerable)
        answered = sum(v >= t for v in unanswerable)
        mark = "  <- Policy.abstain_below" if abs(t - Policy().abstain_below) < 1e-9 else ""
        print(f"{t:9.2f}  {refused:18d}  {answered:21d}{mark}")


def main() -> None:
    settings = seeds_index()
    engine = Engine.open(settings)
    items = evaluate.read_items(ROOT / "eval" / "seeds.jsonl")
    texts = {d.source: d.text for d in engine.index.documents}
    answerable = [i for i in items if i.evidence is not None]
    weight_grid(engine, answerable, texts)
    threshold_table(engine, items)


if __name__ == "__main__":
    main()
