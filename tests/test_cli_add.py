"""`qa add` through qa.cli.main: files copied under names that replace nothing, refusals with
their reasons, then the index updated (FakeEmbedder)."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
from fakes import FakeEmbedder

import qa.build
import qa.cli
import qa.folder
from qa.index import load
from qa.settings import Settings

ACCEPTED = ".docx, .htm, .html, .md, .pdf, .txt"


@pytest.fixture(autouse=True)
def fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("QA_"):
            monkeypatch.delenv(name)
    monkeypatch.setattr(qa.build, "load_embedder", lambda settings: FakeEmbedder())


@pytest.fixture
def incoming(tmp_path: Path) -> Path:
    """A folder to add from: two good documents (one in a subfolder), a binary file, a copy of
    the first, and a type qa does not read."""
    folder = tmp_path / "incoming"
    (folder / "sub").mkdir(parents=True)
    (folder / "treaty.txt").write_text("The treaty was signed in 1961.\n", encoding="utf-8")
    (folder / "sub" / "film.md").write_text("# Film\n\nThe film premiered.\n", encoding="utf-8")
    (folder / "blob.txt").write_bytes(b"\x00\x01\x02")
    (folder / "treaty2.txt").write_text("The treaty was signed in 1961.\n", encoding="utf-8")
    (folder / "sheet.xlsx").write_bytes(b"PK")
    return folder


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, list[str], list[str]]:
    code = qa.cli.main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err.splitlines()


def add_args(settings: Settings, *extra: str | Path) -> list[str | Path]:
    return ["add", *extra, "--docs", settings.docs, "--index", settings.index]


def test_add_copies_what_can_be_indexed_refuses_the_rest_and_indexes(
    settings: Settings, incoming: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = incoming / "gone.txt"
    code, out, err = run(capsys, *add_args(settings, incoming, missing))
    assert code == 1  # something was refused
    assert out[:2] == [
        f"Added {settings.docs / 'film.md'}",
        f"Added {settings.docs / 'treaty.txt'}",
    ]
    assert out[2].startswith(f"Index {settings.index} updated: 2 documents, 2 passages (2 added")
    assert err == [
        f"Not added: {incoming / 'blob.txt'}: cannot be indexed: binary file",
        f"Not added: {incoming / 'sheet.xlsx'}: unsupported file type .xlsx; accepted types: "
        f"{ACCEPTED}",
        f"Not added: {incoming / 'treaty2.txt'}: same content as the existing document treaty.txt",
        f"Not added: {missing}: no such file",
    ]
    assert sorted(p.name for p in settings.docs.iterdir()) == ["film.md", "treaty.txt"]
    assert [d.source for d in load(settings.index).documents] == ["film.md", "treaty.txt"]


def test_add_never_replaces_a_document_of_the_same_name(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (settings.docs / "notes.txt").write_text("First notes.\n", encoding="utf-8")
    other = tmp_path / "notes.txt"
    other.write_text("Other notes.\n", encoding="utf-8")
    code, out, err = run(capsys, *add_args(settings, other, other))  # named twice: added once
    assert (code, err) == (0, [])
    assert out[0] == f"Added {settings.docs / 'notes-1.txt'}"
    assert (settings.docs / "notes.txt").read_text(encoding="utf-8") == "First notes.\n"
    assert len(load(settings.index).documents) == 2


def test_add_without_indexing_and_as_json(
    tmp_path: Path, incoming: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(docs=tmp_path / "new-docs", index=tmp_path / "index")
    treaty = incoming / "treaty.txt"
    code, out, _ = run(capsys, *add_args(settings, treaty, "--no-index", "--json"))
    assert code == 0
    assert out == [
        f"Added {settings.docs / 'treaty.txt'}",
        json.dumps({"added": ["treaty.txt"], "refused": [], "index": None}),
    ]  # the documents folder was created; no index yet
    assert not settings.index.exists()
    code, out, _ = run(capsys, *add_args(settings, treaty, "--json"))
    assert code == 1 and json.loads(out[-1]) == {
        "added": [],
        "refused": [
            {"name": str(treaty), "reason": "same content as the existing document treaty.txt"}
        ],
        "index": None,
    }  # nothing added, so nothing indexed


def test_add_reports_a_folder_it_cannot_use_or_write(
    settings: Settings,
    incoming: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    treaty = incoming / "treaty.txt"
    not_a_folder = settings.with_(docs=incoming / "treaty2.txt")
    assert run(capsys, *add_args(not_a_folder, treaty)) == (
        1,
        [],
        [f"Error: {incoming / 'treaty2.txt'} is a file; --docs takes the documents folder."],
    )

    def disk_full(source: Path, target: Path) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(qa.folder.shutil, "copyfile", disk_full)
    code, out, err = run(capsys, *add_args(settings, treaty))
    assert (code, out) == (1, [])
    assert err == [
        f"Not added: {treaty}: cannot be copied into {settings.docs} (No space left on device)"
    ]
    assert list(settings.docs.iterdir()) == []
