"""Load on `python app.py` over loopback: 1 client, then 20 concurrent gradio_client clients
asking 25 questions each, then the same while a rebuild runs. Bounded in time.

Every answer must arrive without error; answered (not abstained) ones must cite a passage.
Each client's questions carry its number, so the answer cache does not serve them.

    python bench/load.py [--clients 20] [--questions 25]
"""

from __future__ import annotations

import argparse
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from app_start import ROOT, free_port, launch_app, poll, prepare
from gradio_client import Client

sys.path.insert(0, str(ROOT / "src"))
from qa.query.evaluate import read_items

DEADLINE_S = 600.0
ADDED_DOCUMENTS = 3  # seed paragraphs reshuffled: ~50 KB each, so the rebuild takes a while
CITED = re.compile(r"\[\d+\]")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--questions", type=int, default=25)
    args = parser.parse_args()
    questions = [i.question for i in read_items(ROOT / "eval" / "seeds.jsonl") if i.evidence]
    with tempfile.TemporaryDirectory(prefix="qa-load-") as temp:
        env = prepare(Path(temp))
        docs = Path(env["QA_DOCS"])
        port = free_port()
        server = start(env, port)
        try:
            url = f"http://127.0.0.1:{port}/"
            run_phase("1 client", url, 1, args.questions, questions)
            run_phase(f"{args.clients} clients", url, args.clients, args.questions, questions)
            timing = {"phase_start": time.perf_counter()}
            rebuild = threading.Thread(target=rebuild_timed, args=(url, docs, timing))
            rebuild.start()
            run_phase(
                f"{args.clients} clients + rebuild", url, args.clients, args.questions, questions
            )
            timing["phase_end"] = time.perf_counter()
            rebuild.join(timeout=DEADLINE_S)
            since = {k: v - timing["phase_start"] for k, v in timing.items()}
            print(
                f"rebuild: {timing['passages']:.0f} new passages, running from "
                f"{since['start']:.1f} s to {since['end']:.1f} s of the {since['phase_end']:.1f} s "
                "loaded phase"
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
    return 0


def rebuild_timed(url: str, docs: Path, timing: dict[str, float]) -> None:
    """Add documents big enough that the rebuild spans much of the loaded phase, then rebuild."""
    prose = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "seeds").iterdir())]
    for n in range(ADDED_DOCUMENTS):
        paragraphs = "\n\n".join(prose).split("\n\n")
        random.Random(n).shuffle(paragraphs)
        (docs / f"added-under-load-{n}.md").write_text("\n\n".join(paragraphs), encoding="utf-8")
    timing["start"] = time.perf_counter()
    report = Client(url, verbose=False).predict(api_name="/rebuild")
    timing["end"], timing["passages"] = time.perf_counter(), report["embedded"]


def start(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    process = launch_app(env, port)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if poll(f"http://127.0.0.1:{port}/api/ask?q=warm") == 200:
            return process
        time.sleep(0.2)
    process.kill()
    raise SystemExit("app.py did not answer within 120 s")


def client_run(url: str, number: int, count: int, questions: list[str]) -> list[Any]:
    client = Client(url, verbose=False)
    out = []
    for i in range(count):
        question = f"{questions[(number * count + i) % len(questions)]} ({number}.{i})"
        started = time.perf_counter()
        try:
            result = client.predict(question, api_name="/ask")
            out.append((time.perf_counter() - started, check(result)))
        except Exception as exc:  # a load test counts failures instead of stopping
            out.append((time.perf_counter() - started, f"error: {type(exc).__name__}: {exc}"))
    return out


def check(result: dict[str, Any]) -> str | None:
    if not result.get("answer"):
        return "empty answer"
    if not result["abstained"] and (not result["passages"] or not CITED.search(result["answer"])):
        return "answer without a citation"
    return None


def run_phase(name: str, url: str, clients: int, count: int, questions: list[str]) -> None:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        runs = list(pool.map(lambda n: client_run(url, n, count, questions), range(clients)))
    wall = time.perf_counter() - started
    results = [r for run in runs for r in run]
    latencies = np.array([seconds for seconds, _ in results]) * 1000
    problems = [p for _, p in results if p]
    print(
        f"{name:24} {len(results):4d} answers in {wall:6.1f} s = {len(results) / wall:6.1f}/s; "
        f"p50 {np.percentile(latencies, 50):6.0f} ms, p99 {np.percentile(latencies, 99):6.0f} "
        f"ms; problems: {len(problems)} {sorted(set(problems))[:3]}"
    )


if __name__ == "__main__":
    sys.exit(main())
