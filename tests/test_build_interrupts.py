"""A build that waits says so and does not bill the wait as work; a build stopped with SIGTERM
cleans up after itself (issue 24, finding 10)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeEmbedder

import qa.cli.main
import qa.index.build
import qa.index.write
from qa.index.build import build_index, build_lock
from qa.settings import Settings

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
WAITING = "Waiting for another build of this index to finish…"


def qa_process(*args: str | Path, cache: Path) -> subprocess.Popen[str]:
    executable = shutil.which("qa", path=str(Path(sys.executable).parent))
    assert executable, "the qa console script is installed next to the interpreter"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env |= {"HF_HUB_OFFLINE": "1", "QA_CACHE": str(cache)}
    return subprocess.Popen(
        [executable, *map(str, args)], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def partial_folders(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.iterdir() if p.name.endswith(".partial"))


@pytest.mark.integration
def test_a_waiting_build_says_so_without_a_terminal_and_reports_the_wait_apart(
    seeded: Settings, model_cache: Path
) -> None:
    build_index(seeded, embedder_factory=FakeEmbedder)  # the real CLI then has nothing to embed
    where = ["--docs", seeded.docs, "--index", seeded.index]
    with build_lock(seeded.index, wait=0, progress=None):
        process = qa_process("index", *where, "--json", cache=model_cache)
        assert process.stderr is not None
        # stderr is a pipe, not a terminal, and the wait is still announced
        assert process.stderr.readline() == WAITING + "\n"
        time.sleep(1)
        assert process.poll() is None  # still waiting for the lock this test holds
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0 and err == "", err
    summary, line = out.splitlines()
    report = json.loads(line)
    assert report["waited"] >= 1.0 and report["seconds"] < report["waited"]
    assert summary.endswith(f" (after waiting {report['waited']:.1f} s for another build).")
    assert report["built"] is False


@pytest.mark.integration
def test_sigterm_stops_a_real_build_and_keeps_the_previous_index(
    settings: Settings, model_cache: Path
) -> None:
    (settings.docs / "first.txt").write_text("Quokkas live on Rottnest Island near Perth.\n")
    build_index(settings, embedder_factory=FakeEmbedder)
    live = (settings.index / "CURRENT").read_text()
    for copy in range(4):  # enough text that the real model takes a while
        for seed in SEEDS.iterdir():
            (settings.docs / f"{copy}-{seed.name}").write_bytes(seed.read_bytes())
    process = qa_process(
        "index", "--docs", settings.docs, "--index", settings.index, cache=model_cache
    )
    time.sleep(3)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert (process.returncode, err.splitlines()[-1]) == (143, "Stopped.")
    assert (settings.index / "CURRENT").read_text() == live
    assert partial_folders(settings.index) == []


def test_sigterm_in_the_write_phase_removes_the_partial_build(
    seeded: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The signal arrives while the new build's files are being written (a real SIGTERM to
    this process, handled by the CLI's handler): the half-written folder is removed."""
    monkeypatch.setattr(qa.index.build, "load_embedder", lambda settings: FakeEmbedder())
    real_save = qa.index.write.save
    seen: list[list[str]] = []

    def save_then_terminate(writer: Any, index: Any) -> None:
        real_save(writer, index)
        seen.append(partial_folders(seeded.index))
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises in this thread long before this ends

    monkeypatch.setattr(qa.index.write, "save", save_then_terminate)
    code = qa.cli.main.main(["index", "--docs", str(seeded.docs), "--index", str(seeded.index)])
    assert code == 143 and capsys.readouterr().err.splitlines()[-1] == "Stopped."
    assert len(seen[0]) == 1  # the write phase was under way when the signal came
    assert partial_folders(seeded.index) == [] and not (seeded.index / "CURRENT").exists()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the CLI put the default back
