"""PDF -> text, page by page, within the document's limits.

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

from pypdf import PdfReader, apply_configuration, get_configuration
from pypdf.errors import DependencyError, LimitReachedError

from qa.errors import DocumentError
from qa.ingest.limits import Limits
from qa.ingest.text import Extracted

PAGE_SEPARATOR = "\n\n"
WHAT = "PDF content"
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


def pdf_text(data: bytes, limits: Limits) -> Extracted:
    """Text of every page; DocumentError says why there is none, or which limit was hit."""
    budget = limits.unpack_budget(len(data))
    config = get_configuration()
    overwrites = {name: budget for name in _OUTPUT_LIMITS if hasattr(config, name)}
    with _pypdf_log() as said, apply_configuration(None, **overwrites):
        try:
            reader = _open(data)
            _check_unpacked(reader, limits, budget)
            texts, failed = _page_texts(reader)
        except _Unpacking:  # pypdf's per-stream limits, set to the budget above
            raise DocumentError(limits.unpacked_message(WHAT, budget + 1)) from None
    if all(not text or text.isspace() for text in texts):
        raise DocumentError("PDF has no extractable text")
    starts, offset = [], 0
    for text in texts:
        starts.append(offset)
        offset += len(text) + len(PAGE_SEPARATOR)
    notes = [_failed_pages(failed)] if failed else []
    if said:
        notes.append("pypdf: " + "; ".join(said))
    return Extracted(PAGE_SEPARATOR.join(texts), tuple(starts), "; ".join(notes) or None)


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


def _page_texts(reader: PdfReader) -> tuple[list[str], list[int]]:
    """Text of every page (empty when extraction fails) and the 1-based numbers of failed pages."""
    texts: list[str] = []
    failed: list[int] = []
    for number, page in enumerate(reader.pages, start=1):
        try:
            texts.append(page.extract_text().replace("\r\n", "\n").replace("\r", "\n"))
        except MemoryError:
            raise
        except Exception as exc:  # one damaged page should not cost the rest of the document
            _raise_if_unpacking(exc)
            texts.append("")
            failed.append(number)
    return texts, failed


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
