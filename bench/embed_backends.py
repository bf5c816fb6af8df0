"""ONNX vs torch embedding backends, side by side: start-up, query latency, batch throughput.

    HF_HUB_OFFLINE=1 PYTHONPATH=src python bench/embed_backends.py [--corpus-size 5000]

Every measurement runs in a fresh worker process (this script with --worker), so one backend's
thread pools and caches never slow the other. Throughput is the best of --repeats runs (the
timeit convention: the least disturbed run); latency percentiles pool every repeat's samples, so
interference from other processes shows up in p99. The load average is printed because on a
shared 2-core machine a second busy process halves a 2-thread run. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "HF_HUB_OFFLINE": "1"}
BATCH_SIZES = (16, 32, 64)
TORCH_BATCH = 32  # TorchEmbedder's default, the figure the ratio is taken against


# --------------------------------------------------------------------------- workloads


def sentences() -> list[str]:
    text = "\n\n".join(p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt")))
    parts = re.split(r"(?<=[.!?])\s+|\n\s*\n", text)
    return [" ".join(p.split()) for p in parts if len(p.split()) >= 3]


def token_counter() -> Any:
    """The model's own tokenizer without truncation, so chunk sizes are in model tokens."""
    from tokenizers import Tokenizer

    from qa.settings import bundled_model_path

    tokenizer = Tokenizer.from_file(str(bundled_model_path() / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return lambda text: len(tokenizer.encode(text).ids)


def seed_chunks(count: Any, low: int = 128, high: int = 200) -> list[str]:
    """Consecutive seed sentences packed into chunks of `low`..`high` model tokens."""
    chunks: list[str] = []
    current: list[str] = []
    for sentence in sentences():
        if current and count(" ".join([*current, sentence])) > high:
            chunks.append(" ".join(current))
            current = []
        current.append(sentence)
        if count(" ".join(current)) >= low:
            chunks.append(" ".join(current))
            current = []
    return chunks + ([" ".join(current)] if current else [])


def generated_corpus(count: Any, size: int) -> list[str]:
    """`size` passages of 1-8 shuffled seed sentences (kept under 256 tokens, like real chunks)."""
    rng = random.Random(0)
    pool = sentences()
    corpus: list[str] = []
    while len(corpus) < size:
        passage = " ".join(rng.sample(pool, rng.randint(1, 8)))
        if count(passage) <= 250:
            corpus.append(passage)
    return corpus


def queries(n: int) -> list[str]:
    rng = random.Random(1)
    pool = sentences()
    return [" ".join(rng.choice(pool).split()[: rng.randint(4, 14)]) + "?" for _ in range(n)]


# --------------------------------------------------------------------------- worker side


def load(backend: str, threads: int | None) -> Any:
    from qa.settings import Settings

    settings = Settings.from_env(backend=backend)
    if backend == "torch":
        import torch

        from qa.embed.embedder import TorchEmbedder

        if threads:
            torch.set_num_threads(threads)
        return TorchEmbedder(settings.model_path)
    from qa.embed.onnx import OnnxEmbedder

    return OnnxEmbedder.from_settings(settings, intra_op_threads=threads)


def latency_ms(embedder: Any, texts: Sequence[str], repeats: int) -> dict[str, float]:
    for text in texts[:5]:  # warm-up: first runs allocate arenas and pick kernels
        embedder.embed([text])
    times = []
    for _ in range(repeats):
        for text in texts:
            started = time.perf_counter()
            embedder.embed([text])
            times.append((time.perf_counter() - started) * 1000)
    cuts = statistics.quantiles(times, n=100)
    return {"p50": cuts[49], "p99": cuts[98]}


def throughput(
    embedder: Any, texts: Sequence[str], batch_size: int, repeats: int
) -> tuple[float, float]:
    """(wall s, process CPU s) of the fastest run; CPU time moves less when others load the box."""
    embedder.embed(list(texts[:batch_size]), batch_size=batch_size)  # warm-up
    best = (float("inf"), float("inf"))
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        embedder.embed(texts, batch_size=batch_size)
        best = min(best, (time.perf_counter() - wall, time.process_time() - cpu))
    return best


def worker(job_file: Path) -> None:
    job = json.loads(job_file.read_text())
    embedder = load(job["backend"], job["threads"])
    result: dict[str, Any] = {}
    if "queries" in job:
        result["latency"] = latency_ms(embedder, job["queries"], job["repeats"])
    for name, texts in job.get("corpora", {}).items():
        # The big corpus runs once: a repeat would cost minutes and it averages noise anyway.
        repeats = job["repeats"] if len(texts) < 1000 else 1
        result[name] = {str(b): throughput(embedder, texts, b, repeats) for b in job["batch_sizes"]}
    result["load_avg"] = os.getloadavg()[0]
    print(json.dumps(result))


STARTUP = """
import time, sys
t0 = time.perf_counter()
from qa.settings import Settings
from qa.embed.embedder import load_embedder
t1 = time.perf_counter()
embedder = load_embedder(Settings.from_env(backend=sys.argv[1]))
t2 = time.perf_counter()
embedder.embed(["how long does it take to start?"])
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2)
"""


# --------------------------------------------------------------------------- orchestration


def run_worker(job: dict[str, Any]) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(job, handle)
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--worker", handle.name],
            env=ENV,
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        os.unlink(handle.name)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def startup(backend: str, runs: int) -> dict[str, float]:
    """Median over fresh processes; `wall` is process start to first vector, from outside."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", STARTUP, backend],
            env=ENV,
            capture_output=True,
            text=True,
            check=True,
        )
        wall = time.perf_counter() - started
        imp, load_s, first = map(float, out.stdout.split())
        samples.append((wall, imp, load_s, first))
    wall, imp, load_s, first = (statistics.median(s[i] for s in samples) for i in range(4))
    return {"wall": wall, "import": imp, "load": load_s, "first": first}


def show_startup(results: dict[str, dict[str, float]]) -> None:
    print("\nStart-up, fresh process (median; s)    import   load  first-embed  process-wall")
    for backend, r in results.items():
        print(
            f"  {backend:<36} {r['import']:6.3f} {r['load']:6.3f} {r['first']:11.3f}"
            f"  {r['wall']:12.3f}"
        )
    ratio = results["onnx"]["wall"] / results["torch"]["wall"]
    print(f"  ratio onnx/torch (wall)              {ratio:.3f}")


def show_throughput(
    name: str, texts: list[str], tokens: int, onnx: dict[str, list[float]], torch: list[float]
) -> None:
    print(f"\nThroughput: {name} ({len(texts)} passages, {tokens} model tokens)")
    print(
        "  backend  batch  wall s  passages/s  tokens/s  tokens/CPU-s"
        "  onnx/torch: tokens/s  tokens/CPU-s"
    )
    rows = [("torch", str(TORCH_BATCH), torch)] + [("onnx", b, r) for b, r in onnx.items()]
    for backend, batch, (wall, cpu) in rows:
        print(
            f"  {backend:<7} {batch:>5}  {wall:6.2f}  {len(texts) / wall:10.1f}"
            f"  {tokens / wall:8.0f}  {tokens / cpu:12.0f}"
            f"  {torch[0] / wall:20.2f}  {torch[1] / cpu:12.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--corpus-size", type=int, default=5000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--startup-runs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return

    count = token_counter()
    chunks = seed_chunks(count)
    corpus = generated_corpus(count, args.corpus_size)
    asked = queries(args.queries)
    tokens = {
        name: sum(min(count(t), 256) for t in texts)
        for name, texts in (("seeds", chunks), ("corpus", corpus))
    }
    print(
        f"machine: {os.cpu_count()} CPUs, load avg {os.getloadavg()[0]:.2f} at start; "
        f"torch batch {TORCH_BATCH}; tokens counted after truncation to 256"
    )

    run_worker({"backend": "onnx", "threads": None, "batch_sizes": []})  # export if not cached
    show_startup({b: startup(b, args.startup_runs) for b in ("onnx", "torch")})

    full = {
        "queries": asked,
        "corpora": {"seeds": chunks, "corpus": corpus},
        "repeats": args.repeats,
    }
    onnx = run_worker({"backend": "onnx", "threads": None, "batch_sizes": BATCH_SIZES, **full})
    torch = run_worker({"backend": "torch", "threads": None, "batch_sizes": [TORCH_BATCH], **full})
    print(f"\nSingle query latency, {len(asked)} queries x {args.repeats} (ms)   p50      p99")
    for backend, result in (("torch", torch), ("onnx", onnx)):
        lat = result["latency"]
        print(f"  {backend:<44} {lat['p50']:7.2f}  {lat['p99']:7.2f}")
    p50 = onnx["latency"]["p50"] / torch["latency"]["p50"]
    p99 = onnx["latency"]["p99"] / torch["latency"]["p99"]
    print(f"  ratio onnx/torch                             {p50:7.3f}  {p99:7.3f}")
    labels = {"seeds": "seeds in 128-200-token chunks", "corpus": "generated corpus"}
    for name, label in labels.items():
        torch_run = torch[name][str(TORCH_BATCH)]
        show_throughput(label, full["corpora"][name], tokens[name], onnx[name], torch_run)
    print(f"  (load avg after: onnx worker {onnx['load_avg']:.2f}, torch {torch['load_avg']:.2f})")

    print("\nThreads (seeds chunks, batch 32; ONNX intra_op / torch.set_num_threads)")
    print("  backend  threads  latency p50 ms  p99 ms  tokens/s  tokens/CPU-s  load avg")
    small = {"queries": asked, "corpora": {"seeds": chunks}, "batch_sizes": [32]}
    for backend in ("onnx", "torch"):
        for threads in (1, 2):
            r = run_worker(
                {"backend": backend, "threads": threads, "repeats": args.repeats, **small}
            )
            wall, cpu = r["seeds"]["32"]
            print(
                f"  {backend:<7}  {threads:7}  {r['latency']['p50']:14.2f}"
                f"  {r['latency']['p99']:6.2f}  {tokens['seeds'] / wall:8.0f}"
                f"  {tokens['seeds'] / cpu:12.0f}  {r['load_avg']:8.2f}"
            )


if __name__ == "__main__":
    main()
