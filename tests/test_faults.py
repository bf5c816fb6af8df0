"""Faults during a build: the process killed at several points, the disk full or read-only, and
documents changing under the build's feet. The live index must never be damaged, and the next
build must succeed and clean up what the failed one left behind."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fakes import FakeEmbedder

import qa.index.build
import qa.index.plan
import qa.index.store
from qa.errors import DocumentError, IndexMissingError, QaError
from qa.index.build import BuildReport, build_index
from qa.index.built import Index, load
from qa.index.faiss_backend import FaissBackend
from qa.index.store import CURRENT, BuildWriter
from qa.ingest.documents import read_document
from qa.ingest.sandbox import Reader
from qa.settings import Settings

TESTS = Path(__file__).resolve().parent
SEEDS = TESTS.parent / "seeds"
SEED_NAMES = sorted(p.name for p in SEEDS.iterdir())
CHANGED = SEED_NAMES[1]


def build(settings: Settings) -> BuildReport:
    return build_index(settings, embedder_factory=FakeEmbedder)


def refuse() -> FakeEmbedder:
    raise AssertionError("the embedder must not be constructed")


def contents(index: Index) -> dict[str, Any]:
    """Everything a reader sees, in comparable form."""
    backend = index.backend
    assert isinstance(backend, FaissBackend)
    return {
        "documents": [(d.source, d.sha256, d.text) for d in index.documents],
        "passages": [(p.id, p.source, p.start, p.end, p.text, p.heading) for p in index.passages],
        "passage_vectors": index.passage_vectors.tobytes(),
        "sentences": index.sentences.tobytes(),
        "sentence_vectors": index.sentence_vectors.tobytes(),
        "keywords": {k: v.tobytes() for k, v in backend.keywords.arrays().items()},
        "dense": len(backend.vectors),
    }


def live_name(settings: Settings) -> str:
    return (settings.index / CURRENT).read_text(encoding="utf-8").strip()


def entries(settings: Settings) -> list[str]:
    return sorted(p.name for p in settings.index.iterdir())


def assert_clean(settings: Settings) -> None:
    """Only the lock, the pointer, the live build and at most the one before it."""
    names = entries(settings)
    live = live_name(settings)
    builds = [n for n in names if n.startswith("build-")]
    assert live in builds
    assert not [n for n in names if n.endswith(".partial")]
    assert [n for n in names if not n.startswith("build-")] == [".lock", CURRENT]
    assert len(builds) <= 2


def change_a_document(settings: Settings) -> None:
    path = settings.docs / CHANGED
    path.write_text(path.read_text(encoding="utf-8") + "\n\nAn edit made later.\n", "utf-8")


@pytest.fixture
def old(seeded: Settings) -> dict[str, Any]:
    """A built seed index, then one document edited: the next build has work to do."""
    build(seeded)
    before = contents(load(seeded.index))
    change_a_document(seeded)
    return before


# --------------------------------------------------------------------------- killed builds

CHILD = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path

    sys.path.insert(0, {tests!r})
    from fakes import FakeEmbedder

    import qa.index.store
    from qa.index.build import build_index
    from qa.settings import Settings

    docs, index, point, marker = sys.argv[1:5]

    def hold(where):
        Path(marker + ".tmp").write_text(where)
        os.replace(marker + ".tmp", marker)  # atomically: the parent reads it whole
        while True:
            time.sleep(60)

    class Embedder(FakeEmbedder):
        def embed(self, texts, **kwargs):
            out = super().embed(texts, **kwargs)
            if point == "embed":
                hold(point)
            return out

    writer = qa.index.store.BuildWriter
    real_write_array, real_write_with = writer.write_array, writer.write_with
    real_manifest, real_replace_text = writer._write_manifest, qa.index.store._replace_text
    real_replace = os.replace

    def write_array(self, name, array):
        if point == "before-array:" + name:
            hold(point)
        if point == "half-array:" + name:
            import io, numpy as np
            buffer = io.BytesIO()
            np.save(buffer, array, allow_pickle=False)
            data = buffer.getvalue()
            with (self.path / name).open("wb") as handle:
                handle.write(data[: len(data) // 2])
                handle.flush()
                os.fsync(handle.fileno())
            hold(point)
        return real_write_array(self, name, array)

    def write_with(self, name, write):
        if point == "faiss":
            hold(point)
        return real_write_with(self, name, write)

    def write_manifest(self, manifest):
        real_manifest(self, manifest)
        if point == "manifest-written":
            hold(point)

    def replace_text(path, text):
        if point == "before-swap" and path.name == "CURRENT":
            hold(point)
        return real_replace_text(path, text)

    def replace(src, dst):
        if point == "temp-pointer-written" and Path(dst).name == "CURRENT":
            hold(point)
        return real_replace(src, dst)

    def remove_stale_builds(index_dir, *, keep):
        if point == "after-swap":
            hold(point)

    writer.write_array, writer.write_with = write_array, write_with
    writer._write_manifest = write_manifest
    qa.index.store._replace_text = replace_text
    qa.index.store.os.replace = replace
    if point == "after-swap":
        qa.index.store.remove_stale_builds = remove_stale_builds
    build_index(Settings(docs=Path(docs), index=Path(index)), embedder_factory=Embedder)
    Path(marker).write_text("finished")
    """
).format(tests=str(TESTS))


def run_and_kill(settings: Settings, point: str, tmp_path: Path) -> None:
    """Run a build in a child process; SIGKILL it as soon as it reaches `point`."""
    script = tmp_path / "child_build.py"
    script.write_text(CHILD, encoding="utf-8")
    marker = tmp_path / f"marker-{point.replace(':', '-')}"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    child = subprocess.Popen(
        [sys.executable, str(script), str(settings.docs), str(settings.index), point, str(marker)],
        env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            if child.poll() is not None:
                pytest.fail(f"child ended before {point}: {child.stderr.read()}")  # type: ignore[union-attr]
            assert time.monotonic() < deadline, f"child never reached {point}"
            time.sleep(0.02)
        assert marker.read_text() == point
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        if child.stderr:
            child.stderr.close()
    assert child.returncode == -signal.SIGKILL


# point, what the killed build leaves in the index folder besides the live build
KILL_POINTS = [
    ("embed", "nothing"),
    ("before-array:sentences.npy", "partial"),
    ("half-array:passage_vectors.npy", "partial"),
    ("faiss", "partial"),
    ("manifest-written", "partial"),
    ("before-swap", "unused build"),
    ("temp-pointer-written", "unused build and temp pointer"),
]


@pytest.mark.parametrize(("point", "leftover"), KILL_POINTS, ids=[p for p, _ in KILL_POINTS])
def test_killed_build_leaves_old_index_intact(
    seeded: Settings, old: dict[str, Any], tmp_path: Path, point: str, leftover: str
) -> None:
    live_before = live_name(seeded)
    before_entries = entries(seeded)
    run_and_kill(seeded, point, tmp_path)

    # The killed build left its traces ...
    left = sorted(set(entries(seeded)) - set(before_entries))
    if leftover == "nothing":
        assert left == []
    elif leftover == "partial":
        assert len(left) == 1 and left[0].endswith(".partial")
    elif leftover == "unused build":
        assert len(left) == 1 and left[0].startswith("build-") and "." not in left[0]
    else:
        assert len(left) == 2 and left[0].startswith(".CURRENT.") and left[1].startswith("build-")
    # ... but readers still get the old index, byte for byte.
    assert live_name(seeded) == live_before
    assert contents(load(seeded.index)) == old

    # The next build finishes the job and cleans up.
    report = build(seeded)
    assert report.built is True and report.changed == [CHANGED]
    assert_clean(seeded)
    assert load(seeded.index).document(CHANGED).text.endswith("An edit made later.\n")  # type: ignore[union-attr]


def test_killed_after_swap_serves_the_new_index(
    seeded: Settings, old: dict[str, Any], tmp_path: Path
) -> None:
    run_and_kill(seeded, "after-swap", tmp_path)
    new = load(seeded.index)
    assert contents(new) != old
    assert new.document(CHANGED).text.endswith("An edit made later.\n")  # type: ignore[union-attr]
    # nothing left to do, and the no-op build neither embeds nor breaks anything
    assert build_index(seeded, embedder_factory=refuse).built is False
    assert contents(load(seeded.index)) == contents(new)
    assert_clean(seeded)


def test_killed_first_build_then_build_succeeds(settings: Settings, tmp_path: Path) -> None:
    shutil.copytree(SEEDS, settings.docs, dirs_exist_ok=True)
    run_and_kill(settings, "before-swap", tmp_path)
    with pytest.raises(IndexMissingError):
        load(settings.index)
    assert build(settings).added == SEED_NAMES
    assert_clean(settings)


def test_no_op_build_after_kill_removes_partial(
    seeded: Settings, old: dict[str, Any], tmp_path: Path
) -> None:
    """Killed while writing, then the edit is undone: the next build has nothing to index but
    must still remove the dead build's folder (else it stays until the next real change)."""
    path = seeded.docs / CHANGED
    original = path.read_bytes()
    run_and_kill(seeded, "before-array:sentences.npy", tmp_path)
    path.write_bytes(original.replace(b"\n\nAn edit made later.\n", b""))
    entry = load(seeded.index).document(CHANGED)
    assert entry is not None and read_document(path, root=seeded.docs).text == entry.text
    assert build_index(seeded, embedder_factory=refuse).built is False
    assert [n for n in entries(seeded) if n.endswith(".partial")] == []
    assert contents(load(seeded.index)) == old


# --------------------------------------------------------------------------- disk full / read-only


def enospc(*args: Any, **kwargs: Any) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def eacces(*args: Any, **kwargs: Any) -> None:
    raise PermissionError(errno.EACCES, "Permission denied")


WRITE_FAILURES: dict[str, tuple[str, Callable[..., None]]] = {
    "write_array": ("write_array", enospc),
    "write_jsonl": ("write_jsonl", enospc),
    "faiss": ("write_with", enospc),
    "manifest": ("_write_manifest", enospc),
    "new-folder": ("__init__", eacces),
}


@pytest.mark.parametrize("where", sorted(WRITE_FAILURES))
def test_write_failure_is_a_clear_error_and_old_index_stays(
    seeded: Settings, old: dict[str, Any], monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    before = entries(seeded)
    method, failure = WRITE_FAILURES[where]
    monkeypatch.setattr(BuildWriter, method, failure)
    with pytest.raises(QaError) as caught:
        build(seeded)
    reason = "Permission denied" if failure is eacces else "No space left on device"
    assert str(caught.value) == (
        f"Cannot write the index in {seeded.index}: {reason}. Free some disk space or make the "
        "folder writable, then run `qa index` again."
    )
    assert isinstance(caught.value.__cause__, OSError)
    assert entries(seeded) == before  # no partial, no stray file
    assert contents(load(seeded.index)) == old
    monkeypatch.undo()
    assert build(seeded).changed == [CHANGED]
    assert_clean(seeded)


def failing_pointer_write(path: Path, text: str) -> None:
    """The disk fills up while the new CURRENT is written (after its temp file was created)."""
    temp = path.with_name(f".{path.name}.deadbeef")
    temp.write_text(text[:2])
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("where", ["replace_text", "rename"])
def test_commit_failure_leaves_no_orphan(
    seeded: Settings, old: dict[str, Any], monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    before = entries(seeded)
    if where == "replace_text":
        monkeypatch.setattr(qa.index.store, "_replace_text", failing_pointer_write)
    else:
        monkeypatch.setattr(qa.index.store.os, "replace", enospc)
    with pytest.raises(QaError, match="No space left on device"):
        build(seeded)
    monkeypatch.undo()
    leftovers = sorted(set(entries(seeded)) - set(before))
    if where == "rename":
        assert leftovers == []
    else:
        # the half-written temp pointer belongs to our fake; the new build folder is ours to drop
        assert [n for n in leftovers if n.startswith("build-")] == []
    assert contents(load(seeded.index)) == old
    build(seeded)
    assert_clean(seeded)


def test_failure_after_the_swap_keeps_the_new_build(
    seeded: Settings, old: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """CURRENT already names the new build when syncing the folder fails: the error is reported,
    but the live build must not be deleted under the pointer."""
    real_fsync_dir = qa.index.store._fsync_dir
    calls: list[Path] = []

    def fsync_dir(path: Path) -> None:
        calls.append(path)
        if path == seeded.index and calls.count(path) == 2:  # the sync after CURRENT's replace
            raise OSError(errno.EIO, "Input/output error")
        real_fsync_dir(path)

    monkeypatch.setattr(qa.index.store, "_fsync_dir", fsync_dir)
    with pytest.raises(QaError, match="Input/output error"):
        build(seeded)
    monkeypatch.undo()
    index = load(seeded.index)
    assert contents(index) != old
    assert index.document(CHANGED).text.endswith("An edit made later.\n")  # type: ignore[union-attr]
    assert build_index(seeded, embedder_factory=refuse).built is False


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a 0o555 folder regardless")
def test_read_only_index_folder(seeded: Settings, old: dict[str, Any]) -> None:
    os.chmod(seeded.index, 0o555)
    try:
        with pytest.raises(QaError, match=r"^Cannot write the index in "):
            build(seeded)
        assert contents(load(seeded.index)) == old
    finally:
        os.chmod(seeded.index, 0o755)


def test_read_only_index_folder_simulated(
    seeded: Settings, old: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As root chmod does not stop writes: refuse every new entry in the index folder."""
    real_mkdir = Path.mkdir

    def mkdir(self: Path, *args: Any, **kwargs: Any) -> None:
        if self.parent == seeded.index:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    with pytest.raises(QaError) as caught:
        build(seeded)
    assert str(caught.value) == (
        f"Cannot write the index in {seeded.index}: Permission denied. Free some disk space or "
        "make the folder writable, then run `qa index` again."
    )
    monkeypatch.undo()
    assert contents(load(seeded.index)) == old


def test_write_failure_via_cli(
    seeded: Settings,
    old: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import qa.cli.main

    monkeypatch.setattr(qa.index.build, "load_embedder", lambda s: FakeEmbedder())
    monkeypatch.setattr(BuildWriter, "write_array", enospc)
    code = qa.cli.main.main(["index", "--docs", str(seeded.docs), "--index", str(seeded.index)])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err == (
        f"Error: Cannot write the index in {seeded.index}: No space left on device. Free some "
        "disk space or make the folder writable, then run `qa index` again.\n"
    )
    assert captured.out == ""


# --------------------------------------------------------------------------- documents changing


def test_document_deleted_between_scan_and_read(
    seeded: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    victim = seeded.docs / SEED_NAMES[0]
    real_read = Reader.read

    def read(self: Reader, path: Path, *, root: Path, on_page: Any = None) -> Any:
        if path == victim:
            path.unlink()
        return real_read(self, path, root=root, on_page=on_page)

    monkeypatch.setattr(Reader, "read", read)
    report = build(seeded)
    assert report.added == SEED_NAMES[1:]
    assert report.as_json()["skip_reasons"] == {
        SEED_NAMES[0]: "cannot read: No such file or directory"
    }
    index = load(seeded.index)
    assert [d.source for d in index.documents] == SEED_NAMES[1:]
    monkeypatch.undo()
    # gone for good: the next build forgets the skip, and embeds nothing
    again = build_index(seeded, embedder_factory=refuse)
    assert again.built is True and again.skipped == [] and again.documents == 2
    assert load(seeded.index).manifest["skipped"] == []


def test_document_deleted_between_discover_and_hash(
    seeded: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    victim = seeded.docs / SEED_NAMES[0]
    real_hash = qa.index.plan.hash_file

    def hash_file(path: Path) -> str:
        if path == victim:
            path.unlink()
        return real_hash(path)

    monkeypatch.setattr(qa.index.plan, "hash_file", hash_file)
    report = build(seeded)
    assert report.added == SEED_NAMES[1:]
    assert report.as_json()["skip_reasons"] == {
        SEED_NAMES[0]: "cannot read: No such file or directory"
    }


def test_document_rewritten_between_scan_and_read(
    seeded: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index holds what was actually read, with that content's hash; nothing is redone."""
    victim = seeded.docs / SEED_NAMES[0]
    real_read = Reader.read

    def read(self: Reader, path: Path, *, root: Path, on_page: Any = None) -> Any:
        if path == victim:
            path.write_text("Rewritten while the build was running.\n")
        return real_read(self, path, root=root, on_page=on_page)

    monkeypatch.setattr(Reader, "read", read)
    build(seeded)
    monkeypatch.undo()
    entry = load(seeded.index).document(SEED_NAMES[0])
    assert entry is not None
    assert entry.text == "Rewritten while the build was running.\n"
    assert entry.sha256 == qa.index.plan.hash_file(victim)
    assert build_index(seeded, embedder_factory=refuse).built is False


def test_document_rewritten_after_read_is_picked_up_next_time(
    seeded: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    victim = seeded.docs / SEED_NAMES[0]
    real_read = Reader.read

    def read(self: Reader, path: Path, *, root: Path, on_page: Any = None) -> Any:
        document = real_read(self, path, root=root, on_page=on_page)
        if path == victim:
            path.write_text("Rewritten just after the build read it.\n")
        return document

    monkeypatch.setattr(Reader, "read", read)
    build(seeded)
    monkeypatch.undo()
    assert load(seeded.index).document(SEED_NAMES[0]).text.startswith("OPINION")  # type: ignore[union-attr]
    report = build(seeded)
    assert report.changed == [SEED_NAMES[0]]
    assert load(seeded.index).document(SEED_NAMES[0]).text == (  # type: ignore[union-attr]
        "Rewritten just after the build read it.\n"
    )


def test_skipped_document_fixed_right_after_read_is_picked_up_next_time(
    seeded: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bad file fixed while the build runs must not stay 'skipped, unchanged' forever."""
    victim = seeded.docs / "late.txt"
    victim.write_bytes(b"")
    real_read = Reader.read

    def read(self: Reader, path: Path, *, root: Path, on_page: Any = None) -> Any:
        try:
            return real_read(self, path, root=root, on_page=on_page)
        finally:
            if path == victim:
                path.write_text("Saved with text a moment after the build read it empty.\n")

    monkeypatch.setattr(Reader, "read", read)
    first = build(seeded)
    assert first.as_json()["skip_reasons"] == {"late.txt": "empty file"}
    monkeypatch.undo()
    report = build(seeded)
    assert report.added == ["late.txt"]
    assert report.skipped == []


def test_document_becomes_unreadable_mid_build(
    seeded: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    victim = seeded.docs / SEED_NAMES[2]
    real_read = Reader.read

    def read(self: Reader, path: Path, *, root: Path, on_page: Any = None) -> Any:
        if path == victim:
            raise DocumentError("cannot read: Input/output error")
        return real_read(self, path, root=root, on_page=on_page)

    monkeypatch.setattr(Reader, "read", read)
    report = build(seeded)
    assert report.added == SEED_NAMES[:2]
    assert report.as_json()["skip_reasons"] == {SEED_NAMES[2]: "cannot read: Input/output error"}
    monkeypatch.undo()
    # same bytes as when it failed: remembered as skipped ... until the file changes
    assert build_index(seeded, embedder_factory=refuse).built is False
    victim.write_text(victim.read_text(encoding="utf-8") + "\nTouched.\n", encoding="utf-8")
    assert build(seeded).added == [SEED_NAMES[2]]


# --------------------------------------------------------------------------- real model, real CLI


def make_corpus(docs: Path, files: int) -> None:
    paragraphs = [
        p.strip()
        for seed in sorted(SEEDS.iterdir())
        for p in seed.read_text(encoding="utf-8").split("\n\n")
        if len(p.split()) > 8
    ]
    rng = np.random.default_rng(7)
    for i in range(files):
        picked = rng.choice(len(paragraphs), size=6, replace=False)
        text = "\n\n".join(paragraphs[j] for j in picked)
        (docs / f"doc{i:03d}.txt").write_text(f"Document {i}\n\n{text}\n", encoding="utf-8")


@pytest.mark.integration
def test_real_cli_killed_at_several_moments(settings: Settings, tmp_path: Path) -> None:
    """`qa index` with the torch backend, SIGKILLed at 20, 50 and 90 % of a full build's time
    (start-up, embedding, writing: wherever that lands on a loaded machine; the build of 8 more
    documents is shorter than the first, so on a busy machine the later moments can miss it)."""
    make_corpus(settings.docs, 8)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("QA_")},
        "HF_HUB_OFFLINE": "1",
        "QA_BACKEND": "torch",
        "QA_DOCS": str(settings.docs),
        "QA_INDEX": str(settings.index),
    }
    qa_cli = [sys.executable, "-m", "qa.cli", "index"]
    started = time.monotonic()
    subprocess.run(qa_cli, env=env, check=True, capture_output=True, timeout=600)
    full = time.monotonic() - started
    before = contents(load(settings.index))
    make_corpus(settings.docs, 16)  # 8 more documents to embed
    killed = 0
    for fraction in (0.2, 0.5, 0.9):
        child = subprocess.Popen(qa_cli, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(full * fraction)
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=30)
        index = load(settings.index)  # never damaged: the old build or (if it got there) the new
        if child.returncode == -signal.SIGKILL:
            killed += 1
            assert contents(index) == before or len(index.documents) == 16
    assert killed >= 1
    done = subprocess.run(qa_cli, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert len(load(settings.index).documents) == 16
    assert_clean(settings)
