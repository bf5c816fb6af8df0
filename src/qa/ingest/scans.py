"""Pages without text read by OCR: a PDF's pages that have no text layer here, and the pages of
image files (qa.ingest.images) through read_pages.

A page is rendered (PDF pages by pdfium, through pypdfium2) or decoded (images, by Pillow) into an
8-bit grey image of at most 300 dpi and OCR_PIXELS pixels, and read by Tesseract (qa.ingest.ocr)
into printed lines, which are laid out like a PDF's (qa.ingest.pdf_layout). What a page reads as
is kept in the OCR cache (qa.ingest.ocr_cache), looked up before the page is even rendered.

A file with more pages to read than QA_OCR_MAX_PAGES, or read where Tesseract is missing, is
skipped with a SetupError, which the next build tries again; a PDF with text on other pages is
indexed without its scanned pages, saying so.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from PIL import Image

from qa.errors import SetupError
from qa.ingest.limits import Limits, Ocr
from qa.ingest.ocr import (
    OcrFailed,
    even_sizes,
    recognise,
    tesseract_command,
    tesseract_version,
)
from qa.ingest.ocr_cache import OcrCache
from qa.ingest.pdf_lines import Line
from qa.ingest.text import OnPage
from qa.wording import counted

if TYPE_CHECKING:
    from pypdfium2 import PdfDocument

__all__ = ["DPI", "OCR_PIXELS", "PdfScans", "Scanned", "pdf_scans", "read_pages"]

DPI = 300  # Tesseract reads body text best at 300 dpi (its documentation; 0.99+ here, docs/ocr.md)
# Pixels of a page read, at most: a larger page is read at less than DPI (A4 at 300 dpi is 8.7
# million, A3 17.4); Tesseract's time and memory grow with them.
OCR_PIXELS = 36_000_000
_BLANK = 24  # a page whose lightest and darkest grey differ by less is empty: no OCR

Render = Callable[[int], tuple[Image.Image, float]]  # page index -> grey image, its dpi


@dataclass(frozen=True)
class Scanned:
    """What OCR read: the lines of each page read (by 0-based index), the 1-based numbers of the
    pages read, and notes on pages it could not read."""

    lines: dict[int, list[Line]]
    read: tuple[int, ...]
    notes: tuple[str, ...]


def read_pages(
    indexes: list[int], render: Render, *, sha256: str, ocr: Ocr, on_page: OnPage | None
) -> Scanned:
    """The pages `indexes` of the file whose bytes hash to `sha256`, read by OCR (or the cache);
    SetupError when they are more than ocr.pages or Tesseract is missing. A page Tesseract
    fails on (or takes too long over) is noted and left out."""
    if len(indexes) > ocr.pages:
        raise SetupError(ocr.too_many(str(len(indexes))))
    cache = OcrCache(ocr.cache, reads_like=_reads_like(ocr))
    lines = {index: found for index in indexes if (found := cache.get(sha256, index)) is not None}
    if len(lines) < len(indexes):
        tesseract_command(ocr)  # SetupError now, before OCR is announced, when it is missing
    notes: list[str] = []
    if on_page is not None:
        on_page(0, len(indexes))
    for done, index in enumerate(indexes, 1):
        if index not in lines:
            try:
                lines[index] = _read(render, index, ocr)
            except OcrFailed as exc:
                notes.append(f"page {index + 1}: {exc}")
            else:
                cache.put(sha256, index, lines[index])
        if on_page is not None:
            on_page(done, len(indexes))
    return Scanned(even_sizes(lines), tuple(sorted(i + 1 for i in lines)), tuple(notes))


def _reads_like(ocr: Ocr) -> str:
    """What, besides the page, decides what OCR reads from it: part of each cache entry's key."""
    version = tesseract_version(ocr.tesseract)
    return f"tesseract {version}|{ocr.languages}|{DPI}|{OCR_PIXELS}"


def _read(render: Render, index: int, ocr: Ocr) -> list[Line]:
    image, dpi = render(index)
    low, high = cast(tuple[int, int], image.getextrema())  # one band: (darkest, lightest)
    if high - low < _BLANK:
        return []  # a blank page or one flat colour: nothing to read, and no Tesseract to run
    return recognise(image, dpi=dpi, ocr=ocr, page=index + 1)


# --------------------------------------------------------------------------- PDF pages


@dataclass(frozen=True)
class PdfScans:
    """A PDF's pages with the lines OCR read put in, and what to tell about it."""

    pages: list[list[Line]]
    read: tuple[int, ...]  # 1-based pages read by OCR
    notes: tuple[str, ...]
    tried: int  # pages OCR was asked to read


def pdf_scans(
    data: bytes,
    pages: list[list[Line]],
    failed: list[int],
    limits: Limits,
    on_page: OnPage | None,
) -> PdfScans:
    """`pages` with each page that has no text layer but draws something read by OCR. When
    that cannot be done (no Tesseract, too many pages), a SetupError if no page has text, else
    a note: the pages with text are worth indexing all the same."""
    textless = [i for i, lines in enumerate(pages) if not lines and i + 1 not in failed]
    if not textless:
        return PdfScans(pages, (), (), 0)
    import pypdfium2  # 0.05 s to load: only for a PDF with pages without text

    try:
        document = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as exc:  # pypdf read it, pdfium cannot: no page is rendered
        note = f"{counted(len(textless), 'page')} without text left out: pdfium: {exc}"
        return PdfScans(pages, (), (note,), 0)
    try:
        drawn = [i for i in textless if _draws(document, i)]
        sha256 = hashlib.sha256(data).hexdigest()
        try:
            scanned = read_pages(
                drawn,
                lambda index: _render(document, index),
                sha256=sha256,
                ocr=limits.ocr,
                on_page=on_page,
            )
        except SetupError as exc:
            if not any(pages):
                raise
            note = f"{counted(len(drawn), 'page')} without text left out: {exc}"
            return PdfScans(pages, (), (note,), len(drawn))
    finally:
        document.close()
    filled = [scanned.lines.get(i, lines) for i, lines in enumerate(pages)]
    return PdfScans(filled, scanned.read, scanned.notes, len(drawn))


def _draws(document: PdfDocument, index: int) -> bool:
    """Whether the page draws anything at all: a blank page is not worth rendering (one that
    pdfium cannot load is tried, so that rendering it says why it fails)."""
    import pypdfium2
    import pypdfium2.raw as pdfium_c

    try:
        page = document[index]
    except pypdfium2.PdfiumError:
        return True
    try:
        return bool(pdfium_c.FPDFPage_CountObjects(page.raw) > 0)
    finally:
        page.close()


def _render(document: PdfDocument, index: int) -> tuple[Image.Image, float]:
    """The page as a grey image at DPI, or less when that would be more than OCR_PIXELS."""
    import pypdfium2

    try:
        page = document[index]
    except pypdfium2.PdfiumError as exc:
        raise OcrFailed(f"pdfium could not load it ({exc})") from None
    try:
        width, height = page.get_size()
        area = max(width * height, 1.0) / (72 * 72)  # square inches
        dpi = min(float(DPI), math.sqrt(OCR_PIXELS / area))
        bitmap = page.render(scale=dpi / 72, grayscale=True)
        return bitmap.to_pil().convert("L"), dpi
    except pypdfium2.PdfiumError as exc:
        raise OcrFailed(f"pdfium could not render it ({exc})") from None
    finally:
        page.close()
