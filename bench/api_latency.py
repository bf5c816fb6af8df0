"""What the HTTP layer costs: Engine.ask in-process vs GET /api/ask over loopback (+ gradio_client).

Same index (seeds/, real model, built in a temporary folder), same ~200 distinct questions on
both sides, each side warmed first. The server is `python app.py` in its own process, as users
run it; the client keeps one HTTP connection open.

    python bench/api_latency.py [--questions 200]   (QA_BACKEND=torch to try torch)
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app_start import ROOT, free_port, launch_app, poll, prepare

WARM_UP = 20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=200)
    args = parser.parse_args()
    questions = distinct_questions(args.questions + WARM_UP)
    with tempfile.TemporaryDirectory(prefix="qa-api-latency-") as temp:
        env = prepare(Path(temp))
        local, remote, gradio = measure(env, questions[:WARM_UP], questions[WARM_UP:])
    report(local, remote, gradio)
    return 0


def distinct_questions(count: int) -> list[str]:
    """The labelled questions, then rephrased copies: no answer comes from a cache."""
    rows = (ROOT / "eval" / "seeds.jsonl").read_text(encoding="utf-8").splitlines()
    base = [json.loads(row)["question"] for row in rows if row.strip()]
    prefixes = ["", "Tell me: ", "Quick question: ", "I wonder, "]
    out = [f"{prefixes[i // len(base) % len(prefixes)]}{base[i % len(base)]}" for i in range(count)]
    assert len(set(out)) == count, "not enough distinct questions"
    return out


def measure(
    env: dict[str, str], warm: list[str], timed: list[str]
) -> tuple[list[float], list[float], tuple[float, float, float]]:
    """Each question in-process, then over HTTP, alternating: load changes hit both alike."""
    port = free_port()
    server = launch_app(env, port)
    try:
        engine = open_engine(env)
        wait_until_answering(port)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for question in warm:
            engine.ask(question)
            get_answer(connection, question)
        local, remote = [], []
        for question in timed:
            local += timings(engine.ask, [question])
            remote += timings(lambda q: get_answer(connection, q), [question])
        connection.close()
        return local, remote, gradio_client_call(port, warm)
    finally:
        server.terminate()
        server.wait(10)


def open_engine(env: dict[str, str]) -> Any:
    os.environ.update(env)
    from qa.query.engine import Engine
    from qa.settings import Settings

    engine = Engine.open(Settings.from_env())
    engine.warm()
    return engine


def wait_until_answering(port: int) -> None:
    url = f"http://127.0.0.1:{port}/api/ask?q=hello"
    deadline = time.monotonic() + 120
    while poll(url) != 200:
        if time.monotonic() > deadline:
            raise SystemExit("the server did not start answering")
        time.sleep(0.1)


def get_answer(connection: http.client.HTTPConnection, question: str) -> dict[str, object]:
    connection.request("GET", "/api/ask?" + urllib.parse.urlencode({"q": question}))
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        raise SystemExit(f"GET /api/ask answered {response.status}: {body[:200]!r}")
    answer: dict[str, object] = json.loads(body)
    return answer


def gradio_client_call(port: int, warm: list[str]) -> tuple[float, float, float]:
    """(Client() set-up, first predict, second predict) in seconds; questions already cached
    in the server's engine, so this is the client + queue overhead."""
    from gradio_client import Client

    started = time.perf_counter()
    client = Client(f"http://127.0.0.1:{port}/", verbose=False)
    setup = time.perf_counter() - started
    first = timings(lambda q: client.predict(q, api_name="/ask"), warm[:1])[0]
    second = timings(lambda q: client.predict(q, api_name="/ask"), warm[1:2])[0]
    client.close()
    return setup, first, second


def timings(call: Callable[[str], object], questions: list[str]) -> list[float]:
    out = []
    for question in questions:
        started = time.perf_counter()
        call(question)
        out.append(time.perf_counter() - started)
    return out


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def report(local: list[float], remote: list[float], gradio: tuple[float, float, float]) -> None:
    ms = 1000.0
    p50_local, p99_local = percentile(local, 0.5) * ms, percentile(local, 0.99) * ms
    p50_http, p99_http = percentile(remote, 0.5) * ms, percentile(remote, 0.99) * ms
    print(f"questions timed: {len(local)} in-process, {len(remote)} over HTTP (distinct, warm)")
    print(f"Engine.ask in-process   p50 {p50_local:7.2f} ms   p99 {p99_local:7.2f} ms")
    print(f"GET /api/ask (loopback) p50 {p50_http:7.2f} ms   p99 {p99_http:7.2f} ms")
    print(f"HTTP + server overhead  p50 {p50_http - p50_local:+7.2f} ms   "
          f"p99 {p99_http - p99_local:+7.2f} ms")  # fmt: skip
    print(f"mean in-process {statistics.mean(local) * ms:.2f} ms, "
          f"over HTTP {statistics.mean(remote) * ms:.2f} ms")  # fmt: skip
    setup, first, second = gradio
    print(
        f"gradio_client /ask: Client() {setup * ms:.0f} ms, first predict {first * ms:.1f} ms, "
        f"second predict {second * ms:.1f} ms (answers cached server-side)"
    )
    print(f"load average now: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    raise SystemExit(main())
