"""The index on disk: a folder per build, plus a CURRENT file naming the live one.

A build is written into its own folder and made live by atomically replacing CURRENT, so a
reader (or a crash at any instant) sees either the whole old build or the whole new one.
Every file's sha256 is in the manifest and checked on load. No pickle: JSON and .npy only.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from qa.errors import IndexCorruptError, IndexMissingError, IndexVersionError, QaError

FORMAT = "qa-index"
FORMAT_VERSION = 4  # 2: sentences gained an is_heading column; 3: term vectors; 4: sentence kinds
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
PARTIAL = ".partial"

RUN_QA_INDEX = "Run `qa index` to rebuild it."


@dataclass(frozen=True)
class Build:
    """A loaded build: the manifest plus every file it lists, verified."""

    path: Path
    manifest: dict[str, Any]

    def json(self, name: str) -> Any:
        return json.loads((self.path / name).read_text(encoding="utf-8"))

    def jsonl(self, name: str) -> list[Any]:
        with (self.path / name).open(encoding="utf-8") as handle:
            return [json.loads(line) for line in handle]

    def array(self, name: str) -> np.ndarray:
        array: np.ndarray = np.load(self.path / name, allow_pickle=False)
        return array


def current_build_path(index_dir: Path) -> Path:
    """The live build folder; IndexMissingError when no build was ever made."""
    pointer = index_dir / CURRENT
    if not pointer.is_file():
        raise IndexMissingError(
            f"No index found in {index_dir}. Run `qa index` to build it from your documents."
        )
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):  # unreadable, or garbage bytes
        name = ""
    if not name or "/" in name or "\0" in name or name.startswith("."):
        raise IndexCorruptError(f"The index pointer {pointer} is damaged. {RUN_QA_INDEX}")
    return index_dir / name


def live_build_name(index_dir: Path) -> str | None:
    """The name CURRENT gives the live build, or None when there is none (a cheap look: one
    small read, no verification), so a serving process can see another process's commit."""
    try:
        return current_build_path(index_dir).name
    except QaError:
        return None


def open_build(index_dir: Path) -> Build:
    """Open and verify the live build (checksums, format)."""
    path = current_build_path(index_dir)
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexCorruptError(f"The index in {index_dir} is incomplete. {RUN_QA_INDEX}") from None
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(
            f"The index manifest in {path} is unreadable ({exc}). {RUN_QA_INDEX}"
        ) from None
    _check_format(manifest, index_dir)
    for name, expected in manifest["files"].items():
        _verify_file(path / name, expected, index_dir)
    return Build(path, manifest)


def listed_sources(index_dir: Path) -> set[str]:
    """The documents the live build's manifest names, whatever its format version; empty when
    it cannot be read. Lets a rebuild report them as changed rather than added."""
    try:
        manifest = json.loads((current_build_path(index_dir) / MANIFEST).read_text("utf-8"))
        return {str(d["source"]) for d in manifest["documents"]}
    except (QaError, OSError, ValueError, KeyError, TypeError):
        return set()


def _check_format(manifest: Any, index_dir: Path) -> None:
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IndexCorruptError(f"{index_dir} does not hold a qa index. {RUN_QA_INDEX}")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise IndexVersionError(
            f"The index in {index_dir} has format version {version}; this qa reads version "
            f"{FORMAT_VERSION}. {RUN_QA_INDEX}",
            version=version,
        )
    if not isinstance(manifest.get("files"), dict):
        raise IndexCorruptError(f"The index manifest in {index_dir} lists no files. {RUN_QA_INDEX}")


def _verify_file(path: Path, expected: Any, index_dir: Path) -> None:
    if not isinstance(expected, dict):
        expected = {}  # a garbled manifest entry: no checksum can match it
    try:
        digest, size = file_digest(path)
    except OSError:
        raise IndexCorruptError(
            f"The index file {path.name} is missing from {index_dir}. {RUN_QA_INDEX}"
        ) from None
    if size != expected.get("bytes") or digest != expected.get("sha256"):
        raise IndexCorruptError(
            f"The index file {path.name} in {index_dir} is damaged (checksum mismatch). "
            f"{RUN_QA_INDEX}"
        )


def file_digest(path: Path) -> tuple[str, int]:
    sha = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            sha.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), size


class BuildWriter:
    """Writes one build beside the live one; `commit` makes it live atomically."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = index_dir
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        self.name = f"build-{stamp}-{uuid.uuid4().hex[:8]}"
        self.path = index_dir / (self.name + PARTIAL)
        self.files: dict[str, dict[str, Any]] = {}
        self._final: Path | None = None  # the build folder once renamed, until CURRENT names it
        index_dir.mkdir(parents=True, exist_ok=True)
        self.path.mkdir()

    def write_json(self, name: str, value: Any) -> None:
        self._write(name, lambda h: h.write(json.dumps(value, ensure_ascii=False).encode()))

    def write_jsonl(self, name: str, rows: Iterable[Any]) -> None:
        def dump(handle: Any) -> None:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False).encode() + b"\n")

        self._write(name, dump)

    def write_array(self, name: str, array: np.ndarray) -> None:
        self._write(name, lambda h: np.save(h, array, allow_pickle=False))

    def write_with(self, name: str, writer: Callable[[Path], None]) -> None:
        """For libraries that write a file by path themselves (FAISS)."""
        writer(self.path / name)
        self._record(name)

    def _write(self, name: str, dump: Callable[[Any], Any]) -> None:
        with (self.path / name).open("wb") as handle:
            dump(handle)
            handle.flush()
            os.fsync(handle.fileno())
        self._record(name)

    def _record(self, name: str) -> None:
        digest, size = file_digest(self.path / name)
        self.files[name] = {"sha256": digest, "bytes": size}

    def commit(self, manifest: dict[str, Any]) -> Path:
        manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, **manifest}
        manifest["files"] = dict(self.files)
        self._write_manifest(manifest)
        final = self.index_dir / self.name
        os.replace(self.path, final)
        self._final = final
        _fsync_dir(self.index_dir)
        pointer = self.index_dir / CURRENT
        previous = pointer.read_text(encoding="utf-8").strip() if pointer.is_file() else ""
        _replace_text(pointer, self.name)
        self._final = None  # live now: abort() must not touch it
        # the previous build stays one round, for a reader that opened it a moment ago
        remove_stale_builds(self.index_dir, keep={self.name, previous})
        return final

    def _write_manifest(self, manifest: dict[str, Any]) -> None:
        with (self.path / MANIFEST).open("w", encoding="utf-8") as handle:
            json.dump(manifest, handle, ensure_ascii=False, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        _fsync_dir(self.path)

    def abort(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        if self._final is not None and not self._named_by_current():
            shutil.rmtree(self._final, ignore_errors=True)  # renamed, but never made live

    def _named_by_current(self) -> bool:
        try:
            return (self.index_dir / CURRENT).read_text(encoding="utf-8").strip() == self.name
        except (OSError, UnicodeDecodeError):
            return True  # cannot tell: keep it (the next build removes it if stale)


def remove_stale_builds(index_dir: Path, *, keep: set[str]) -> None:
    """Old builds and partial ones left by a crash; only ever called under the build lock."""
    for entry in index_dir.iterdir():
        if entry.is_dir() and entry.name.startswith("build-") and entry.name not in keep:
            shutil.rmtree(entry, ignore_errors=True)
    remove_leftovers(index_dir)


def remove_leftovers(index_dir: Path) -> None:
    """What a killed build leaves (its .partial folder, a temporary CURRENT), never a build that
    may be live or just replaced; only ever called under the build lock."""
    for entry in index_dir.iterdir():
        if entry.name.startswith("build-") and entry.name.endswith(PARTIAL) and entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.name.startswith(f".{CURRENT}.") and entry.is_file():
            entry.unlink(missing_ok=True)


def _replace_text(path: Path, text: str) -> None:
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    try:
        with temp.open("w", encoding="utf-8") as handle:
            handle.write(text + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
