"""How many passages `qa ask` shows under an answer: the cut behind qa.cli.query.SHOWN_WITHIN.

The terminal shows the passages the answer quotes and those scoring within a margin of the best;
the rest are counted ("--top-k 5 shows them"). For each labelled set and a range of margins this
prints, over the answered questions whose evidence is among the top 5 passages: how often the
evidence passage is shown (all of them, and those the answer does not quote, where the list is
what a reader falls back on), and how many passages are shown per answer on average.
"""

from __future__ import annotations

from common import ROOT, seeds_index

from qa.cli.query import SHOWN_WITHIN, shown_passages
from qa.query import evaluate
from qa.query.answer import Answer, CitedPassage
from qa.query.engine import Engine

MARGINS = [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 1.0]
SETS = ["seeds", "heldout", "literal"]


def evidence_rank(item: evaluate.Item, answer: Answer, texts: dict[str, str]) -> int | None:
    evidence = evaluate.normalise(item.evidence or "")

    def holds(p: CitedPassage) -> bool:
        places = [p, *p.also_in]
        return any(evidence in evaluate.normalise(texts[q.source][q.start : q.end]) for q in places)

    return next((p.rank for p in answer.passages if holds(p)), None)


def main() -> None:
    settings = seeds_index()
    engine = Engine.open(settings)
    texts = {d.source: d.text for d in engine.index.documents}
    print(f"default margin {SHOWN_WITHIN}; per set: evidence shown (all / not quoted), passages")
    answered: dict[str, list[tuple[Answer, int]]] = {}
    for name in SETS:
        items = [i for i in evaluate.read_items(ROOT / "eval" / f"{name}.jsonl") if i.evidence]
        rows = []
        for item in items:
            answer = engine.ask(item.question, history=item.history)
            rank = evidence_rank(item, answer, texts)
            if not answer.abstained and rank is not None:
                rows.append((answer, rank))
        answered[name] = rows
    print("margin  " + "  ".join(f"{name:>24}" for name in SETS))
    for margin in MARGINS:
        cells = []
        for name in SETS:
            rows = answered[name]
            shown = [shown_passages(a, within=margin) for a, _ in rows]
            kept = [r <= len(s) for (_, r), s in zip(rows, shown, strict=True)]
            unquoted = [
                k
                for (a, r), k in zip(rows, kept, strict=True)
                if not a.passages[r - 1].answer_spans
            ]
            mean = sum(map(len, shown)) / len(shown)
            cells.append(
                f"{sum(kept)}/{len(kept)} ({sum(unquoted)}/{len(unquoted)}), {mean:.2f}".rjust(24)
            )
        print(f"{margin:<6}  " + "  ".join(cells))


if __name__ == "__main__":
    main()
