"""What an index of N passages costs, end to end, each step in a process of its own.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/scale.py --passages 5000 20000 100000
        [--keep DIR] [--questions 50] [--profile]

Per N: a corpus of about N passages (seed paragraphs recombined into many files,
bench/index_throughput.py's generator) is built by a fresh `qa index` process whose model is
the stand-in hashed embedder of bench/query_scale.py (a vector per text from its hash: twins
stay twins, and 100,000 passages build in minutes). Then, each a fresh process:

  * serve: loads the real bundled model, then opens the index as `qa serve` does (open_s:
    load + verify + the searcher's per-index tables), warms it (the calibration probes,
    warm_s), and asks --questions questions of eval/seeds.jsonl with the answer and vector
    caches cleared before each (ask_p50_ms / ask_p99_ms: embedding + search + answer; p99 is
    the nearest-rank, so of 50 questions the slowest). rss_mb is that process's VmRSS after
    the questions (rss_anon_mb: without the pages of memory-mapped files); rss_index_mb what
    opening the index added to it;
  * no-op: `qa index` with nothing changed (noop_s);
  * add one: a small new document written into the folder, then `qa index` with the real
    model (add_one_s, model load included: that is what a user waits for);
  * delete one: a generated document removed, then `qa index` (delete_one_s).

Each `qa index` is a whole process running the CLI's own main (its stdout captured, so the
process's peak RSS joins the figures: build_peak_rss_mb, add_peak_rss_mb). disk_mb is the
index folder after the first build (MiB; one build, not the two kept after an update).
compact_s is null: format v4 has no compaction. One JSON line per N on stdout; progress on
stderr. Every process gets HF_HUB_OFFLINE=1 and a temporary QA_CACHE (the model's ONNX export
is made there once, before anything is timed). Timings are wall clock on a machine other
processes may share: each line carries the 1-minute load average. --profile writes cProfile
summaries of the open and of the questions into <folder>/n<N>/profile/ (the folder is named on
stderr; the timings of a profiled run are inflated by the profiler).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FORMAT = "v4"
ADDED = "zz-scale-added.txt"  # the small document the add step writes
ADDED_TEXT = (
    "Scale probe\n\nThe lighthouse keeper of Aldermoor logged {n} passing ships in the winter "
    "of the great storm. Her logbook, kept in the harbour museum, lists each vessel's name, "
    "flag and cargo.\n\nVisitors may read a facsimile of the logbook on weekdays.\n"
)
TIMEOUT = 3 * 3600  # per process: far above any N this bench is meant for


def environment(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    return {
        **env,
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT / 'bench'}",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "QA_CACHE": str(cache),
    }


def run(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Wall time of a whole process and its last stdout line; a failure stops the bench."""
    started = time.perf_counter()
    out = subprocess.run(args, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    seconds = time.perf_counter() - started
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(args[:4])} failed ({out.returncode}):\n{out.stderr[-2000:]}")
    return seconds, (out.stdout.strip().splitlines() or [""])[-1]


def qa_index(
    docs: Path, index: Path, env: dict[str, str], *, stand_in: bool = False
) -> tuple[float, dict[str, Any]]:
    """A whole `qa index` process: its wall time, and its report with its peak RSS added."""
    job = {"docs": str(docs), "index": str(index), "stand_in": stand_in}
    seconds, line = run(worker_args("index", job), env)
    return seconds, json.loads(line)


def worker(role: str, job: dict[str, Any]) -> None:
    """The processes this script times; each prints one JSON line."""
    if role == "index":
        index_process(job)
    else:
        serve(job)


def index_process(job: dict[str, Any]) -> None:
    """`qa index --json` itself (its CLI, progress and report), run in this process so its
    peak RSS can be read; with stand_in, its model is the stand-in embedder."""
    import contextlib
    import io

    import qa.index.build
    from qa.cli.main import main as cli

    if job["stand_in"]:
        from query_scale import HashedEmbedder

        def stand_in(settings: object) -> HashedEmbedder:
            return HashedEmbedder()

        qa.index.build.load_embedder = stand_in  # type: ignore[assignment]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli(["index", "--json", "--docs", job["docs"], "--index", job["index"]])
    if code != 0:
        sys.exit(code)
    report = json.loads(out.getvalue().strip().splitlines()[-1])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({**report, "peak_rss_mb": peak}))


def serve(job: dict[str, Any]) -> None:
    import cProfile
    import pstats
    import statistics

    from qa.embed.embedder import load_embedder
    from qa.index.built import load
    from qa.query.engine import Engine, check_model, single_threaded_blas
    from qa.settings import Settings

    single_threaded_blas()  # as `qa serve` and `qa ask` run
    settings = Settings.from_env(docs=Path(job["docs"]), index=Path(job["index"]))
    model = load_embedder(settings)
    model.embed(["warm up"])
    before = vm_rss_mb()
    profile = cProfile.Profile() if job["profile"] else None
    started = time.perf_counter()
    if profile:
        profile.enable()
    index = load(settings.index)
    loaded = time.perf_counter()
    check_model(index, settings)
    engine = Engine(settings, index, embedder_factory=lambda: model)
    opened = time.perf_counter()
    if profile:
        profile.disable()
        dump(profile, Path(job["profile"]) / "open.txt", pstats)
        profile = cProfile.Profile()
    after_open = vm_rss_mb()
    engine.warm()
    warmed = time.perf_counter()
    timings = []
    for question in job["questions"]:
        engine.clear_caches()  # the real work, not the cache
        asked = time.perf_counter()
        if profile:
            profile.enable()
        engine.ask(question)
        if profile:
            profile.disable()
        timings.append((time.perf_counter() - asked) * 1000)
    if profile:
        dump(profile, Path(job["profile"]) / "questions.txt", pstats)
    ordered = sorted(timings)
    figures = {
        "open_s": opened - started,
        "load_s": loaded - started,
        "warm_s": warmed - opened,
        "ask_p50_ms": statistics.median(ordered),
        "ask_p99_ms": ordered[max(0, -(-len(ordered) * 99 // 100) - 1)],
        "rss_mb": vm_rss_mb(),
        "rss_anon_mb": vm_rss_mb("RssAnon"),
        "rss_index_mb": after_open - before,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "documents": len(index.documents),
        "sentences": len(index.sentences),
    }
    print(json.dumps(figures))


def dump(profile: Any, path: Path, pstats: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        for order in ("cumulative", "tottime"):
            pstats.Stats(profile, stream=handle).sort_stats(order).print_stats(30)


def vm_rss_mb(field: str = "VmRSS") -> float:
    """A memory figure of this process (/proc/self/status, MiB): VmRSS counts the pages of
    memory-mapped files it has touched as well, RssAnon only its own memory."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def disk_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / (1024 * 1024)


def prepare(env: dict[str, str]) -> None:
    """The model's ONNX export into the temporary cache, once, before anything is timed."""
    code = (
        "from qa.settings import Settings\nfrom qa.embed.embedder import load_embedder\n"
        "load_embedder(Settings.from_env()).embed(['warm up'])\nprint('{}')\n"
    )
    run([sys.executable, "-c", code], env)


def questions(count: int) -> list[str]:
    from qa.query.evaluate import read_items

    return [item.question for item in read_items(ROOT / "eval" / "seeds.jsonl")][:count]


def measure(size: int, folder: Path, env: dict[str, str], args: argparse.Namespace) -> dict:
    from index_throughput import generate_corpus

    docs, index = folder / "docs", folder / "index"
    say(f"N={size}: generating the corpus in {docs}")
    generate_corpus(docs, size)
    say(f"N={size}: building with the stand-in embedder")
    build_s, built = qa_index(docs, index, env, stand_in=True)
    disk = disk_mb(index)
    say(f"N={size}: built in {build_s:.1f} s, {disk:.0f} MiB; serving {args.questions} questions")
    job = {
        "docs": str(docs),
        "index": str(index),
        "questions": questions(args.questions),
        "profile": str(folder / "profile") if args.profile else "",
    }
    served = json.loads(run(worker_args("serve", job), env)[1])
    noop_s, noop = qa_index(docs, index, env)
    assert not noop["built"], noop
    say(f"N={size}: served; adding one document")
    (docs / ADDED).write_text(ADDED_TEXT.format(n=size), encoding="utf-8")
    add_one_s, added = qa_index(docs, index, env)
    assert added["added"] == [ADDED], added
    say(f"N={size}: deleting one document")
    victim = sorted((docs / "sub0").glob("*.txt"))[0]
    victim.unlink()
    delete_one_s, deleted = qa_index(docs, index, env)
    assert deleted["removed"] == [victim.relative_to(docs).as_posix()], deleted
    return {
        "format": FORMAT,
        "passages": built["passages"],
        "build_s": round(build_s, 2),
        "open_s": round(served["open_s"], 3),
        "rss_mb": round(served["rss_mb"]),
        "disk_mb": round(disk, 1),
        "ask_p50_ms": round(served["ask_p50_ms"], 1),
        "ask_p99_ms": round(served["ask_p99_ms"], 1),
        "add_one_s": round(add_one_s, 2),
        "delete_one_s": round(delete_one_s, 2),
        "compact_s": None,
        "documents": served["documents"],
        "sentences": served["sentences"],
        "load_s": round(served["load_s"], 3),
        "warm_s": round(served["warm_s"], 2),
        "rss_index_mb": round(served["rss_index_mb"]),
        "rss_anon_mb": round(served["rss_anon_mb"]),
        "peak_rss_mb": round(served["peak_rss_mb"]),
        "noop_s": round(noop_s, 2),
        "build_peak_rss_mb": round(built["peak_rss_mb"]),
        "add_peak_rss_mb": round(added["peak_rss_mb"]),
        "questions": len(job["questions"]),
        "load_avg": round(os.getloadavg()[0], 2),
    }


def worker_args(role: str, job: dict[str, Any]) -> list[str]:
    return [sys.executable, __file__, "--worker", role, json.dumps(job)]


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, nargs="+", default=[5000])
    parser.add_argument("--keep", type=Path, help="keep corpora and indexes here (else removed)")
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--profile", action="store_true", help="cProfile the open and questions")
    parser.add_argument("--worker", nargs=2, metavar=("ROLE", "JOB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], json.loads(args.worker[1]))
        return
    if any(n < 1 for n in args.passages) or not 1 <= args.questions <= 129:
        parser.error("--passages must be positive; --questions between 1 and 129")
    root = args.keep or Path(tempfile.mkdtemp(prefix="qa-scale-"))
    root.mkdir(parents=True, exist_ok=True)
    env = environment(Path(tempfile.mkdtemp(prefix="qa-scale-cache-")))
    say(f"working in {root}; QA_CACHE={env['QA_CACHE']}; exporting the model once")
    prepare(env)
    try:
        for size in args.passages:
            folder = root / f"n{size}"
            if folder.exists():
                shutil.rmtree(folder)
            print(json.dumps(measure(size, folder, env, args)), flush=True)
            if args.keep is None:  # gigabytes at large N; a profile stays
                for part in ("docs", "index"):
                    shutil.rmtree(folder / part, ignore_errors=True)
    finally:
        shutil.rmtree(env["QA_CACHE"], ignore_errors=True)


if __name__ == "__main__":
    main()
