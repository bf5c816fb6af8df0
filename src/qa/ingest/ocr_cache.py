"""What OCR read from each page, kept on disk: an unchanged scan is never read by OCR twice.

A page's entry is named by the SHA-256 of the file's bytes, the page's number and everything that
changes what Tesseract reads (its version, the languages, the resolution, this format), so a
changed file, another Tesseract or another setting reads the page again. Entries are small JSON
files (a few KB a page) under QA_CACHE/ocr, written whole or not at all (a temporary file renamed
into place), so readers in several processes never see half of one. The cache only saves time:
an entry that cannot be read or written is read by OCR again, and nothing is said.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from qa.ingest.pdf_lines import Line

__all__ = ["OcrCache"]

# Bump when what an entry holds, or how the lines in it are measured, changes meaning.
FORMAT = 1
_MAX_ENTRY_BYTES = 8 * 1024 * 1024  # a page's lines are a few KB: anything larger is not ours


class OcrCache:
    """Pages read by OCR, by the file's content and page number. A folder of "" keeps nothing."""

    def __init__(self, folder: str, *, reads_like: str) -> None:
        self._folder = Path(folder) if folder else None
        self._reads_like = f"{FORMAT}|{reads_like}"  # what else decides what OCR reads

    def get(self, sha256: str, page: int) -> list[Line] | None:
        path = self._path(sha256, page)
        if path is None:
            return None
        try:
            with path.open("rb") as handle:
                raw = handle.read(_MAX_ENTRY_BYTES + 1)
            if len(raw) > _MAX_ENTRY_BYTES:
                return None
            return _lines(json.loads(raw))
        except (OSError, ValueError, TypeError, KeyError):
            return None  # absent, or not an entry of ours: read the page again

    def put(self, sha256: str, page: int, lines: list[Line]) -> None:
        path = self._path(sha256, page)
        if path is None:
            return
        rows = [[line.text, line.x, line.y, line.size] for line in lines]
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        except OSError:
            return
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump({"lines": rows}, out, ensure_ascii=False)
            os.replace(temporary, path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temporary)

    def _path(self, sha256: str, page: int) -> Path | None:
        if self._folder is None:
            return None
        name = hashlib.sha256(f"{self._reads_like}|{sha256}|{page}".encode()).hexdigest()
        return self._folder / name[:2] / f"{name}.json"


def _lines(entry: Any) -> list[Line]:
    """The lines of an entry; ValueError/TypeError/KeyError when it is not one."""
    out = []
    for text, x, y, size in entry["lines"]:
        if not isinstance(text, str) or not text:
            raise ValueError("not a line")
        out.append(Line(text, float(x), float(y), float(size), False))
    return out
