"""Word documents (.docx) -> text: paragraphs and tables in reading order, laid out as the
chunker reads text (a blank line between paragraphs, a table row per line, cells split by tabs),
with their blocks: headings, list items, table rows and paragraphs.

A heading is a paragraph of style "Title" (level 1) or "Heading N" (level N + 1, at most 6: so
Heading 1 sits under the title) or of any style based on one, else one with an outline level
(Word's own mark of a heading: outline level N, counted from 1, is level N + 1). A list item is
a numbered or bulleted paragraph (numbering of its own or its style's). Style names are Word's
built-in English ones whatever the language Word shows them in.

Headers, footers, footnotes and comments are left out: they repeat on every page or sit beside
the text, and a citation must point into the body a reader sees.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from typing import Any

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

from qa.errors import DocumentError
from qa.ingest.blocks import Block, BlockKind
from qa.ingest.limits import Limits, mb
from qa.ingest.text import Extracted, normalise_newlines

_BODY = "word/document.xml"
# python-docx's tree of the body costs 8x the XML's size for ordinary paragraphs and 18x for a
# flood of tiny ones (measured); a body that surely needs more than the memory limit is refused
# before parsing, and the reader process's memory limit catches the rest.
_PARSE_COST = 8


def docx_text(data: bytes, limits: Limits) -> Extracted:
    """The body text of a .docx file and its blocks; DocumentError says why when there is none
    to read, or which limit it is over. A .docx is a zip: its XML can unpack to far more than
    the file."""
    _check_unpacked_size(data, limits)
    try:
        document = docx.Document(io.BytesIO(data))
        styles = _Styles()
        groups = [list(_lines(block, styles)) for block in document.iter_inner_content()]
    except MemoryError:
        raise
    except Exception as exc:  # python-docx and lxml raise many types for one broken file
        if _out_of_memory(exc):
            raise MemoryError from exc
        raise DocumentError(f"not a readable Word document ({_short(exc)})") from None
    text, blocks = _layout(groups)
    if not text:
        raise DocumentError("Word document has no text")
    return Extracted(text, blocks=blocks)


_Line = tuple[str, BlockKind, int]  # text, kind, heading level


def _layout(groups: list[list[_Line]]) -> tuple[str, tuple[Block, ...]]:
    """A blank line between paragraphs and tables, a table's rows on lines of their own."""
    parts: list[str] = []
    blocks: list[Block] = []
    length = 0
    for group in groups:
        if not "".join(line for line, _, _ in group).strip():
            continue
        for index, (line, kind, level) in enumerate(group):
            separator = ("\n" if index else "\n\n") if parts else ""
            start = length + len(separator)
            parts += [separator, line]
            length = start + len(line)
            if line.strip():
                left = len(line) - len(line.lstrip())
                blocks.append(Block(start + left, start + len(line.rstrip()), kind, level))
    return "".join(parts), tuple(blocks)


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


def _lines(block: Paragraph | Table, styles: _Styles) -> Iterator[_Line]:
    if isinstance(block, Paragraph):
        yield (normalise_newlines(block.text), *styles.kind(block))
    else:
        for row in _row_texts(block):
            yield normalise_newlines(row), "row", 0


_HEADING_STYLE = re.compile(r"heading ([1-9])")
_STYLE_DEPTH = 10  # styles based on styles; a broken document's chain may loop
_BODY_TEXT = 9  # the outline level of text that is not a heading


class _Styles:
    """What a paragraph's style makes it, worked out once per style."""

    def __init__(self) -> None:
        self._known: dict[str | None, tuple[int | None, list[Any]]] = {}

    def kind(self, paragraph: Paragraph) -> tuple[BlockKind, int]:
        level, formats = self._style(paragraph)
        if level is not None:
            return "heading", level
        formats = [paragraph._p.pPr, *formats]  # the paragraph's own formatting first
        outline = _first(formats, "outlineLvl")
        if outline is not None and outline.val < _BODY_TEXT:
            return "heading", min(outline.val + 2, 6)
        numbering = _first(formats, "numPr")
        if numbering is not None and (numbering.numId is None or numbering.numId.val != 0):
            return "item", 0  # numId 0 is Word's way of taking a style's numbering off
        return "paragraph", 0

    def _style(self, paragraph: Paragraph) -> tuple[int | None, list[Any]]:
        """The heading level its style's name gives, and the formatting of its style chain."""
        key = paragraph._p.style
        if key not in self._known:
            level, formats, style = None, [], paragraph.style
            for _ in range(_STYLE_DEPTH):
                if style is None:
                    break
                name = (style.name or "").lower()
                heading = _HEADING_STYLE.fullmatch(name)
                if level is None and (name == "title" or heading):
                    level = 1 if heading is None else min(int(heading[1]) + 1, 6)
                formats.append(style.element.pPr)
                style = style.base_style
            self._known[key] = (level, formats)
        return self._known[key]


def _first(formats: list[Any], name: str) -> Any:
    """The first paragraph formatting (`w:pPr`) in the list that sets `name`, or None."""
    for properties in formats:
        value = None if properties is None else getattr(properties, name)
        if value is not None:
            return value
    return None


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
