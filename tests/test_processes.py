"""One index, many processes: the real app answers from whatever build the real CLI commits
(issue 25, point 1). Real `qa serve` and real `qa` commands, the real model, 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeEmbedder

from qa.index.build import build_index
from qa.settings import Settings
from qa.web.service import Service

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
QUOKKA = "Quokkas live on Rottnest Island, a short ferry ride from Perth.\n"
WOMBAT = "Wombats dig long burrows with their strong claws in the forests of Tasmania.\n"
WOMBAT_Q = "What do wombats dig?"
FOLLOWED_WITHIN = 10.0  # seconds; the app looks every second, the rest is loading


def qa_env(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    return env | {"HF_HUB_OFFLINE": "1", "QA_CACHE": str(cache), "NO_COLOR": "1"}


def qa_command(*args: str | Path) -> list[str]:
    executable = shutil.which("qa", path=str(Path(sys.executable).parent))
    assert executable, "the qa console script is installed next to the interpreter"
    return [executable, *map(str, args)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def eventually(check: Callable[[], bool], *, within: float = FOLLOWED_WITHIN) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "the app did not follow the index in time"
        time.sleep(0.2)


class App:
    def __init__(self, base: str) -> None:
        self.base = base

    def documents(self) -> list[str]:
        status, body = get(self.base + "/api/status")
        assert status == 200
        return [d["source"] for d in body["documents"]]

    def cited(self, question: str) -> list[str]:
        status, body = get(self.base + "/api/ask?" + urllib.parse.urlencode({"q": question}))
        assert status == 200, body
        return [p["source"] for p in body["passages"]]


@pytest.fixture
def folder(tmp_path: Path, model_cache: Path) -> Iterator[tuple[list[str | Path], App, Path]]:
    docs, index = tmp_path / "docs", tmp_path / "index"
    docs.mkdir()
    (docs / "quokka.txt").write_text(QUOKKA)
    where: list[str | Path] = ["--docs", docs, "--index", index]
    env = qa_env(model_cache)
    subprocess.run(qa_command("index", *where), env=env, check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen(
        qa_command("serve", *where, "--port", str(port)), env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    app = App(f"http://127.0.0.1:{port}")
    try:
        eventually(lambda: _ready(app), within=120)
        yield where, app, tmp_path
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=60)


def _ready(app: App) -> bool:
    try:
        status, body = get(app.base + "/api/status")
    except OSError:
        return False
    return status == 200 and body["state"] == "ready"


@pytest.mark.integration
def test_the_app_serves_what_the_cli_builds(
    folder: tuple[list[str | Path], App, Path], model_cache: Path
) -> None:
    where, app, root = folder
    env = qa_env(model_cache)

    def qa(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(qa_command(*args), env=env, capture_output=True, text=True)

    assert app.documents() == ["quokka.txt"] and app.cited(WOMBAT_Q) == []
    (root / "wombat.txt").write_text(WOMBAT)
    assert qa("add", root / "wombat.txt", *where).returncode == 0
    eventually(lambda: app.documents() == ["quokka.txt", "wombat.txt"])
    assert app.cited(WOMBAT_Q)[0] == "wombat.txt"

    assert qa("delete", "wombat.txt", *where).returncode == 0
    eventually(lambda: app.documents() == ["quokka.txt"])
    assert "wombat.txt" not in app.cited(WOMBAT_Q)

    assert qa("restore", "wombat.txt", *where).returncode == 0
    eventually(lambda: app.documents() == ["quokka.txt", "wombat.txt"])
    assert app.cited(WOMBAT_Q)[0] == "wombat.txt"

    # A build killed midway (kill -9) commits nothing: the app keeps serving the last one.
    for seed in SEEDS.iterdir():
        shutil.copy(seed, Path(where[1]) / seed.name)
    killed = subprocess.Popen(qa_command("index", *where), env=env, stderr=subprocess.DEVNULL)
    time.sleep(2)
    killed.kill()
    killed.wait(30)
    time.sleep(2)  # two looks at the index folder
    assert app.documents() == ["quokka.txt", "wombat.txt"]
    assert app.cited(WOMBAT_Q)[0] == "wombat.txt"


def test_rebuild_with_nothing_to_do_still_serves_the_newest_build(seeded: Settings) -> None:
    """Another process built the index after this service loaded it; the page's Rebuild then
    has nothing to embed, and must still swap in that build (it said "already up to date")."""
    build_index(seeded, embedder_factory=FakeEmbedder)
    service = Service(seeded, embedder_factory=FakeEmbedder)
    service.rebuild()  # loads the index as it is; no follower thread (start() is not called)
    (seeded.docs / "wombat.txt").write_text(WOMBAT)
    build_index(seeded, embedder_factory=FakeEmbedder)  # "the CLI"
    report = service.rebuild()
    assert report.built is False
    assert "wombat.txt" in service.sources()
