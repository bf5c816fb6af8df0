"""Word documents (.docx) -> text: paragraphs and tables in reading order, laid out as the
chunker reads text (a blank line between paragraphs, a table row per line, cells split by tabs).

Headers, footers, footnotes and comments are left out: they repeat on every page or sit beside
the text, and a citation must point into the body a reader sees.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

from qa.errors import DocumentError
from qa.ingest.limits import Limits, mb

_BODY = "word/document.xml"
# python-docx's tree of the body costs 8x the XML's size for ordinary paragraphs and 18x for a
# flood of tiny ones (measured); a body that surely needs more than the memory limit is refused
# before parsing, and the reader process's memory limit catches the rest.
_PARSE_COST = 8


def docx_text(data: bytes, limits: Limits) -> str:
    """The body text of a .docx file; DocumentError says why when there is none to read, or
    which limit it is over. A .docx is a zip: its XML can unpack to far more than the file."""
    _check_unpacked_size(data, limits)
    try:
        document = docx.Document(io.BytesIO(data))
        blocks = [_block_text(block) for block in document.iter_inner_content()]
    except MemoryError:
        raise
    except Exception as exc:  # python-docx and lxml raise many types for one broken file
        if _out_of_memory(exc):
            raise MemoryError from exc
        raise DocumentError(f"not a readable Word document ({_short(exc)})") from None
    text = "\n\n".join(block for block in blocks if block.strip())
    if not text:
        raise DocumentError("Word document has no text")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _check_unpacked_size(data: bytes, limits: Limits) -> None:
    """From the zip's directory, before anything is unpacked. Its sizes are binding: zipfile
    stops at the declared size (and then fails the CRC check) whatever the data holds."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            sizes = {info.filename: info.file_size for info in archive.infolist()}
    except Exception:  # BadZipFile, and the odd ValueError or EOFError of a damaged archive
        raise DocumentError("not a readable Word document (not a .docx zip file)") from None
    if _BODY not in sizes:
        raise DocumentError("not a readable Word document (no word/document.xml inside)")
    body = sizes[_BODY]
    limits.check_memory_estimate(body * _PARSE_COST, f"{mb(body)} of XML")
    limits.check_unpacked("Word document", sum(sizes.values()), len(data))


def _out_of_memory(exc: Exception) -> bool:
    """libxml2 reports an allocation that failed as a parse error: "Memory allocation failed",
    or "unknown error" when it could not even record one (seen under the reader's limit)."""
    if not type(exc).__module__.startswith("lxml"):  # lxml comes with python-docx
        return False
    message = str(exc)
    return message.startswith("unknown error") or "Memory allocation failed" in message


def _block_text(block: Paragraph | Table) -> str:
    if isinstance(block, Paragraph):
        return block.text
    return "\n".join(_row_texts(block))


def _row_texts(table: Table) -> Iterator[str]:
    """One line per row; a merged cell (python-docx repeats it per grid column) counts once."""
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            if cell._tc is not previous:
                cells.append(" ".join(cell.text.split()))
            previous = cell._tc
        if any(cells):
            yield "\t".join(cells)


def _short(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."
