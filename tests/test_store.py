"""Tests for the index on disk (qa.index.store, qa.index.built.load): verified loading, and
every kind of damage a file can suffer turning into IndexCorruptError / IndexMissingError with
a message saying what to do."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from fakes import FakeEmbedder

from qa.embed.base import model_name
from qa.errors import IndexCorruptError, IndexMissingError
from qa.index.build import build_index
from qa.index.built import Index, load
from qa.index.plan import chunk_params
from qa.index.store import FORMAT_VERSION, MANIFEST, BuildWriter, file_digest, open_build
from qa.ingest.chunking import chunk
from qa.ingest.documents import read_document
from qa.ingest.tokens import token_counter
from qa.query.engine import check_model
from qa.settings import Settings

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
INDEX_FILES = [
    "documents.jsonl",
    "keywords.counts.npy",
    "keywords.lengths.npy",
    "keywords.pointers.npy",
    "keywords.rows.npy",
    "keywords.vocab.json",
    "passage_vectors.npy",
    "passages.faiss",
    "passages.jsonl",
    "sentence_vectors.npy",
    "sentences.npy",
    "term_vectors.npy",
    "terms.json",
]
RUN = "Run `qa index` to rebuild it."
CONFIGURED_MODEL = model_name(Settings().model_path)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """One seeded index per module; tests damage copies of it (see `index_copy`)."""
    root = tmp_path_factory.mktemp("built")
    docs = root / "docs"
    shutil.copytree(SEEDS, docs)
    settings = Settings(docs=docs, index=root / "index", cache=root / "cache")
    build_index(settings, embedder_factory=FakeEmbedder)
    return settings


@pytest.fixture
def index_copy(built: Settings, tmp_path: Path) -> Settings:
    shutil.copytree(built.index, tmp_path / "index", symlinks=True)
    return built.with_(index=tmp_path / "index")


def live(settings: Settings) -> Path:
    return settings.index / (settings.index / "CURRENT").read_text(encoding="utf-8").strip()


def corrupt_message(settings: Settings) -> str:
    with pytest.raises(IndexCorruptError) as caught:
        load(settings.index)
    return str(caught.value)


# --------------------------------------------------------------------------- good loads


def test_load_after_build(built: Settings) -> None:
    index = load(built.index)
    names = sorted(p.name for p in SEEDS.iterdir())
    assert [d.source for d in index.documents] == names
    counter = token_counter(built.model_path)
    fake = FakeEmbedder()
    passages = []
    for name in names:
        document = read_document(built.docs / name, root=built.docs)
        entry = index.document(name)
        assert entry is not None
        assert entry.text == document.text and entry.sha256 == document.sha256
        passages += chunk(document, counter=counter, params=chunk_params(built)).passages
    assert index.passages == passages
    np.testing.assert_array_equal(
        index.passage_vectors, fake.embed([p.embed_text for p in passages])
    )
    assert index.passage_vectors.dtype == np.float32
    assert index.sentences.dtype == np.int64
    assert index.manifest["format_version"] == FORMAT_VERSION
    assert index.manifest["model"]["name"] == index.model_name == CONFIGURED_MODEL
    assert index.manifest["counts"] == {
        "documents": 3,
        "passages": len(passages),
        "sentences": len(index.sentences),
    }
    # dense search finds a passage's own vector first
    _, rows = index.dense.search(index.passage_vectors[7:8], 1)
    assert rows[0, 0] == 7


def test_build_folder_holds_exactly_the_listed_files(built: Settings) -> None:
    build = open_build(built.index)
    assert sorted(build.manifest["files"]) == INDEX_FILES
    assert sorted(p.name for p in build.path.iterdir()) == sorted([*INDEX_FILES, MANIFEST])
    for name, entry in build.manifest["files"].items():
        assert file_digest(build.path / name) == (entry["sha256"], entry["bytes"])
    assert sorted(p.name for p in built.index.iterdir()) == [".lock", "CURRENT", build.path.name]


def test_loads_from_a_read_only_copy(index_copy: Settings) -> None:
    """Loading never writes (an index on a read-only mount, or shared between users)."""
    paths = [index_copy.index, *index_copy.index.rglob("*")]
    for p in paths:
        os.chmod(p, 0o555 if p.is_dir() else 0o444)
    try:
        assert len(load(index_copy.index).passages) == len(load(index_copy.index).passages)
    finally:
        for p in paths:
            os.chmod(p, 0o755 if p.is_dir() else 0o644)


# --------------------------------------------------------------------------- damaged files


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def zero(path: Path) -> None:
    path.write_bytes(bytes(path.stat().st_size))


def replace_bytes(path: Path) -> None:
    path.write_bytes(b"other bytes entirely\n" * 3)


def flip_one_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def empty(path: Path) -> None:
    path.write_bytes(b"")


DAMAGE: dict[str, Callable[[Path], None]] = {
    "truncated": truncate,
    "zeroed": zero,
    "replaced": replace_bytes,
    "one-bit": flip_one_byte,
    "emptied": empty,
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
@pytest.mark.parametrize("name", INDEX_FILES)
def test_damaged_file_is_named(index_copy: Settings, name: str, damage: str) -> None:
    DAMAGE[damage](live(index_copy) / name)
    assert corrupt_message(index_copy) == (
        f"The index file {name} in {index_copy.index} is damaged (checksum mismatch). {RUN}"
    )


@pytest.mark.parametrize("name", INDEX_FILES)
def test_missing_file_is_named(index_copy: Settings, name: str) -> None:
    (live(index_copy) / name).unlink()
    assert corrupt_message(index_copy) == (
        f"The index file {name} is missing from {index_copy.index}. {RUN}"
    )


def test_file_replaced_by_a_folder(index_copy: Settings) -> None:
    path = live(index_copy) / "passages.jsonl"
    path.unlink()
    path.mkdir()
    assert corrupt_message(index_copy) == (
        f"The index file passages.jsonl is missing from {index_copy.index}. {RUN}"
    )


def rewrite_manifest(settings: Settings, change: Callable[[dict], object]) -> None:
    path = live(settings) / MANIFEST
    manifest = json.loads(path.read_text(encoding="utf-8"))
    change(manifest)
    path.write_text(json.dumps(manifest), encoding="utf-8")


def test_manifest_deleted(index_copy: Settings) -> None:
    (live(index_copy) / MANIFEST).unlink()
    assert corrupt_message(index_copy) == f"The index in {index_copy.index} is incomplete. {RUN}"


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        (b"", "Expecting value: line 1 column 1 (char 0)"),
        (b'{"format": "qa-index", "format_ver', "Unterminated string starting at: line 1 column 24 "
         "(char 23)"),
        (b"\xff\xfe\x00garbage", "'utf-8' codec can't decode byte 0xff in position 0: invalid "
         "start byte"),
    ],
    ids=["empty", "truncated", "binary"],
)  # fmt: skip
def test_manifest_garbled(index_copy: Settings, data: bytes, detail: str) -> None:
    (live(index_copy) / MANIFEST).write_bytes(data)
    assert corrupt_message(index_copy) == (
        f"The index manifest in {live(index_copy)} is unreadable ({detail}). {RUN}"
    )


@pytest.mark.parametrize("value", [[], "qa-index", None, {"format": "other"}, {}])
def test_manifest_of_something_else(index_copy: Settings, value: object) -> None:
    (live(index_copy) / MANIFEST).write_text(json.dumps(value), encoding="utf-8")
    assert corrupt_message(index_copy) == f"{index_copy.index} does not hold a qa index. {RUN}"


@pytest.mark.parametrize("version", [0, 1, FORMAT_VERSION + 1, str(FORMAT_VERSION), None])
def test_format_version_changed(index_copy: Settings, version: object) -> None:
    rewrite_manifest(index_copy, lambda m: m.__setitem__("format_version", version))
    assert corrupt_message(index_copy) == (
        f"The index in {index_copy.index} has format version {version}; this qa reads version "
        f"{FORMAT_VERSION}. {RUN}"
    )


def test_manifest_without_file_list(index_copy: Settings) -> None:
    rewrite_manifest(index_copy, lambda m: m.pop("files"))
    assert corrupt_message(index_copy) == (
        f"The index manifest in {index_copy.index} lists no files. {RUN}"
    )


@pytest.mark.parametrize("entry", ["abc", None, [], {}, {"sha256": "0" * 64, "bytes": 1}])
def test_manifest_file_entry_garbled(index_copy: Settings, entry: object) -> None:
    rewrite_manifest(index_copy, lambda m: m["files"].__setitem__("passages.jsonl", entry))
    assert corrupt_message(index_copy) == (
        f"The index file passages.jsonl in {index_copy.index} is damaged (checksum mismatch). {RUN}"
    )


@pytest.mark.parametrize("model", [CONFIGURED_MODEL, None, {}])
def test_manifest_model_garbled(index_copy: Settings, model: object) -> None:
    rewrite_manifest(index_copy, lambda m: m.__setitem__("model", model))
    assert corrupt_message(index_copy) == (
        f"The index files in {index_copy.index} do not agree. {RUN}"
    )


def test_manifest_dimension_disagrees_with_vectors(index_copy: Settings) -> None:
    rewrite_manifest(index_copy, lambda m: m["model"].__setitem__("dimension", 768))
    assert corrupt_message(index_copy) == (
        f"The index files in {index_copy.index} do not agree. {RUN}"
    )


def test_consistent_checksums_but_wrong_contents(index_copy: Settings) -> None:
    """A file rewritten *with* a matching manifest entry (a bad tool, not bit rot) still fails."""
    path = live(index_copy) / "passages.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:-1]), encoding="utf-8")  # one passage fewer than vectors
    digest, size = file_digest(path)
    rewrite_manifest(
        index_copy,
        lambda m: m["files"].__setitem__("passages.jsonl", {"sha256": digest, "bytes": size}),
    )
    assert corrupt_message(index_copy) == (
        f"The index files in {index_copy.index} do not agree. {RUN}"
    )


# --------------------------------------------------------------------------- the pointer


def test_no_index_at_all(tmp_path: Path) -> None:
    for folder in (tmp_path / "never-created", tmp_path):
        with pytest.raises(IndexMissingError) as caught:
            load(folder)
        assert str(caught.value) == (
            f"No index found in {folder}. Run `qa index` to build it from your documents."
        )


@pytest.mark.parametrize("pointer", ["build-that-does-not-exist", "build-20990101T000000-abc"])
def test_current_points_nowhere(index_copy: Settings, pointer: str) -> None:
    (index_copy.index / "CURRENT").write_text(pointer + "\n", encoding="utf-8")
    assert corrupt_message(index_copy) == f"The index in {index_copy.index} is incomplete. {RUN}"


@pytest.mark.parametrize(
    "pointer", ["", "\n", "../elsewhere", ".hidden", "a/b", "/etc", "build-\0x"]
)
def test_current_damaged(index_copy: Settings, pointer: str) -> None:
    (index_copy.index / "CURRENT").write_text(pointer, encoding="utf-8")
    assert corrupt_message(index_copy) == (
        f"The index pointer {index_copy.index / 'CURRENT'} is damaged. {RUN}"
    )


def test_current_points_at_a_partial_build(index_copy: Settings) -> None:
    partial = index_copy.index / "build-x.partial"
    shutil.copytree(live(index_copy), partial)
    (index_copy.index / "CURRENT").write_text("build-x.partial\n", encoding="utf-8")
    # a .partial folder is a complete copy here, so it loads; the pointer is just a name
    assert len(load(index_copy.index).passages) > 0


def test_current_binary_garbage(index_copy: Settings) -> None:
    (index_copy.index / "CURRENT").write_bytes(b"\xff\xfe\x00\x01")
    assert corrupt_message(index_copy) == (
        f"The index pointer {index_copy.index / 'CURRENT'} is damaged. {RUN}"
    )


def test_current_is_a_folder(index_copy: Settings) -> None:
    (index_copy.index / "CURRENT").unlink()
    (index_copy.index / "CURRENT").mkdir()
    with pytest.raises(IndexMissingError):
        load(index_copy.index)


# --------------------------------------------------------------------------- recovery


@pytest.mark.parametrize("name", ["passages.faiss", "passages.jsonl", MANIFEST])
def test_build_after_damage_rebuilds_everything(index_copy: Settings, name: str) -> None:
    zero(live(index_copy) / name)
    message = corrupt_message(index_copy)
    fake = FakeEmbedder()
    report = build_index(index_copy, embedder_factory=lambda: fake)
    assert report.built is True
    assert report.added == sorted(p.name for p in SEEDS.iterdir())
    assert report.warnings == [f"previous index not reused: {message}"]
    assert len(load(index_copy.index).passages) == report.passages == report.embedded


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m.pop("chunking"),
        lambda m: m.__setitem__("chunking", None),
        lambda m: m["model"].pop("name"),
        lambda m: m["model"].pop("max_tokens"),
        lambda m: m.pop("skipped"),
    ],
    ids=["no-chunking", "chunking-null", "no-model-name", "no-max-tokens", "no-skipped"],
)
def test_build_after_manifest_lost_a_key(
    index_copy: Settings, change: Callable[[dict], object]
) -> None:
    """The manifest is not checksummed: a key it lost must not crash the next build."""
    rewrite_manifest(index_copy, change)
    report = build_index(index_copy, embedder_factory=FakeEmbedder)
    assert report.documents == 3
    load(index_copy.index)


def test_index_with_old_sentence_layout(index_copy: Settings) -> None:
    """An index written before sentences.npy had its is_heading column (format 1) is refused, and
    `qa index` rebuilds it instead of crashing on the mixed layouts."""
    build = live(index_copy)
    old = np.load(build / "sentences.npy")[:, :3]
    np.save(build / "sentences.npy", old)
    digest, size = file_digest(build / "sentences.npy")
    rewrite_manifest(
        index_copy,
        lambda m: m["files"].__setitem__("sentences.npy", {"sha256": digest, "bytes": size}),
    )
    assert corrupt_message(index_copy) == (
        f"The index files in {index_copy.index} do not agree. {RUN}"
    )
    rewrite_manifest(index_copy, lambda m: m.__setitem__("format_version", 1))
    assert corrupt_message(index_copy) == (
        f"The index in {index_copy.index} has format version 1; this qa reads version "
        f"{FORMAT_VERSION}. {RUN}"
    )
    report = build_index(index_copy, embedder_factory=FakeEmbedder)
    assert report.embedded == report.passages > 0
    assert load(index_copy.index).sentences.shape[1] == 4
    # The old manifest still names its documents: they are reported changed, not added.
    assert (report.added, report.changed) == ([], sorted(p.name for p in SEEDS.iterdir()))
    assert report.warnings == [
        f"the index was written in format version 1 and this qa writes version {FORMAT_VERSION}: "
        "every document is embedded again"
    ]


# --------------------------------------------------------------------------- another model


def other_model(tmp_path: Path, name: str) -> Path:
    """A model folder with another name: the bundled tokenizer and config, linked."""
    bundled = Settings().model_path
    folder = tmp_path / name
    folder.mkdir()
    for file in ("tokenizer.json", "sentence_bert_config.json", "config.json"):
        (folder / file).symlink_to(bundled / file)
    return folder


def test_index_of_another_model_is_refused(settings: Settings, tmp_path: Path) -> None:
    shutil.copytree(SEEDS, settings.docs, dirs_exist_ok=True)
    model = other_model(tmp_path, "paraphrase-other-model")
    build_index(settings.with_(model=model), embedder_factory=FakeEmbedder)
    index = load(settings.index)
    assert index.model_name == "paraphrase-other-model"
    check_model(index, settings.with_(model=model))  # its own model: fine
    with pytest.raises(IndexCorruptError) as caught:
        check_model(index, settings)
    assert str(caught.value) == (
        f"The index in {settings.index} was built with the model 'paraphrase-other-model', "
        f"but the configured model is {CONFIGURED_MODEL!r}. {RUN}"
    )
    # and `qa index` with the configured model re-embeds everything
    report = build_index(settings, embedder_factory=FakeEmbedder)
    assert report.warnings == ["model or chunking changed: every document is embedded again"]
    assert report.embedded == report.passages
    check_model(load(settings.index), settings)


def test_index_keeps_two_builds_at_most(settings: Settings) -> None:
    """The previous build stays one round for readers; older ones are removed."""
    names = []
    for i in range(4):
        (settings.docs / "a.txt").write_text(f"Version {i} of the document.\n")
        build_index(settings, embedder_factory=FakeEmbedder)
        names.append(live(settings).name)
    folders = sorted(p.name for p in settings.index.iterdir() if p.is_dir())
    assert folders == sorted(names[-2:])
    assert load(settings.index).documents[0].text == "Version 3 of the document.\n"


def test_writer_abort_removes_partial(tmp_path: Path) -> None:
    writer = BuildWriter(tmp_path / "index")
    writer.write_json("x.json", {"a": 1})
    assert writer.path.name.endswith(".partial") and writer.path.is_dir()
    writer.abort()
    assert list((tmp_path / "index").iterdir()) == []


def _unused(index: Index) -> None:  # keeps the Index import meaningful for type checkers
    del index
