"""Indexing throughput of `build_index` with the real model, ONNX and torch side by side.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/index_throughput.py [--passages 5000]
        [--backends onnx,torch] [--corpora seeds,generated] [--noop-runs 3]

For each corpus (the seed files; a generated corpus of about --passages passages, seed
paragraphs recombined into many files) and each backend, a fresh worker process runs a full
build into an empty index folder, then a no-op rebuild, and reports:

  * model tokens/s: word pieces of every text the build embedded (passages' embed_text AND
    sentences: the build embeds both), counted with the model's tokenizer as the model reads
    them ([CLS] and [SEP] included, cut at the model's 256), over the full build's wall time;
    the embed-only rate (time inside Embedder.embed) is shown beside it;
  * passages/s over the full build's wall time (model loading, reading, chunking, writing
    included);
  * the no-op rebuild in-process, and as a whole `qa index` process (median of --noop-runs);
  * peak RSS of the worker (ru_maxrss).

The ONNX export is prepared once beforehand (it is a one-time cost per model, measured by
bench/embed_backends.py). Prints figures; asserts nothing. Other processes share the CPU: the
1-minute load average is printed with every row.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
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


# --------------------------------------------------------------------------- corpora


def seed_paragraphs() -> list[str]:
    out = []
    for path in sorted(SEEDS.iterdir()):
        for paragraph in path.read_text(encoding="utf-8").split("\n\n"):
            if len(paragraph.split()) >= 5:
                out.append(paragraph.strip())
    return out


def generate_corpus(folder: Path, passages: int) -> int:
    """Files of 4-12 recombined seed paragraphs (some under a heading) until the chunker makes
    at least `passages` passages of them; returns the passage count."""
    from qa.index.plan import chunk_params
    from qa.ingest.chunking import chunk
    from qa.ingest.documents import read_document
    from qa.ingest.tokens import token_counter
    from qa.settings import Settings

    settings = Settings.from_env(docs=folder)
    counter = token_counter(settings.model_path)
    params = chunk_params(settings)
    pool = seed_paragraphs()
    rng = random.Random(0)
    folder.mkdir(parents=True, exist_ok=True)
    made = number = 0
    while made < passages:
        parts = []
        for _ in range(rng.randint(4, 12)):
            if rng.random() < 0.25:
                parts.append(f"Section {rng.randint(1, 99)}: {' '.join(rng.sample(WORDS, 3))}")
            parts.append(rng.choice(pool))
        path = folder / f"sub{number % 10}" / f"doc{number:05d}.txt"
        path.parent.mkdir(exist_ok=True)
        path.write_text("\n\n".join(parts) + "\n", encoding="utf-8")
        document = read_document(path, root=folder)
        made += len(chunk(document, counter=counter, params=params).passages)
        number += 1
    return made


WORDS = "history friendship peace treaty army people war memory border talks trade".split()


# --------------------------------------------------------------------------- worker side


class Recording:
    """Wraps the real embedder: keeps the texts and the time spent inside embed()."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.model_name, self.dimension = inner.model_name, inner.dimension
        self.texts: list[str] = []
        self.seconds = 0.0

    def embed(self, texts: Sequence[str], **kwargs: Any) -> Any:
        self.texts.extend(texts)
        started = time.perf_counter()
        out = self.inner.embed(texts, **kwargs)
        self.seconds += time.perf_counter() - started
        return out


def worker(job: dict[str, Any]) -> dict[str, Any]:
    from qa.embed.embedder import load_embedder
    from qa.index.build import build_index
    from qa.ingest.tokens import token_counter
    from qa.settings import Settings

    settings = Settings.from_env(
        docs=Path(job["docs"]), index=Path(job["index"]), backend=job["backend"]
    )
    recorders: list[Recording] = []

    def factory() -> Recording:
        recorders.append(Recording(load_embedder(settings)))
        return recorders[-1]

    started = time.perf_counter()
    report = build_index(settings, embedder_factory=factory)
    full = time.perf_counter() - started

    def refuse() -> Any:
        raise AssertionError("a no-op build must not load the model")

    started = time.perf_counter()
    noop = build_index(settings, embedder_factory=refuse)
    noop_seconds = time.perf_counter() - started
    assert not noop.built

    counter = token_counter(settings.model_path)
    texts = [t for r in recorders for t in r.texts]
    counts = [min(n + 2, counter.max_tokens) for n in counter.count_many(texts)]
    return {
        "documents": report.documents,
        "passages": report.passages,
        "texts": len(texts),
        "tokens": sum(counts),
        "truncated": sum(1 for n in counter.count_many(texts) if n + 2 > counter.max_tokens),
        "full_s": full,
        "embed_s": sum(r.seconds for r in recorders),
        "noop_s": noop_seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "load_avg": os.getloadavg()[0],
    }


# --------------------------------------------------------------------------- orchestration


def run_worker(job: dict[str, Any]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(job)],
        env=ENV,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def prepare(backend: str) -> str | None:
    """Load the backend once in a throwaway process (ONNX: export into the cache)."""
    code = (
        "import sys\nfrom qa.settings import Settings\n"
        "from qa.embed.embedder import load_embedder\n"
        "load_embedder(Settings.from_env(backend=sys.argv[1])).embed(['warm up'])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, backend], env=ENV, capture_output=True, text=True
    )
    return None if out.returncode == 0 else (out.stderr.strip().splitlines() or ["?"])[-1]


def noop_process(docs: Path, index: Path, backend: str, runs: int) -> float:
    """Median wall time of a whole `qa index` process that finds nothing to do."""
    samples = []
    env = {**ENV, "QA_BACKEND": backend}
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "qa.cli.main",
                "index",
                "--docs",
                str(docs),
                "--index",
                str(index),
            ],
            env=env,
            check=True,
            capture_output=True,
        )
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def show(rows: list[tuple[str, str, dict[str, Any]]]) -> None:
    head = (
        f"{'corpus':<10} {'backend':<7} {'docs':>5} {'passages':>8} {'texts':>6} {'tokens':>8} "
        f"{'full s':>7} {'tok/s':>6} {'embed tok/s':>11} {'pass/s':>6} {'no-op s':>7} "
        f"{'no-op proc s':>12} {'peak RSS MB':>11} {'load':>5}"
    )
    print("\n" + head)
    for corpus, backend, r in rows:
        if "error" in r:
            print(f"{corpus:<10} {backend:<7} not run: {r['error']}")
            continue
        print(
            f"{corpus:<10} {backend:<7} {r['documents']:>5} {r['passages']:>8} {r['texts']:>6} "
            f"{r['tokens']:>8} {r['full_s']:>7.1f} {r['tokens'] / r['full_s']:>6.0f} "
            f"{r['tokens'] / r['embed_s']:>11.0f} {r['passages'] / r['full_s']:>6.1f} "
            f"{r['noop_s']:>7.2f} {r['noop_process_s']:>12.2f} {r['peak_rss_mb']:>11.0f} "
            f"{r['load_avg']:>5.1f}"
        )
    print(
        "\ntokens: word pieces of every embedded text (passages and sentences) as the model "
        "reads them, [CLS]/[SEP] included, cut at 256; tok/s and pass/s over the full build "
        "(model load included), embed tok/s over the time inside embed() only."
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=5000)
    parser.add_argument("--backends", default="onnx,torch")
    parser.add_argument("--corpora", default="seeds,generated")
    parser.add_argument("--noop-runs", type=int, default=3)
    parser.add_argument("--worker")
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return

    backends = args.backends.split(",")
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as tmp:
        root = Path(tmp)
        corpora: dict[str, Path] = {}
        if "seeds" in args.corpora:
            corpora["seeds"] = SEEDS
        if "generated" in args.corpora:
            made = generate_corpus(root / "generated", args.passages)
            files = sum(1 for _ in (root / "generated").rglob("*.txt"))
            print(f"generated corpus: {files} files, {made} passages")
            corpora["generated"] = root / "generated"
        problems = {b: prepare(b) for b in backends}
        rows = []
        for corpus, docs in corpora.items():
            for backend in backends:
                if problems[backend]:
                    rows.append((corpus, backend, {"error": problems[backend]}))
                    continue
                index = root / f"index-{corpus}-{backend}"
                job = {"docs": str(docs), "index": str(index), "backend": backend}
                result = run_worker(job)
                if "error" not in result:
                    result["noop_process_s"] = noop_process(docs, index, backend, args.noop_runs)
                rows.append((corpus, backend, result))
                print(f"{corpus}/{backend}: {json.dumps(result)}", flush=True)
                shutil.rmtree(index, ignore_errors=True)
        print(f"\nCPUs: {os.cpu_count()}; other processes may share them (see the load column).")
        show(rows)


if __name__ == "__main__":
    main()
