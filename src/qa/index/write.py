"""Writing a build: the index's files and its manifest into a folder beside the live one, made
live atomically (store.BuildWriter); a failed write leaves the live build as it was."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from qa.errors import QaError
from qa.index.built import Index, save
from qa.index.store import BuildWriter
from qa.ingest.documents import Skipped
from qa.settings import Settings


def write_build(
    settings: Settings, index: Index, skipped: list[Skipped], hashes: dict[str, str]
) -> None:
    """Write and commit a new build; `hashes` are the scan's, so a skip is remembered for the
    bytes that were actually examined (a file fixed a moment later is read again next time).
    A skip to retry (Tesseract missing, say) is not remembered: no hash matches "" ."""
    manifest = {
        **index.manifest,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "counts": {
            "documents": len(index.documents),
            "passages": len(index.passages),
            "sentences": len(index.sentences),
        },
        "libraries": _library_versions(),
        "documents": [d.record(with_text=False) for d in index.documents],
        "skipped": [
            {
                "source": s.source,
                "reason": s.reason,
                "sha256": "" if s.retry else hashes.get(s.source, ""),
            }
            for s in skipped
        ],
    }
    try:
        writer = BuildWriter(settings.index)
    except OSError as exc:
        raise _cannot_write(settings.index, exc) from exc
    try:
        save(writer, index)
        writer.commit(manifest)
    except BaseException as exc:
        writer.abort()
        if isinstance(exc, OSError):
            raise _cannot_write(settings.index, exc) from exc
        raise


def _cannot_write(index_dir: Path, exc: OSError) -> QaError:
    return QaError(
        f"Cannot write the index in {index_dir}: {exc.strerror or exc}. Free some disk space or "
        "make the folder writable, then run `qa index` again."
    )


def _library_versions() -> dict[str, str]:
    versions = {}
    for name in (
        "qa",
        "numpy",
        "faiss-cpu",
        "tokenizers",
        "onnxruntime",
        "sentence-transformers",
    ):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            continue
    versions["python"] = sys.version.split()[0]
    return versions
