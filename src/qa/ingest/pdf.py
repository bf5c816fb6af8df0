"""PDF -> text, page by page, within the document's limits.

The text is laid out from the printed lines (qa.ingest.pdf_layout): paragraphs joined, running
heads and page numbers left out, the outline's titles as headings. A page without a text layer (a
scan) has its lines read by OCR (qa.ingest.scans) and is laid out the same way.

A PDF's content streams are compressed, and a few KB can unpack to gigabytes that pypdf then
parses byte by byte (issue 24: a 70 KB file kept `qa index` busy for minutes). So the content
of every page is unpacked first and counted against the file's unpack budget (see qa.ingest.limits),
pypdf's own per-stream limits are set to that budget, and only then is text extracted.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pypdf import PdfReader, apply_configuration, get_configuration
from pypdf.errors import DependencyError, LimitReachedError
from pypdf.generic import Destination

from qa.errors import DocumentError
from qa.ingest.limits import Limits
from qa.ingest.pdf_layout import PAGE_SEPARATOR, lay_out
from qa.ingest.pdf_lines import FontKinds, Line, page_lines
from qa.ingest.pdf_marks import Heading
from qa.ingest.text import Extracted, OnPage
from qa.wording import counted

__all__ = ["PAGE_SEPARATOR", "pdf_text"]

WHAT = "PDF content"
# Outline entries read at most, and how deep: a title per page of a long book is well within.
_OUTLINE_LIMITS = {"outline_maximum_entries": 20_000, "outline_maximum_depth": 32}
# pypdf's limits on what one stream may unpack to; each is set to the file's budget.
_OUTPUT_LIMITS = (
    "zlib_maximum_output_length",
    "lzw_maximum_output_length",
    "run_length_maximum_output_length",
    "brotli_maximum_output_length",
    "array_based_stream_maximum_output_length",
    "stream_decoding_work_maximum_length",
)
# How pypdf words a LimitReachedError that means "unpacks to more than the limit".
_UNPACKING = (
    "Limit reached while decompressing",
    "Recovery limit reached while decompressing",
    "Array-based stream has at least",
    "Stream decoding exceeded",
)
_MAX_LOG_LINES = 5  # distinct pypdf messages kept per file


def pdf_text(data: bytes, limits: Limits, on_page: OnPage | None = None) -> Extracted:
    """Text of every page; DocumentError says why there is none, or which limit was hit.
    `on_page` hears of the pages read by OCR."""
    budget = limits.unpack_budget(len(data))
    config = get_configuration()
    overwrites: dict[str, Any] = {n: budget for n in _OUTPUT_LIMITS if hasattr(config, n)}
    overwrites |= {n: limit for n, limit in _OUTLINE_LIMITS.items() if hasattr(config, n)}
    with _pypdf_log() as said, apply_configuration(None, **overwrites):
        try:
            reader = _open(data)
            _check_unpacked(reader, limits, budget)
            pages, failed = _page_lines(reader)
            headings = _outline(reader)
        except _Unpacking:  # pypdf's per-stream limits, set to the budget above
            raise DocumentError(limits.unpacked_message(WHAT, budget + 1)) from None
    from qa.ingest.scans import pdf_scans  # Pillow and Tesseract's glue: only for PDFs

    scans = pdf_scans(data, pages, failed, limits, on_page)
    text, starts, blocks = lay_out(scans.pages, headings)
    if not text or text.isspace():
        raise DocumentError(_no_text(scans.tried, scans.notes))
    notes = [_failed_pages(failed)] if failed else []
    notes += scans.notes
    if said:
        notes.append("pypdf: " + "; ".join(said))
    return Extracted(text, starts, "; ".join(notes) or None, blocks, ocr_pages=scans.read)


def _no_text(tried: int, notes: tuple[str, ...]) -> str:
    if tried:
        said = f"PDF has no text layer, and OCR found no text on {counted(tried, 'scanned page')}"
    else:
        said = "PDF has no extractable text"
    return said + (f" ({'; '.join(notes)})" if notes else "")


def _open(data: bytes) -> PdfReader:
    try:
        reader = PdfReader(io.BytesIO(data))
        # Many PDFs are encrypted only to set permissions and open with the empty password.
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError("cannot read PDF: password protected")
        len(reader.pages)  # parses the page tree now, so a broken one is reported here
    except (DocumentError, MemoryError):
        raise
    except LimitReachedError as exc:
        _raise_if_unpacking(exc)
        raise DocumentError(f"cannot read PDF: {_short(exc)}") from exc
    except DependencyError as exc:
        raise DocumentError("cannot read PDF: encrypted (decrypting needs 'cryptography')") from exc
    # pypdf raises a wide range of exception types on malformed input; any of them means "skip".
    except Exception as exc:
        raise DocumentError(f"cannot read PDF: {_short(exc)}") from exc
    return reader


def _check_unpacked(reader: PdfReader, limits: Limits, budget: int) -> None:
    """Unpack every page's content (pypdf keeps it for extraction) and refuse, before parsing
    any of it, a file whose pages unpack past the budget. A stream shared by many pages counts
    once per page: each page parses it again."""
    total = 0
    for page in reader.pages:
        try:
            content = page.get_contents()
        except MemoryError:
            raise
        except Exception as exc:  # a damaged page: extraction reports it
            _raise_if_unpacking(exc)
            continue
        total += len(content.get_data()) if content is not None else 0
        if total > budget:
            raise DocumentError(limits.unpacked_message(WHAT, total))


def _page_lines(reader: PdfReader) -> tuple[list[list[Line]], list[int]]:
    """The lines of every page (none when extraction fails) and the 1-based numbers of failed
    pages."""
    pages: list[list[Line]] = []
    failed: list[int] = []
    fonts = FontKinds()
    for number, page in enumerate(reader.pages, start=1):
        try:
            pages.append(page_lines(page, fonts))
        except MemoryError:
            raise
        except Exception as exc:  # one damaged page should not cost the rest of the document
            _raise_if_unpacking(exc)
            pages.append([])
            failed.append(number)
    return pages, failed


def _outline(reader: PdfReader) -> list[Heading]:
    """The outline's entries in order, with their depth and page; none when the outline cannot
    be read (it only adds headings: the text is there without it)."""
    try:
        return _entries(reader, reader.outline, 1)
    except MemoryError:
        raise
    except Exception as exc:  # a broken or cyclic outline, or one past the limits set above
        _raise_if_unpacking(exc)
        logging.getLogger("pypdf").warning("outline left out: %s", _short(exc))
        return []


def _entries(reader: PdfReader, items: Any, level: int) -> list[Heading]:
    out: list[Heading] = []
    for item in items:
        if isinstance(item, list):
            out.extend(_entries(reader, item, level + 1))
        elif isinstance(item, Destination):
            page = reader.get_destination_page_number(item)
            top = item.get("/Top")
            if page is not None and page >= 0:
                where = float(top) if isinstance(top, (int, float)) else None
                out.append(Heading(str(item.title or "").strip(), level, page, where))
    return out


class _Unpacking(Exception):
    """A stream unpacked past pypdf's per-stream limits, which pdf_text sets to the budget."""


def _raise_if_unpacking(exc: Exception) -> None:
    if isinstance(exc, LimitReachedError) and str(exc).startswith(_UNPACKING):
        raise _Unpacking from exc


def _failed_pages(failed: list[int]) -> str:
    pages = "page" if len(failed) == 1 else "pages"
    return f"text of {pages} {', '.join(map(str, failed))} could not be extracted"


@contextmanager
def _pypdf_log() -> Iterator[list[str]]:
    """pypdf's log lines ("Object 6 0 not defined.") while reading one file, distinct, in
    order: they become that file's warning instead of reaching stderr without its name."""
    said: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            line = _clip(record.getMessage().strip())
            if line and line not in said and len(said) < _MAX_LOG_LINES:
                said.append(line)

    logger = logging.getLogger("pypdf")
    handler, propagate = Keep(logging.WARNING), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield said
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def _short(exc: Exception) -> str:
    message = str(exc).strip().splitlines()
    return _clip(message[0] if message else type(exc).__name__)


def _clip(text: str) -> str:
    first = text.splitlines()[0] if text else text
    return first if len(first) <= 120 else first[:117] + "..."
