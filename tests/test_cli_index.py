"""`qa index` through qa.cli.main.main: exit codes, the summary line, the --json line, messages.

The build's model loader is replaced by FakeEmbedder (see the `fake_model` fixture); the
integration tests at the end run the real `qa` executable with the real model.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fakes import FakeEmbedder

import qa.cli.main
import qa.index.build
from qa.index.build import build_lock
from qa.index.built import load
from qa.settings import Settings

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
SEED_NAMES = sorted(p.name for p in SEEDS.iterdir())
JSON_KEYS = {
    "documents", "added", "changed", "removed", "skipped", "skip_reasons", "passages",
    "embedded", "seconds", "read_seconds", "built", "warnings", "waited",
}  # fmt: skip


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("QA_"):
            monkeypatch.delenv(name)


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch) -> list[Settings]:
    """The CLI's builds embed with FakeEmbedder; returns the settings each load was asked for."""
    loads: list[Settings] = []

    def load_embedder(settings: Settings) -> FakeEmbedder:
        loads.append(settings)
        return FakeEmbedder()

    monkeypatch.setattr(qa.index.build, "load_embedder", load_embedder)
    return loads


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, list[str], str]:
    code = qa.cli.main.main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def index_args(settings: Settings, *extra: str) -> list[str | Path]:
    return ["index", "--docs", settings.docs, "--index", settings.index, *extra]


def summary_pattern(settings: Settings, state: str, counts: str) -> str:
    return (
        rf"Index {re.escape(str(settings.index))} {state}: {counts}; "
        r"read in \d+\.\d\d s, embedded \d+ passages in \d+\.\d\d s\."
    )


def test_index_json(
    seeded: Settings, fake_model: list[Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, *index_args(seeded, "--json"))
    assert code == 0
    assert err == ""  # no terminal: no progress bars, and nothing was skipped
    assert len(out) == 2
    report = json.loads(out[-1])
    assert set(report) == JSON_KEYS
    index = load(seeded.index)
    passages = len(index.passages)
    assert {k: v for k, v in report.items() if k not in {"seconds", "read_seconds", "waited"}} == {
        "documents": 3,
        "added": SEED_NAMES,
        "changed": [],
        "removed": [],
        "skipped": [],
        "skip_reasons": {},
        "passages": passages,
        "embedded": passages,
        "built": True,
        "warnings": [],
    }
    assert isinstance(report["seconds"], float) and report["seconds"] >= 0
    assert isinstance(report["read_seconds"], float)
    assert 0 <= report["read_seconds"] <= report["seconds"]
    assert isinstance(report["waited"], float) and 0 <= report["waited"] < 0.1  # nothing held it
    assert re.fullmatch(
        summary_pattern(
            seeded, "updated", rf"3 documents, {passages} passages \(3 added, 0 changed, "
            r"0 removed, 0 skipped\)"
        ),
        out[0],
    )  # fmt: skip
    embedding = report["seconds"] - report["read_seconds"]
    assert out[0].endswith(
        f"read in {report['read_seconds']:.2f} s, embedded {passages} passages in "
        f"{embedding:.2f} s."
    )
    assert len(fake_model) == 1 and fake_model[0].docs == seeded.docs


def test_second_run_is_up_to_date(
    seeded: Settings, fake_model: list[Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, *index_args(seeded))
    code, out, err = run(capsys, *index_args(seeded, "--json"))
    assert code == 0 and err == ""
    report = json.loads(out[-1])
    assert report["built"] is False and report["embedded"] == 0
    assert re.fullmatch(
        summary_pattern(
            seeded, "already up to date",
            rf"3 documents, {report['passages']} passages \(0 added, 0 changed, 0 removed, "
            r"0 skipped\)",
        ),
        out[0],
    )  # fmt: skip
    assert len(fake_model) == 1  # the model was loaded for the first run only


def test_without_json_prints_only_the_summary(
    seeded: Settings, fake_model: list[Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, *index_args(seeded))
    assert code == 0
    assert len(out) == 1 and out[0].startswith(f"Index {seeded.index} updated: 3 documents, ")


def test_summary_counts_one_of_a_kind_in_the_singular(
    settings: Settings, fake_model: list[Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    (settings.docs / "note.txt").write_text("One short paragraph.\n", encoding="utf-8")
    code, out, _ = run(capsys, *index_args(settings))
    assert code == 0
    assert re.fullmatch(
        rf"Index {re.escape(str(settings.index))} updated: 1 document, 1 passage \(1 added, "
        r"0 changed, 0 removed, 0 skipped\); read in \d+\.\d\d s, embedded 1 passage in "
        r"\d+\.\d\d s\.",
        out[0],
    )


def test_status_lists_what_changed_since_the_build(
    seeded: Settings, fake_model: list[Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, *index_args(seeded))
    report = load(seeded.index).summary()
    code, out, err = run(capsys, "status", "--docs", seeded.docs, "--index", seeded.index)
    head = (
        f"Index {seeded.index}: 3 documents, {report['passages']} passages, built "
        f"{report['built_at'][:10]} {report['built_at'][11:16]} UTC with all-MiniLM-L6-v2."
    )
    assert (code, out, err) == (0, [head, f"Up to date with {seeded.docs}."], "")
    (seeded.docs / "new.txt").write_text("A new note.\n", encoding="utf-8")
    (seeded.docs / "sheet.xlsx").write_bytes(b"PK")
    (seeded.docs / SEED_NAMES[0]).unlink()
    code, out, _ = run(capsys, "status", "--docs", seeded.docs, "--index", seeded.index)
    assert (code, out) == (
        0,
        [
            head,
            f"  {SEED_NAMES[0]} (deleted)",
            "  new.txt (new)",
            "  sheet.xlsx (skipped: unsupported type .xlsx)",
            f"2 changes in {seeded.docs} not indexed yet: run `qa index`.",
        ],
    )
    code, out, _ = run(capsys, "status", "--json", "--docs", seeded.docs, "--index", seeded.index)
    assert json.loads(out[0])["documents"][:3] == [
        {"source": SEED_NAMES[0], "state": "deleted"},
        {"source": SEED_NAMES[1], "state": "indexed"},
        {"source": SEED_NAMES[2], "state": "indexed"},
    ]


def test_status_sees_an_edit_that_keeps_the_size(
    seeded: Settings, fake_model: list[Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, *index_args(seeded))
    later = time.time() + 5
    touched, edited = seeded.docs / SEED_NAMES[1], seeded.docs / SEED_NAMES[2]
    os.utime(touched, (later, later))  # written after the build, same bytes: still indexed
    text = edited.read_text(encoding="utf-8")
    edited.write_text(text.replace("Chen Kaige", "Chen Kaigo"), encoding="utf-8")
    assert edited.stat().st_size == len(text.encode("utf-8"))
    os.utime(edited, (later, later))
    code, out, _ = run(capsys, "status", "--json", "--docs", seeded.docs, "--index", seeded.index)
    assert code == 0
    assert [d["state"] for d in json.loads(out[0])["documents"]] == [
        "indexed",
        "indexed",
        "changed",
    ]


def test_status_without_an_index_or_its_folder(
    seeded: Settings, fake_model: list[Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "status", "--docs", seeded.docs, "--index", seeded.index)
    assert (code, out) == (1, [])
    assert err == (
        f"Error: No index found in {seeded.index}. Run `qa index` to build it from your "
        "documents.\n"
    )
    run(capsys, *index_args(seeded))
    missing = seeded.docs.parent / "elsewhere"
    code, out, err = run(capsys, "status", "--docs", missing, "--index", seeded.index)
    assert (code, out) == (1, [])
    assert err == (
        f"Error: Documents folder {missing} does not exist. Create it and put .txt, .md, .html, "
        ".pdf, .docx, .png, .jpg or .tif files in it, or pass --docs DIR.\n"
    )


def test_missing_docs_folder(
    settings: Settings, fake_model: list[Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    missing = settings.docs.parent / "missing"
    code, out, err = run(capsys, "index", "--docs", missing, "--index", settings.index, "--json")
    assert code == 1
    assert out == []
    assert err == (
        f"Error: Documents folder {missing} does not exist. Create it and put .txt, .md, .html, "
        ".pdf, .docx, .png, .jpg or .tif files in it, or pass --docs DIR.\n"
    )
    assert fake_model == []


def test_empty_docs_folder(
    settings: Settings, fake_model: list[Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, *index_args(settings))
    assert code == 1 and out == []
    assert err == (
        f"Error: No documents in {settings.docs}. Add .txt, .md, .html, .pdf, .docx, .png, .jpg "
        "or .tif files there, "
        "or pass --docs DIR (or set QA_DOCS).\n"
    )


def test_bad_files_are_warned_about_and_the_rest_indexed(
    seeded: Settings, fake_model: list[Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    (seeded.docs / "empty.txt").write_bytes(b"")
    (seeded.docs / "program.txt").write_bytes(b"\x7fELF\x02\x01\x01\x00")
    (seeded.docs / "letter.docx").write_bytes(b"PK\x03\x04")
    (seeded.docs / "broken.txt").write_bytes(b"\xff\xfe" + "ab".encode("utf-16-le") + b"\x00")
    (seeded.docs / "legacy.txt").write_bytes("Caf\u00e9 \u2013 5 \u20ac.".encode("cp1252"))
    code, out, err = run(capsys, *index_args(seeded, "--json"))
    assert code == 0
    assert err.splitlines() == [
        "warning: skipped broken.txt: invalid UTF-16 text",
        "warning: skipped empty.txt: empty file",
        "warning: skipped letter.docx: not a readable Word document (not a .docx zip file)",
        "warning: skipped program.txt: binary file",
        "warning: legacy.txt: not UTF-8; decoded as cp1252",
    ]
    report = json.loads(out[-1])
    assert report["added"] == [*SEED_NAMES, "legacy.txt"]
    assert report["skipped"] == ["broken.txt", "empty.txt", "letter.docx", "program.txt"]
    assert "(4 added, 0 changed, 0 removed, 4 skipped)" in out[0]


def test_only_bad_files_is_an_error(
    settings: Settings, fake_model: list[Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    (settings.docs / "empty.txt").write_bytes(b"")
    code, out, err = run(capsys, *index_args(settings))
    assert code == 1 and out == []
    assert err == (
        f"Error: Nothing in {settings.docs} could be indexed (1 file skipped: empty.txt: "
        "empty file). Add .txt, .md, .html, .pdf, .docx, .png, .jpg or .tif files with text in "
        "them.\n"
    )


def test_busy_index(
    seeded: Settings,
    fake_model: list[Settings],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the CLI waits up to 600 s; shorten it rather than wait
    kwdefaults = qa.index.build.build_index.__kwdefaults__
    assert kwdefaults is not None
    monkeypatch.setitem(kwdefaults, "lock_wait", 0.1)
    with build_lock(seeded.index, wait=0, progress=None):
        code, out, err = run(capsys, *index_args(seeded))
    assert code == 1 and out == []
    assert err == (
        "Waiting for another build of this index to finish…\n"  # said at once, terminal or not
        f"Error: Another build of {seeded.index} is still running after 0.1 s. "
        "Wait for it to finish, then run `qa index` again.\n"
    )


def test_folders_from_environment(
    seeded: Settings,
    fake_model: list[Settings],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QA_DOCS", str(seeded.docs))
    monkeypatch.setenv("QA_INDEX", str(seeded.index))
    monkeypatch.setenv("QA_CHUNK_TOKENS", "64")
    code, out, _ = run(capsys, "index", "--json")
    assert code == 0
    assert json.loads(out[-1])["added"] == SEED_NAMES
    assert load(seeded.index).manifest["chunking"]["target_tokens"] == 64
    # flags win over the environment
    other = seeded.index.parent / "other-index"
    code, _, _ = run(capsys, "index", "--index", other)
    assert code == 0 and (other / "CURRENT").is_file()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("QA_CHUNK_TOKENS", "many", "QA_CHUNK_TOKENS must be a whole number, not 'many'"),
        ("QA_CHUNK_TOKENS", "8", "chunk_tokens must be at least 16, not 8"),
        ("QA_BACKEND", "tensorflow", "QA_BACKEND must be 'onnx' or 'torch', not 'tensorflow'"),
        ("QA_EXTRACT_MEMORY_MB", "100", "QA_EXTRACT_MEMORY_MB must be at least 256, not 100"),
        ("QA_EXTRACT_SECONDS", "0", "QA_EXTRACT_SECONDS must be at least 1, not 0"),
        ("QA_MAX_FILE_MB", "lots", "QA_MAX_FILE_MB must be a whole number, not 'lots'"),
    ],
)
def test_bad_environment_is_a_usage_error(
    seeded: Settings,
    fake_model: list[Settings],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    value: str,
    message: str,
) -> None:
    monkeypatch.setenv(name, value)
    code, out, err = run(capsys, *index_args(seeded))
    assert code == 2 and out == []
    assert err == f"Error: {message}\n"
    assert not seeded.index.exists()


def test_json_line_is_one_line_with_odd_names(
    settings: Settings, fake_model: list[Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    (settings.docs / "new\nline.txt").write_text("A file whose name holds a newline.\n")
    (settings.docs / "ünï 😀.txt").write_text("Unicode name.\n")
    code, out, _ = run(capsys, *index_args(settings, "--json"))
    assert code == 0
    assert json.loads(out[-1])["added"] == ["new\nline.txt", "ünï 😀.txt"]


# --------------------------------------------------------------------------- the real thing


def qa_executable() -> str:
    found = shutil.which("qa", path=str(Path(sys.executable).parent))
    assert found, "the qa console script is installed next to the interpreter"
    return found


@pytest.mark.integration
@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_real_qa_index_process(seeded: Settings, backend: str) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("QA_")},
        "HF_HUB_OFFLINE": "1",
        "QA_BACKEND": backend,
        "QA_CACHE": str(seeded.cache),
    }
    args = [qa_executable(), "index", "--docs", str(seeded.docs), "--index", str(seeded.index)]
    done = subprocess.run([*args, "--json"], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["added"] == SEED_NAMES and report["embedded"] == report["passages"] > 0
    index = load(seeded.index)
    assert index.passage_vectors.shape == (report["passages"], 384)
    again = subprocess.run([*args, "--json"], env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and json.loads(again.stdout.splitlines()[-1])["built"] is False
