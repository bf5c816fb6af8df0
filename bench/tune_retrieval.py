"""How the ranking weights and the abstention threshold were chosen, reproducibly.

Prints recall@1 / MRR@10 over a grid of signal weights, the same figures for weights picked
on one half of the questions and measured on the other, the same with answer-hit for the
stand-ins of question words the documents lack (qa.index.neighbours NEAR and CREDIT), then, for a
range of abstention thresholds, how many answerable questions would be refused and how many
unanswerable ones answered (the trade-off behind answer.Policy.abstain_below), and how many
answers each "weak match" bar flags and how many of those were wrong (Policy.weak_below).
"""

from __future__ import annotations

import itertools
import random
import statistics
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from common import ROOT, seeds_index

from qa.embed.embedder import load_embedder
from qa.index.neighbours import CREDIT, NEAR, missing_words
from qa.query import evaluate
from qa.query.answer import Answer, Policy, answerability, compose
from qa.query.engine import Engine
from qa.query.search import Searcher, Weights

GRID = {
    "passage": [0.3, 0.5, 0.7, 0.9],
    "sentence": [0.0, 0.2, 0.4, 0.6, 0.8],
    "keyword": [0.0, 0.1, 0.2, 0.3],
    "coverage": [0.0, 0.15, 0.3, 0.5, 0.7, 0.9, 1.1],
}


def ranks_per_weights(
    engine: Engine, items: list[evaluate.Item], texts: dict[str, str]
) -> dict[Weights, list[int | None]]:
    """Rank of the evidence for every question, under every weighting of the grid."""
    model = load_embedder(engine.settings)
    out = {}
    for values in itertools.product(*GRID.values()):
        weights = Weights(*values)
        tuned = Engine(
            engine.settings, engine.index, weights=weights, embedder_factory=lambda: model
        )
        outcomes = evaluate.run(
            items, lambda i, e=tuned: e.ask(i.question, history=i.history, top_k=10), texts.get
        )
        out[weights] = [o.rank for o in outcomes]
    return out


def recall_mrr(ranks: list[int | None]) -> tuple[float, float]:
    return (
        sum(r == 1 for r in ranks) / len(ranks),
        sum(1 / r for r in ranks if r) / len(ranks),
    )


def weight_table(ranks: dict[Weights, list[int | None]]) -> None:
    print("passage sentence keyword coverage  recall@1  mrr@10")
    scored = sorted(((recall_mrr(r), w) for w, r in ranks.items()), key=lambda x: x[0])
    for (r1, mrr), w in scored[::-1][:15]:
        print(f"{w.passage:7} {w.sentence:8} {w.keyword:7} {w.coverage:8}  {r1:8.3f}  {mrr:6.3f}")
    print(f"default {Weights()}: {recall_mrr(ranks[Weights()])}")


K = TypeVar("K")
T = TypeVar("T")


def cross_validated(
    per_question: dict[K, list[T]], measure: Callable[[list[T]], float], *, repeats: int = 20
) -> float:
    """Pick the setting on half the questions, measure it on the other half: how much of the
    grid's best figure is fitting this very set."""
    count = len(next(iter(per_question.values())))
    rng = random.Random(0)
    measured = []
    for _ in range(repeats):
        order = rng.sample(range(count), count)
        for train, test in ((order[::2], order[1::2]), (order[1::2], order[::2])):
            best = max(per_question, key=lambda k: measure([per_question[k][i] for i in train]))
            measured.append(measure([per_question[best][i] for i in test]))
    return sum(measured) / len(measured)


def share(hits: list[bool]) -> float:
    return sum(hits) / len(hits)


ANSWER_GRID = {
    "quote_from": [1, 2, 3],
    "keyword_weight": [0.0, 0.05, 0.1, 0.25, 0.4],
    "second_within": [0.6, 0.7, 0.8, 0.9],
}


def answer_table(engine: Engine, items: list[evaluate.Item]) -> None:
    """Answer-hit, and sentences quoted per answer, for each sentence-choice setting."""
    retrieved = [(item, engine.retrieve(item.question, item.history)[1]) for item in items]
    searcher = Searcher(engine.index)
    hits: dict[Policy, list[bool]] = {}
    quoted: dict[Policy, float] = {}
    for values in itertools.product(*ANSWER_GRID.values()):
        policy = Policy(**dict(zip(ANSWER_GRID, values, strict=True)))
        answers = [
            (item, compose(item.question, retrieval, searcher, policy=policy))
            for item, retrieval in retrieved
        ]
        hits[policy] = [evaluate.quotes(item, answer) for item, answer in answers]
        quoted[policy] = statistics.mean(
            sum(len(p.answer_spans) for p in answer.passages) for _, answer in answers
        )
    print("\nquote_from keyword_weight second_within  answer-hit  sentences quoted")
    for policy, hit in sorted(hits.items(), key=lambda x: (-share(x[1]), quoted[x[0]]))[:12]:
        print(
            f"{policy.quote_from:10} {policy.keyword_weight:14} "
            f"{policy.second_within:13}  {share(hit):9.3f}  {quoted[policy]:16.2f}"
        )
    print(f"default: {share(hits[Policy()]):.3f}, {quoted[Policy()]:.2f} sentences quoted")
    held_out = cross_validated(hits, share)
    print(f"2-fold cross-validation x20: answer-hit {held_out:.3f} (held-out half)")


STAND_IN_GRID = {"near": [0.6, 0.65, 0.7, 0.75], "credit": [0.3, 0.5, 0.8]}


def stand_in_table(engine: Engine, items: list[evaluate.Item], texts: dict[str, str]) -> None:
    """Recall@1, MRR@10 and answer-hit with no stand-ins and for each (near, credit)."""
    model = load_embedder(engine.settings)
    searcher = Searcher(engine.index)
    vocabulary = engine.index.backend.passage_counts()
    asked = {}
    for item in items:
        words = missing_words(item.question, vocabulary)
        asked[item] = (engine.retrieve(item.question, item.history)[0], words, model.embed(words))
    print("\nstand-ins (near, credit)  recall@1  mrr@10  answer-hit")
    firsts: dict[tuple[float, float] | None, list[bool]] = {}
    for setting in [None, *itertools.product(*STAND_IN_GRID.values())]:

        def ask(item: evaluate.Item, setting: tuple[float, float] | None = setting) -> Answer:
            query, words, vectors = asked[item]
            stand_ins = {}
            if setting is not None and words:
                near, credit = setting
                stand_ins = engine.index.term_vectors.stand_ins(
                    words, vectors, near=near, credit=credit
                )
            retrieval = searcher.search(replace(query, stand_ins=stand_ins), k=10)
            return compose(item.question, retrieval, searcher, policy=engine.policy)

        outcomes = evaluate.run(items, ask, texts.get)
        recall, mrr = recall_mrr([o.rank for o in outcomes])
        hit = share([bool(o.answer_hit) for o in outcomes])
        mark = "  <- qa.index.neighbours" if setting == (NEAR, CREDIT) else ""
        print(f"{setting or 'none'!s:24}  {recall:8.3f}  {mrr:6.3f}  {hit:10.3f}{mark}")
        firsts[setting] = [o.rank == 1 for o in outcomes]
    held_out = cross_validated(firsts, share)
    print(f"2-fold cross-validation x20: recall@1 {held_out:.3f} (held-out half)")


def threshold_table(engine: Engine, items: list[evaluate.Item]) -> None:
    scores = []
    for item in items:
        _, retrieval = engine.retrieve(item.question, item.history)
        hits = retrieval.hits
        value = answerability(hits[0], retrieval) if hits else 0.0
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


def weak_table(engine: Engine, items: list[evaluate.Item]) -> None:
    """Of the answers given, how many each weak bar would flag and how many of those were wrong
    (evidence not quoted) or should not have been answered: the figures behind
    Policy.weak_below."""
    policy = engine.policy
    outcomes = []
    for item in items:
        _, retrieval = engine.retrieve(item.question, item.history)
        strength = answerability(retrieval.hits[0], retrieval) if retrieval.hits else 0.0
        if strength < policy.abstain_below:
            continue
        answer = engine.ask(item.question, history=item.history)
        good = item.evidence is not None and evaluate.quotes(item, answer)
        outcomes.append((strength, good))
    print(f"\nweak bar  flagged  of them wrong or unanswerable   (of {len(outcomes)} answered)")
    for bar in (0.6, 0.7, 0.8, 0.9, 1.0):
        flagged = [good for strength, good in outcomes if strength < bar]
        mark = "  <- Policy.weak_below" if abs(bar - policy.weak_below) < 1e-9 else ""
        print(f"{bar:8.2f}  {len(flagged):7d}  {flagged.count(False):28d}{mark}")


def main() -> None:
    settings = seeds_index()
    engine = Engine.open(settings)
    items = evaluate.read_items(ROOT / "eval" / "seeds.jsonl")
    texts = {d.source: d.text for d in engine.index.documents}
    answerable = [i for i in items if i.evidence is not None]
    ranks = ranks_per_weights(engine, answerable, texts)
    weight_table(ranks)
    held_out = cross_validated(ranks, lambda r: recall_mrr(r)[0])
    print(f"\n2-fold cross-validation x20: recall@1 {held_out:.3f} (held-out half)")
    answer_table(engine, answerable)
    stand_in_table(engine, answerable, texts)
    threshold_table(engine, items)
    weak_table(engine, items)


if __name__ == "__main__":
    main()
