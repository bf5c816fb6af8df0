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

# A .docx is a zip: its XML can unpack to far more than the file's size. Refuse before parsing
# what no real document reaches (a 1,000-page report unpacks to a few tens of MB).
MAX_UNPACKED_BYTES = 512 * 1024 * 1024
_BODY = "word/document.xml"


def docx_text(data: bytes) -> str:
    """The body text of a .docx file; DocumentError says why when there is none to read."""
    _check_unpacked_size(data)
    try:
        document = docx.Document(io.BytesIO(data))
        blocks = [_block_text(block) for block in document.iter_inner_content()]
    except Exception as exc:  # python-docx and lxml raise many types for one broken file
        raise DocumentError(f"not a readable Word document ({_short(exc)})") from None
    text = "\n\n".join(block for block in blocks if block.strip())
    if not text:
        raise DocumentError("Word document has no text")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _check_unpacked_size(data: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
            names = set(archive.namelist())
    except Exception:  # BadZipFile, and the odd ValueError or EOFError of a damaged archive
        raise DocumentError("not a readable Word document (not a .docx zip file)") from None
    if _BODY not in names:
        raise DocumentError("not a readable Word document (no word/document.xml inside)")
    if unpacked > MAX_UNPACKED_BYTES:
        limit = MAX_UNPACKED_BYTES // (1024 * 1024)
        raise DocumentError(f"Word document unpacks to more than {limit} MB")


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
