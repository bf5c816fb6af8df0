"""How the query path scales with the index: search + answer on generated corpora of growing
size, beside the query embedding plus a dense-only FAISS search over the same index, in the
same run.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/query_scale.py [--passages 5000,20000]

Each corpus is seed paragraphs recombined into many files (bench/index_throughput.py), indexed
with a stand-in embedder: every text gets a unit vector seeded by its hash, so repeated
passages are twins as with the real model, and a 20,000-passage index builds in under a
minute. Questions are those of eval/seeds.jsonl, embedded with the real model every time (the
engine's caches are cleared before each). Pass 1 starts with a fresh engine; pass 2 asks them
again, with the per-index memos (near-identical passages) kept, as a running server has them.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from common import ROOT, machine
from index_throughput import generate_corpus

from qa.embed.base import Embedder
from qa.embed.embedder import load_embedder
from qa.index.build import build_index
from qa.index.built import load
from qa.query import evaluate
from qa.query.engine import Engine, single_threaded_blas
from qa.settings import Settings

DIMENSION = 384


class HashedEmbedder:
    """Stand-in for the model at build time: the same text always gets the same unit vector."""

    model_name, dimension = "hashed-random", DIMENSION

    def embed(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 32,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        out = np.empty((len(texts), DIMENSION), np.float32)
        for row, text in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
            vector = np.random.default_rng(seed).standard_normal(DIMENSION)
            out[row] = vector / np.linalg.norm(vector)
        if progress is not None:
            progress(len(texts))
        return out


def percentiles(ms: list[float]) -> str:
    ordered = sorted(ms)
    return (
        f"p50 {statistics.median(ordered):6.1f} ms  p99 {ordered[int(len(ordered) * 0.99)]:6.1f} ms"
    )


def timed(calls: list[Callable[[], object]]) -> list[float]:
    out = []
    for call in calls:
        started = time.perf_counter()
        call()
        out.append((time.perf_counter() - started) * 1000)
    return out


def measure(size: int, questions: list[str], model: Embedder) -> None:
    root = Path(tempfile.mkdtemp(prefix="qa-scale-"))
    made = generate_corpus(root / "docs", size)
    settings = Settings.from_env(docs=root / "docs", index=root / "index")
    started = time.perf_counter()
    build_index(settings, embedder_factory=HashedEmbedder)
    built = time.perf_counter() - started
    index = load(settings.index)
    print(
        f"{made} passages, {len(index.sentences)} sentences, {len(index.documents)} files"
        f" (built in {built:.0f} s with the stand-in embedder)"
    )
    engine = Engine(settings, index, embedder_factory=lambda: model)
    dense = timed([lambda q=q: index.dense.search(model.embed([q]), 50) for q in questions])
    print(f"  embed + dense-only FAISS top 50  {percentiles(dense)}")
    for label in ("qa ask, pass 1", "qa ask, pass 2"):
        runs = []
        for question in questions:
            engine.clear_caches()
            runs += timed([lambda q=question: engine.ask(q)])
        ratio = statistics.median(runs) / statistics.median(dense)
        print(f"  {label:32} {percentiles(runs)}  ({ratio:.1f}x the dense-only p50)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", default="5000,20000")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    settings = Settings.from_env()
    questions = [i.question for i in evaluate.read_items(ROOT / "eval" / "seeds.jsonl")]
    model = load_embedder(settings)
    model.embed(["warm up"])
    with single_threaded_blas():  # as `qa ask` and the app run
        for size in (int(n) for n in args.passages.split(",")):
            measure(size, questions, model)


if __name__ == "__main__":
    main()
