"""One page image -> its printed lines, read by Tesseract.

Tesseract runs as its own program (the `tesseract` command line, no binding: pytesseract and
ocrmypdf call the same program and add nothing this needs; docs/ocr.md has the measurements),
with the page image on its standard input and its hOCR on its standard output, so no page is
ever written to disk. It runs one thread (OMP_THREAD_LIMIT=1: Debian's build spreads a page over
every core, and on a busy 2-core machine that made it five times slower, measured), inherits the
reader process's memory limit, and is killed past QA_OCR_SECONDS.

hOCR gives each line its box, baseline and type height, so a page read by OCR becomes the same
printed lines (qa.ingest.pdf_lines.Line) a PDF's text layer gives, and is laid out into
paragraphs by the same code (qa.ingest.pdf_layout).
"""

from __future__ import annotations

import functools
import io
import os
import re
import shutil
import subprocess
from collections import Counter
from dataclasses import replace
from html.parser import HTMLParser
from typing import TYPE_CHECKING

from qa.errors import DocumentError, SetupError
from qa.ingest.pdf_lines import Line

if TYPE_CHECKING:
    from PIL.Image import Image

    from qa.ingest.limits import Ocr

__all__ = [
    "INSTALL",
    "OcrFailed",
    "even_sizes",
    "hocr_lines",
    "recognise",
    "tesseract_command",
    "tesseract_version",
]

INSTALL = "apt-get install tesseract-ocr tesseract-ocr-eng"
# The classes of hOCR elements that hold one line of words.
_LINES = frozenset({"ocr_line", "ocr_header", "ocr_caption", "ocr_textfloat"})
_BBOX = re.compile(r"\bbbox (-?\d+) (-?\d+) (-?\d+) (-?\d+)")
_BASELINE = re.compile(r"\bbaseline (-?[\d.]+) (-?[\d.]+)")
_X_SIZE = re.compile(r"\bx_size ([\d.]+)")
_VERSION = re.compile(r"tesseract v?(\d[\w.\-]*)", re.IGNORECASE)
_SAME_TYPE = 0.1  # type heights this close (a fraction of the larger) are of one type size
_STDERR_CHARS = 2000  # of Tesseract's messages, kept to say why it failed
_VOID = frozenset({"meta", "link", "br", "img", "input", "hr"})  # HTML elements with no end tag


class OcrFailed(DocumentError):
    """Tesseract could not read one page: it is left out, the rest of the document is read."""


def recognise(image: Image, *, dpi: float, ocr: Ocr, page: int) -> list[Line]:
    """The printed lines of a page image (8-bit grey), positions in PDF units (1/72 inch) from
    its bottom left as a PDF's are; OcrFailed when Tesseract fails or runs out of time."""
    pixels = io.BytesIO()
    image.save(pixels, format="PPM")  # PGM: no encoding cost, and every Tesseract reads it
    command = tesseract_command(ocr)
    args = [command, "-", "-", "--dpi", str(round(dpi)), "-l", ocr.languages, "hocr"]
    try:
        done = subprocess.run(
            args,
            input=pixels.getvalue(),
            capture_output=True,
            timeout=ocr.seconds,
            env={**os.environ, "OMP_THREAD_LIMIT": "1"},
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise OcrFailed(ocr.too_slow(page)) from None
    except OSError as exc:
        raise OcrFailed(f"Tesseract could not start: {exc.strerror or exc}") from None
    if done.returncode != 0:
        raise OcrFailed(_failure(done.returncode, done.stderr))
    return hocr_lines(done.stdout.decode("utf-8", "replace"), dpi=dpi)


def _failure(code: int, stderr: bytes) -> str:
    said = stderr[-_STDERR_CHARS:].decode("utf-8", "replace").strip().splitlines()
    last = said[-1][:200] if said else "no message"
    how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
    return f"Tesseract failed ({how}: {last})"


def tesseract_command(ocr: Ocr) -> str:
    """The program to run; SetupError (one line: how to install it) when there is none or it
    lacks a language asked for."""
    found = shutil.which(ocr.tesseract)
    if found is None:
        where = "" if ocr.tesseract == "tesseract" else f" (QA_TESSERACT is {ocr.tesseract!r})"
        raise SetupError(
            f"OCR needs Tesseract, which is not installed{where}: {INSTALL} "
            "(or set QA_TESSERACT to the tesseract program)"
        )
    missing = [name for name in ocr.languages.split("+") if name not in _languages(found)]
    if missing:
        packages = " ".join(f"tesseract-ocr-{name.lower().replace('_', '-')}" for name in missing)
        raise SetupError(
            f"OCR needs Tesseract's {', '.join(missing)} language data: apt-get install "
            f"{packages} (QA_OCR_LANGUAGES is {ocr.languages!r})"
        )
    return found


@functools.cache
def _languages(command: str) -> frozenset[str]:
    """The languages `command` has data for (asked once per process: 20 ms)."""
    try:
        done = subprocess.run([command, "--list-langs"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SetupError(f"Tesseract ({command}) does not run: {exc}") from None
    # "List of available languages in "/usr/share/tesseract-ocr/5/tessdata/" (2):" then names.
    lines = done.stdout.decode("utf-8", "replace").splitlines()
    return frozenset(line.strip() for line in lines[1:] if line.strip())


@functools.cache
def tesseract_version(command: str) -> str:
    """ "5.3.0": part of what an OCR result is cached under (another version reads otherwise)."""
    try:
        done = subprocess.run([command, "--version"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    found = _VERSION.search(done.stdout.decode("utf-8", "replace") + done.stderr.decode())
    return found.group(1) if found else "unknown"


# --------------------------------------------------------------------------- hOCR


def hocr_lines(hocr: str, *, dpi: float) -> list[Line]:
    """The lines of one page's hOCR, in Tesseract's reading order. A line's left edge is its
    box's, its baseline where hOCR puts it at that edge, its size hOCR's x_size (the height of
    the line's type), all turned from pixels into PDF units with y growing upwards."""
    parser = _Hocr()
    parser.feed(hocr)
    parser.close()
    scale = 72 / dpi
    out = []
    for title, words in parser.lines:
        text = " ".join(words)
        box = _BBOX.search(title)
        if not text or box is None:
            continue
        left, _, _, bottom = (int(v) for v in box.groups())
        baseline = _BASELINE.search(title)
        y = bottom + (float(baseline.group(2)) if baseline else 0.0)
        size = _X_SIZE.search(title)
        height = float(size.group(1)) if size else float(bottom - int(box.group(2)))
        x, y = round(left * scale, 2), round((parser.height - y) * scale, 2)
        out.append(Line(text, x, y, round(height * scale, 1), False))
    return out


def even_sizes(pages: dict[int, list[Line]]) -> dict[int, list[Line]]:
    """The lines with one size for each type size used. Tesseract measures each line's type
    height apart, a line without capitals or descenders a few per cent lower ("x_size 40" after
    "x_size 43"), and the layout takes a change of size for a new paragraph and measures the
    line spacing of each size: sizes within _SAME_TYPE of a more common one become it."""
    counts = Counter(line.size for lines in pages.values() for line in lines)
    usual: list[float] = []
    for size, _ in counts.most_common():
        if not any(abs(size - other) <= _SAME_TYPE * max(size, other) for other in usual):
            usual.append(size)

    def sized(line: Line) -> Line:
        size = next(u for u in usual if abs(line.size - u) <= _SAME_TYPE * max(line.size, u))
        return replace(line, size=size)

    return {page: [sized(line) for line in lines] for page, lines in pages.items()}


class _Hocr(HTMLParser):
    """The words of each line of hOCR and the line's title (its box and measures); a plain
    HTML parser: no entities or DTDs to resolve, and broken markup reads as far as it goes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[tuple[str, list[str]]] = []
        self.height = 0
        self._open: list[str] = []  # classes of the elements open now
        self._line: tuple[str, list[str]] | None = None
        self._word: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            return
        found = dict(attrs)
        kind, title = found.get("class") or "", found.get("title") or ""
        self._open.append(kind)
        if kind == "ocr_page":
            box = _BBOX.search(title)
            self.height = int(box.group(4)) if box else 0
        elif kind in _LINES:
            self._line = (title, [])
        elif kind == "ocrx_word":
            self._word = []

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        kind = self._open.pop() if self._open else ""
        if kind == "ocrx_word" and self._word is not None:
            word = "".join(self._word).strip()
            if word and self._line is not None:
                self._line[1].append(word)
            self._word = None
        elif kind in _LINES and self._line is not None:
            self.lines.append(self._line)
            self._line = None

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass  # <meta .../>: opens nothing, closes nothing

    def handle_data(self, data: str) -> None:
        if self._word is not None:
            self._word.append(data)
