"""Time from launching `python app.py` to the first answered question (GET /api/ask).

An index is built first (real model) in a temporary folder from seeds/, so this measures the
start-up a user sees with an index present: Python + Gradio import, UI build, server start,
index load and model load (in a background thread), then one question.

    python bench/app_start.py [--runs 3]          (QA_BACKEND=torch to try the torch backend)
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "Who directed The Battle at Lake Changjin?"
TIMEOUT_S = 120.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qa-app-start-") as temp:
        env = prepare(Path(temp))
        results = [launch_once(env) for _ in range(args.runs)]
    for number, (up, answered, cpu) in enumerate(results, 1):
        print(
            f"run {number}: HTTP up after {up:.2f} s, first answer after {answered:.2f} s "
            f"(app.py used {cpu:.2f} s of CPU by then)"
        )
    median = statistics.median(answered for _, answered, _ in results)
    print(f"launch -> first answered question: median {median:.2f} s over {len(results)} runs")
    print(f"load average now: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    return 0


def prepare(temp: Path) -> dict[str, str]:
    """Copy seeds/ and build their index with the real model (not timed)."""
    docs = temp / "docs"
    shutil.copytree(ROOT / "seeds", docs)
    env = {**os.environ, "QA_DOCS": str(docs), "QA_INDEX": str(temp / "index")}
    env["HF_HUB_OFFLINE"] = "1"
    subprocess.run(
        [sys.executable, "-m", "qa.cli", "index"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return env


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux): start-up cost, independent of load."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def launch_once(env: dict[str, str]) -> tuple[float, float, float]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/api/ask?" + urllib.parse.urlencode({"q": QUESTION})
    started = time.perf_counter()
    process = launch_app(env, port)
    try:
        up = answered = None
        while answered is None:
            if time.perf_counter() - started > TIMEOUT_S or process.poll() is not None:
                raise SystemExit("app.py did not answer in time (or exited)")
            status = poll(url)
            now = time.perf_counter() - started
            if status is not None and up is None:
                up = now
            if status == 200:
                answered = now
            time.sleep(0.02)
        assert up is not None
        return up, answered, cpu_seconds(process.pid)
    finally:
        process.terminate()
        process.wait(10)


def launch_app(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """`python app.py` on 127.0.0.1:port, output discarded; the caller stops it."""
    return subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def poll(url: str) -> int | None:
    """HTTP status, or None while nothing listens yet."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code  # 503 while the index/model load
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":
    raise SystemExit(main())
