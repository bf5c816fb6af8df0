"""What a reader knows of a document's structure: spans of its text that are headings, prose,
code, list items, definition terms or table rows.

Readers of structured formats (HTML, Markdown, DOCX, PDF) return blocks beside the text; chunking
then follows them instead of guessing from blank lines and short lines, as it still does for plain
text. A heading path (`Page > Section > Subsection`) for every passage comes from the headings and
terms; a code block is never cut into sentences nor quoted as prose.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

__all__ = ["KINDS", "Block", "BlockKind", "blocks_from_rows", "check_blocks"]

BlockKind = Literal["heading", "paragraph", "code", "item", "term", "row"]
KINDS: tuple[str, ...] = get_args(BlockKind)


@dataclass(frozen=True)
class Block:
    """`text[start:end]` of the document, trimmed of white space at both ends.

    heading: `level` 1-6 (h1-h6, Markdown #, a DOCX "Heading N" style, PDF outline depth).
    term: a definition list's term or an API entry's signature; it heads the blocks after it
      (its description) until the next term or heading, one level below the heading above it.
    code: preformatted text kept whole: never cut into sentences, quoted only as code.
    item, row: a list item, a table row (its cells joined by spaces or tabs).
    paragraph: prose.
    """

    start: int
    end: int
    kind: BlockKind
    level: int = 0

    def as_row(self) -> list[int | str]:
        return [self.start, self.end, self.kind, self.level]


def blocks_from_rows(rows: Iterable[list[int | str]]) -> tuple[Block, ...]:
    """Blocks from their JSON rows (the reader process sends them so); ValueError when malformed."""
    out: list[Block] = []
    for start, end, kind, level in rows:
        if kind not in KINDS:
            raise ValueError(f"unknown block kind {kind!r}")
        out.append(Block(int(start), int(end), kind, int(level)))  # type: ignore[arg-type]
    return tuple(out)


def check_blocks(text: str, blocks: Iterable[Block]) -> None:
    """AssertionError unless blocks are in order, apart, inside the text and trimmed: every
    reader's tests call this on what it returns."""
    previous_end = 0
    for block in blocks:
        span = text[block.start : block.end]
        assert previous_end <= block.start < block.end <= len(text), (block, previous_end)
        assert span == span.strip(), (block, span[:40])
        assert block.kind != "heading" or 1 <= block.level <= 6, block
        previous_end = block.end
