"""Recall of approximate dense search against exact, on real vectors (docs/scale.md).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/ann_recall.py [--texts 60000] [--cache DIR]

The texts: prose paragraphs (8-80 words, starting with a capital) of the docstrings of this
Python's standard library and of the installed packages, embedded once with the bundled model
(half an hour for 60,000 on two cores, once: the vectors are kept in --cache, by default in
qa's cache folder, and reused while the texts are the same). The stand-in vectors of
bench/scale.py cannot serve: random unit vectors have no neighbourhoods. Queries, one per call
on one thread: 500 held-out paragraphs (as a question about the collection: close neighbours)
and the questions of the seven labelled sets (about other subjects: far, nearly tied
neighbours, the hard case). recall@k = |ANN top k ∩ exact top k| / k, averaged. Prints
figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

import faiss
import numpy as np
from common import ROOT, SEEDS_SETS

from qa.embed.embedder import load_embedder
from qa.settings import Settings, default_cache_dir

SETS = (*SEEDS_SETS, "git.jsonl", "postgresql.jsonl", "black.jsonl", "r-data.jsonl")
HELD_OUT = 500
K = 50


def paragraphs() -> Iterator[str]:
    stdlib, packages = (Path(sysconfig.get_paths()[name]) for name in ("stdlib", "purelib"))
    # The standard library (its own site-packages left out) and the packages, without tests.
    files = [p for p in stdlib.rglob("*.py") if "site-packages" not in p.parts]
    files += list(packages.rglob("*.py"))
    seen: set[str] = set()
    for path in sorted(p for p in files if not {"test", "tests"} & set(p.parts)):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, ValueError, OSError, RecursionError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                for part in (ast.get_docstring(node) or "").split("\n\n"):
                    text = " ".join(part.split())
                    fits = 8 <= len(text.split()) <= 80 and re.match(r"[A-Z]", text)
                    if fits and text not in seen:
                        seen.add(text)
                        yield text


def vectors(texts: list[str], cache: Path | None) -> np.ndarray:
    known = cache / "texts.json" if cache is not None else None
    if known is not None and known.is_file() and json.loads(known.read_text("utf-8")) == texts:
        return np.load(known.with_name("vectors.npy"))
    started = time.perf_counter()
    out = load_embedder(Settings.from_env()).embed(texts, batch_size=64).astype(np.float32)
    print(f"embedded {len(texts)} texts in {time.perf_counter() - started:.0f} s", flush=True)
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        np.save(cache / "vectors.npy", out)
        (cache / "texts.json").write_text(json.dumps(texts), encoding="utf-8")
    return out


def recall(index: faiss.Index, queries: np.ndarray, exact: np.ndarray) -> tuple[str, float]:
    started = time.perf_counter()
    rows = np.vstack([index.search(queries[i : i + 1], K)[1] for i in range(len(queries))])
    ms = (time.perf_counter() - started) / len(queries) * 1000
    at50 = np.mean([len(set(a) & set(b)) / K for a, b in zip(rows, exact, strict=True)])
    at10 = np.mean([len(set(a[:10]) & set(b[:10])) / 10 for a, b in zip(rows, exact, strict=True)])
    return f"{at50:.3f} / {at10:.3f}", ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=60_000)
    parser.add_argument(
        "--cache",
        type=Path,
        default=default_cache_dir() / "bench-ann-recall",
        help="keep the vectors here and reuse them (default: in qa's cache folder)",
    )
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)
    texts = list(paragraphs())[: args.texts]
    if len(texts) <= HELD_OUT * 2:
        sys.exit(f"only {len(texts)} paragraphs found")
    x = vectors(texts, args.cache)
    held = np.random.default_rng(0).choice(len(x), HELD_OUT, replace=False)
    base = np.delete(x, held, axis=0)
    questions = [
        json.loads(line)["question"]
        for name in SETS
        for line in (ROOT / "eval" / name).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    query_sets = {
        "held-out": x[held],
        "questions": load_embedder(Settings.from_env()).embed(questions).astype(np.float32),
    }
    flat = faiss.IndexFlatIP(base.shape[1])
    flat.add(base)
    exact = {name: flat.search(q, K)[1] for name, q in query_sets.items()}
    nlist = 1 << round(np.log2(4 * np.sqrt(len(base))))
    print(f"{len(base)} vectors, {HELD_OUT} held-out paragraphs, {len(questions)} questions")
    print(f"{'index':<34} {'held-out r@50 / r@10':>21} {'questions r@50 / r@10':>22} {'ms':>6}")
    candidates: list[tuple[str, str, str, list[int]]] = [
        ("flat", "Flat", "", [0]),
        (f"IVF{nlist},SQfp16", f"IVF{nlist},SQfp16", "nprobe", [64, 128, 256]),
        ("HNSW32 (efConstruction 64)", "HNSW32", "efSearch", [128, 256, 512]),
    ]
    for label, factory, knob, settings in candidates:
        index = faiss.index_factory(base.shape[1], factory, faiss.METRIC_INNER_PRODUCT)
        if knob == "efSearch":
            faiss.downcast_index(index).hnsw.efConstruction = 64
        started = time.perf_counter()
        index.train(base)
        index.add(base)
        print(f"{label}: built in {time.perf_counter() - started:.1f} s")
        for value in settings:
            if knob:
                faiss.ParameterSpace().set_index_parameter(index, knob, value)
            cells = [recall(index, query_sets[name], exact[name]) for name in query_sets]
            name = f"  {knob} {value}" if knob else "  exact"
            ms = np.mean([c[1] for c in cells])
            print(f"{name:<34} {cells[0][0]:>21} {cells[1][0]:>22} {ms:>6.2f}", flush=True)


if __name__ == "__main__":
    main()
