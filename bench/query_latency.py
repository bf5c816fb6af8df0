"""Query latency, warm and in-process, and `qa ask` as a whole process; ONNX beside torch.

Every question of eval/seeds.jsonl is asked with the answer cache cleared, so each timing
includes the query embedding, hybrid search and the extractive answer. In-process figures are
given as the CLI and the app run (single-threaded BLAS, qa.query.engine.single_threaded_blas) and
beside them with numpy's default BLAS threads.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

import numpy as np
from common import ROOT, machine, seeds_index

from qa.embed.embedder import load_embedder
from qa.query.engine import Engine, single_threaded_blas
from qa.query.evaluate import read_items

ROUNDS = 3
PROCESS_RUNS = 5


def in_process(engine: Engine, questions: list[tuple[str, tuple[str, ...]]]) -> list[float]:
    timings = []
    for _ in range(ROUNDS):
        engine.clear_caches()  # measure the real work, not the cache
        for question, history in questions:
            started = time.perf_counter()
            engine.ask(question, history=history)
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def whole_process(settings_env: dict[str, str]) -> float:
    runs = []
    for _ in range(PROCESS_RUNS):
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "qa.cli.main",
                "ask",
                "Who directed The Battle at Lake Changjin?",
            ],
            check=True,
            capture_output=True,
            env=settings_env,
        )
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def main() -> None:
    settings = seeds_index()
    items = read_items(ROOT / "eval" / "seeds.jsonl")
    questions = [(i.question, i.history) for i in items]
    print(f"machine: {machine()}; {len(questions)} questions x {ROUNDS} rounds, seeds corpus")
    print(f"{'':8} {'single-threaded BLAS':>27}   {'BLAS threads':>17}")
    ms = f"{'p50 ms':>8} {'p99 ms':>8}"
    print(f"{'backend':8} {ms} {'qa ask s':>9}   {ms}")
    for backend in ("onnx", "torch"):
        chosen = settings.with_(backend=backend)
        engine = Engine.open(chosen, embedder_factory=lambda s=chosen: load_embedder(s))
        engine.warm()
        threaded = in_process(engine, questions)  # numpy's default BLAS threads
        with single_threaded_blas():  # as `qa ask`, `qa eval` and the app run
            timings = in_process(engine, questions)
        env = {
            **os.environ,
            "QA_DOCS": str(chosen.docs),
            "QA_INDEX": str(chosen.index),
            "QA_BACKEND": backend,
        }
        wall = whole_process(env)
        p50, p99 = np.percentile(timings, 50), np.percentile(timings, 99)
        t50, t99 = np.percentile(threaded, 50), np.percentile(threaded, 99)
        print(f"{backend:8} {p50:8.2f} {p99:8.2f} {wall:9.2f}   {t50:8.2f} {t99:8.2f}")


if __name__ == "__main__":
    main()
