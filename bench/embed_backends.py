"""ONNX vs torch embedding backends, side by side: start-up, query latency, batch throughput.

    HF_HUB_OFFLINE=1 PYTHONPATH=src python bench/embed_backends.py [--corpus-size 5000]

Every measurement runs in a fresh worker process (this script with --worker), so one backend's
thread pools and caches never slow the other. Prints figures; asserts nothing.
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

        from qa.embedding import TorchEmbedder

        if threads:
            torch.set_num_threads(threads)
        return TorchEmbedder(settings.model_path)
    from qa.onnx_backend import OnnxEmbedder

    return OnnxEmbedder.from_settings(settings, intra_op_threads=threads)


def latency_ms(embedder: Any, texts: Sequence[str]) -> dict[str, float]:
    for text in texts[:5]:  # warm-up: first runs allocate arenas and pick kernels
        embedder.embed([text])
    times = []
    for text in texts:
        started = time.perf_counter()
        embedder.embed([text])
        times.append((time.perf_counter() - started) * 1000)
    cuts = statistics.quantiles(times, n=100)
    return {"p50": cuts[49], "p99": cuts[98]}


def throughput(embedder: Any, texts: Sequence[str], batch_size: int) -> float:
    embedder.embed(list(texts[:batch_size]), batch_size=batch_size)  # warm-up
    started = time.perf_counter()
    embedder.embed(texts, batch_size=batch_size)
    return time.perf_counter() - started


def worker(job_file: Path) -> None:
    job = json.loads(job_file.read_text())
    embedder = load(job["backend"], job["threads"])
    result: dict[str, Any] = {}
    if "queries" in job:
        result["latency"] = latency_ms(embedder, job["queries"])
    for name, texts in job.get("corpora", {}).items():
        result[name] = {str(b): throughput(embedder, texts, b) for b in job["batch_sizes"]}
    print(json.dumps(result))


STARTUP = """
import time, sys
t0 = time.perf_counter()
from qa.settings import Settings
from qa.embedding import load_embedder
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
    print(
        f"  ratio onnx/torch (wall)              {results['onnx']['wall'] / results['torch']['wall']:.3f}"
    )


def show_throughput(
    name: str, texts: list[str], tokens: int, onnx: dict[str, float], torch_s: float
) -> None:
    print(f"\nThroughput: {name} ({len(texts)} passages, {tokens} model tokens)")
    print("  backend   batch   seconds   passages/s   tokens/s   ratio onnx/torch")
    print(
        f"  torch     {TORCH_BATCH:5}   {torch_s:7.2f}   {len(texts) / torch_s:10.1f}"
        f"   {tokens / torch_s:8.0f}   1.00"
    )
    for batch, seconds in onnx.items():
        print(
            f"  onnx      {batch:>5}   {seconds:7.2f}   {len(texts) / seconds:10.1f}"
            f"   {tokens / seconds:8.0f}   {torch_s / seconds:.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--corpus-size", type=int, default=5000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--startup-runs", type=int, default=5)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return

    count = token_counter()
    chunks = seed_chunks(count)
    corpus = generated_corpus(count, args.corpus_size)
    asked = queries(args.queries)
    tokens = {"seeds": sum(min(count(t), 256) for t in chunks)}
    tokens["corpus"] = sum(min(count(t), 256) for t in corpus)
    print(
        f"machine: {os.cpu_count()} CPUs; torch batch {TORCH_BATCH}; tokens counted after truncation"
    )

    run_worker({"backend": "onnx", "threads": None, "batch_sizes": []})  # export if not cached
    show_startup({b: startup(b, args.startup_runs) for b in ("onnx", "torch")})

    full = {"queries": asked, "corpora": {"seeds": chunks, "corpus": corpus}}
    onnx = run_worker({"backend": "onnx", "threads": None, "batch_sizes": BATCH_SIZES, **full})
    torch = run_worker({"backend": "torch", "threads": None, "batch_sizes": [TORCH_BATCH], **full})
    print(f"\nSingle query latency, {len(asked)} queries (ms)   p50     p99")
    for backend, result in (("torch", torch), ("onnx", onnx)):
        print(f"  {backend:<40} {result['latency']['p50']:6.2f}  {result['latency']['p99']:6.2f}")
    ratio = onnx["latency"]["p50"] / torch["latency"]["p50"]
    print(f"  ratio onnx/torch (p50)                   {ratio:.3f}")
    for name, label in (("seeds", "seeds in 128-200-token chunks"), ("corpus", "generated corpus")):
        show_throughput(
            label, full["corpora"][name], tokens[name], onnx[name], torch[name][str(TORCH_BATCH)]
        )

    print("\nThreads (seeds chunks, batch 32; latency p50 over the same queries)")
    print("  backend  threads   latency p50 ms   tokens/s")
    small = {"queries": asked, "corpora": {"seeds": chunks}, "batch_sizes": [32]}
    for backend in ("onnx", "torch"):
        for threads in (1, 2):
            r = run_worker({"backend": backend, "threads": threads, **small})
            print(
                f"  {backend:<7}  {threads:7}   {r['latency']['p50']:14.2f}"
                f"   {tokens['seeds'] / r['seeds']['32']:8.0f}"
            )


if __name__ == "__main__":
    main()
