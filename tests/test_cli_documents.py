"""`qa add`, `qa delete` and `qa restore` through qa.cli.main.main: files copied under names that
replace nothing, refusals with their reasons, deleted files kept in .deleted/ and brought back,
the index updated after each (FakeEmbedder)."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

import qa.cli.main
import qa.folder.add
import qa.index.build
from qa.index.built import load
from qa.settings import Settings

ACCEPTED = ".docx, .htm, .html, .jpeg, .jpg, .markdown, .md, .pdf, .png, .tif, .tiff, .txt"


pytestmark = pytest.mark.usefixtures("cli_with_fake_model")


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
    code = qa.cli.main.main([str(a) for a in args])
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

    monkeypatch.setattr(qa.folder.add.shutil, "copyfile", disk_full)
    code, out, err = run(capsys, *add_args(settings, treaty))
    assert (code, out) == (1, [])
    assert err == [
        f"Not added: {treaty}: cannot be copied into {settings.docs} (No space left on device)"
    ]
    assert list(settings.docs.iterdir()) == []


# ------------------------------------------------------------------ delete, restore


@pytest.fixture
def folder(settings: Settings) -> Settings:
    """Two indexed documents, one in a subfolder."""
    (settings.docs / "sub").mkdir()
    (settings.docs / "treaty.txt").write_text("The treaty was signed in 1961.\n", encoding="utf-8")
    (settings.docs / "sub" / "film.md").write_text("# Film\n\nIt premiered.\n", encoding="utf-8")
    qa.index.build.build_index(settings)
    return settings


def cmd(settings: Settings, *args: str | Path) -> list[str | Path]:
    return [*args, "--docs", settings.docs, "--index", settings.index]


def deletion_folders(settings: Settings) -> list[str]:
    return sorted(p.name for p in (settings.docs / ".deleted").iterdir())


def test_delete_moves_the_file_aside_and_indexes_then_restore_brings_it_back(
    folder: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, *cmd(folder, "delete", "sub/film.md"))
    [when] = deletion_folders(folder)
    kept = folder.docs / ".deleted" / when / "sub" / "film.md"
    assert (code, err) == (0, [])
    assert out[0] == f"Deleted sub/film.md (kept as {kept}; `qa restore sub/film.md` puts it back)"
    assert out[1].startswith(f"Index {folder.index} updated: 1 document, 1 passage (0 added")
    assert kept.read_text(encoding="utf-8") == "# Film\n\nIt premiered.\n"
    assert [d.source for d in load(folder.index).documents] == ["treaty.txt"]

    code, out, err = run(capsys, *cmd(folder, "restore", "sub/film.md"))
    assert (code, err, out[0]) == (0, [], "Restored sub/film.md")
    assert out[1].startswith(f"Index {folder.index} updated: 2 documents, 2 passages (1 added")
    assert (folder.docs / "sub" / "film.md").read_text(encoding="utf-8").endswith("premiered.\n")
    assert [d.source for d in load(folder.index).documents] == ["sub/film.md", "treaty.txt"]
    assert deletion_folders(folder) == []  # the emptied deletion folder is gone


def test_delete_takes_a_path_into_the_folder_and_refuses_anything_else(
    folder: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("Not a document of the folder.\n", encoding="utf-8")
    names = ["gone.txt", str(outside), "../outside.txt", folder.docs / "treaty.txt"]
    code, out, err = run(capsys, *cmd(folder, "delete", *names, "--no-index", "--json"))
    [when] = deletion_folders(folder)
    kept = folder.docs / ".deleted" / when / "treaty.txt"
    assert code == 1
    assert err == [
        f"Not deleted: gone.txt: no such document in {folder.docs}",
        f"Not deleted: {outside}: no such document in {folder.docs}",
        f"Not deleted: ../outside.txt: no such document in {folder.docs}",
    ]
    assert out == [
        f"Deleted treaty.txt (kept as {kept}; `qa restore treaty.txt` puts it back)",
        json.dumps(
            {
                "deleted": [{"source": "treaty.txt", "kept": str(kept)}],
                "refused": [
                    {"name": "gone.txt", "reason": f"no such document in {folder.docs}"},
                    {"name": str(outside), "reason": f"no such document in {folder.docs}"},
                    {"name": "../outside.txt", "reason": f"no such document in {folder.docs}"},
                ],
                "index": None,
            }
        ),
    ]
    assert outside.exists()
    assert len(load(folder.index).documents) == 2  # --no-index: the index is as it was


def test_restore_lists_newest_first_and_takes_the_latest_deletion_of_a_name(
    folder: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, *cmd(folder, "restore")) == (
        0,
        [f"No deleted documents in {folder.docs / '.deleted'}."],
        [],
    )
    treaty = folder.docs / "treaty.txt"
    older = folder.docs / ".deleted" / "20261201T090000Z" / "treaty.txt"
    older.parent.mkdir(parents=True)
    older.write_text("An older treaty text.\n", encoding="utf-8")
    assert run(capsys, *cmd(folder, "delete", "treaty.txt", "--no-index"))[0] == 0
    newer, _ = deletion_folders(folder)[::-1]
    code, out, _ = run(capsys, *cmd(folder, "restore"))
    assert (code, out[0]) == (0, f"Deleted documents in {folder.docs / '.deleted'}, newest first:")
    assert out[1].startswith("  treaty.txt (deleted ") and out[1].endswith(
        f"; key {newer}/treaty.txt)"
    )
    assert out[2] == "  treaty.txt (deleted 2026-12-01 09:00 UTC; key 20261201T090000Z/treaty.txt)"

    assert run(capsys, *cmd(folder, "restore", "treaty.txt", "--no-index"))[:2] == (
        0,
        ["Restored treaty.txt"],
    )
    assert treaty.read_text(encoding="utf-8") == "The treaty was signed in 1961.\n"
    code, out, err = run(capsys, *cmd(folder, "restore", "treaty.txt", "--no-index"))
    assert (code, out) == (1, [])
    assert err == [
        "Not restored: treaty.txt: treaty.txt exists again; rename or delete it, then restore"
    ]
    treaty.unlink()
    key = "20261201T090000Z/treaty.txt"
    assert run(capsys, *cmd(folder, "restore", key, "--no-index")) == (
        0,
        ["Restored treaty.txt"],
        [],
    )
    assert treaty.read_text(encoding="utf-8") == "An older treaty text.\n"
    code, out, err = run(capsys, *cmd(folder, "restore", "film.md", "--json"))
    reason = (
        f"not among the deleted documents in {folder.docs / '.deleted'}; `qa restore` lists them"
    )
    assert (code, err) == (1, [f"Not restored: film.md: {reason}"])
    assert json.loads(out[0]) == {
        "restored": [],
        "refused": [{"name": "film.md", "reason": reason}],
        "index": None,
    }


def test_status_says_how_many_deleted_documents_are_kept(
    folder: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, *cmd(folder, "delete", "treaty.txt"))[0] == 0
    code, out, _ = run(capsys, *cmd(folder, "status"))
    assert code == 0
    assert out[1:] == [
        f"Up to date with {folder.docs}.",
        f"1 deleted document kept in {folder.docs / '.deleted'}: `qa restore` lists them.",
    ]
    code, out, _ = run(capsys, *cmd(folder, "status", "--json"))
    assert json.loads(out[0])["deleted_kept"] == 1


def test_delete_and_restore_need_the_documents_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(docs=tmp_path / "missing", index=tmp_path / "index")
    for args in (("delete", "a.txt"), ("restore",)):
        code, out, err = run(capsys, *cmd(settings, *args))
        assert (code, out) == (1, [])
        assert err == [
            f"Error: Documents folder {settings.docs} does not exist. Create it and put .txt, "
            ".md, .html, .pdf, .docx, .png, .jpg or .tif files in it, or pass --docs DIR."
        ]
