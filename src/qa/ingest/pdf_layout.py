"""A PDF's printed lines -> the document's text, page starts and blocks.

A printed line end inside a paragraph becomes a space, and a word hyphenated across it whole
again; a paragraph ends at a gap taller than the text's line spacing, a line set in or out from
the one before (a first-line indent is taken back), a short line that ends a sentence, a change of
type size, a list bullet, a heading or a change to or from code. Code lines, table-of-contents
lines and other short lines keep their line breaks. Running heads and page numbers are left out
(qa.ingest.pdf_marks). The text is built here, so every offset (page starts, blocks) is exact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.ingest.blocks import Block, BlockKind
from qa.ingest.pdf_lines import Line, wide
from qa.ingest.pdf_marks import Heading, find_headings, running_lines
from qa.ingest.pdf_measures import Measures

__all__ = ["PAGE_SEPARATOR", "lay_out"]

PAGE_SEPARATOR = "\n\n"
_GAP = 1.1  # a baseline this many line spacings below the last one starts a paragraph
_INDENT = 0.4  # a left edge this many type sizes in or out from the last one is an indent
_SENTENCE_END = re.compile(r"[.!?:][)\]'\"’”]*$")
_LEADERS = re.compile(r"(?:\. ?){5,}")  # "Imports . . . . . . 3", a contents or index line
_BULLETS = frozenset("•◦▪▫‣●○■□◆◇►▸➢✓")
_DASH_ITEM = re.compile(r"(?:[-–—*]|\(?(?:\d{1,3}|[a-z])[.)]) \S")  # "- x", "3. x", "(b) x"
_HYPHENS = "-\u2010\u00ad"
# A web address cut at a line end ("https://www." + "gnumeric.org"): it goes on without a space.
_ADDRESS = re.compile(r"(?:\w+:/|www\.)\S*[/.\-_=?&#~%]$")


@dataclass(frozen=True)
class _Cut:
    """How a line follows the one before: `between` is written between them; `block` starts a
    new block (its kind then comes from the line); `unhyphen` drops the last one's end hyphen."""

    between: str
    block: bool = False
    unhyphen: bool = False
    item: bool = False  # the new block is a list item


_PARAGRAPH = _Cut("\n\n", block=True)
_LIST = _Cut("\n\n", block=True, item=True)  # a list's first item
_ITEM = _Cut("\n", block=True, item=True)  # the next
_LINE = _Cut("\n")
_SPACE = _Cut(" ")


class _Writer:
    """The text being written, with its blocks."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.blocks: list[Block] = []
        self.start = 0  # where the open block starts
        self.kind: BlockKind | None = None  # the open block's kind; None: no block open
        self.level = 0
        self.lines = 0  # lines written in the open block

    def write(self, text: str) -> None:
        self.parts.append(text)
        self.length += len(text)

    def close(self) -> None:
        if self.kind is not None:
            self.blocks.append(Block(self.start, self.length, self.kind, self.level))
        self.kind = None

    def add(self, text: str, cut: _Cut, kind: BlockKind, level: int) -> int:
        """Writes `text` after `cut`; where it starts."""
        if cut.unhyphen:
            self.parts[-1] = self.parts[-1][:-1]
            self.length -= 1
        if cut.block:
            self.close()
        self.write(cut.between)
        if self.kind is None:
            self.start, self.kind, self.level, self.lines = self.length, kind, level, 0
        self.write(text)
        self.lines += 1
        return self.length - len(text)


class _Flow:
    """Writes the kept lines of every page, deciding how each follows the one before."""

    def __init__(self, pages: list[list[Line]], heads: list[list[Heading | None]]) -> None:
        self.pages, self.heads = pages, heads
        self.measures = Measures(pages)
        self.out = _Writer()

    def run(self) -> tuple[str, tuple[int, ...], tuple[Block, ...]]:
        starts: list[int] = []
        last: tuple[int, int] | None = None  # (page, line) last written
        for page, lines in enumerate(self.pages):
            if not lines:
                if page:
                    self.out.close()
                    self.out.write(PAGE_SEPARATOR)
                starts.append(self.out.length)
                continue
            for index, line in enumerate(lines):
                cut = self._cut(last, (page, index))
                offset = self.out.add(line.text, cut, *self._kind(page, index, cut))
                if index == 0:
                    starts.append(offset)
                last = (page, index)
        self.out.close()
        return "".join(self.out.parts), tuple(starts), tuple(self.out.blocks)

    def _kind(self, page: int, index: int, cut: _Cut) -> tuple[BlockKind, int]:
        heading, line = self.heads[page][index], self.pages[page][index]
        if heading is not None:
            return "heading", min(max(heading.level, 1), 6)
        if line.mono:
            return "code", 0
        return ("item" if cut.item else "paragraph"), 0

    def _cut(self, last: tuple[int, int] | None, here: tuple[int, int]) -> _Cut:
        page, index = here
        if last is None:  # the first text; pages before it without text keep their separators
            return _Cut(PAGE_SEPARATOR if page else "", block=True)
        if last[0] != page and last[0] != page - 1:
            return _Cut(PAGE_SEPARATOR, block=True)  # pages without text between
        before, line = self.pages[last[0]][last[1]], self.pages[page][index]
        ahead, behind = self.heads[page][index], self.heads[last[0]][last[1]]
        if ahead is not None or behind is not None:
            same = ahead is behind and last[0] == page  # one title wrapped over lines
            return _SPACE if same else _PARAGRAPH
        if (line.mono or before.mono) and not self._runs_on(last[0], page, before, line):
            return _LINE if self._same_code(last[0], page, before, line) else _PARAGRAPH
        if last[0] != page or _moved_up(before, line):
            cut = self._onward(last[0], before, line) or _PARAGRAPH
        else:
            cut = self._within(page, before, line)
        if _bullet(line.text) or (_DASH_ITEM.match(line.text) and cut.block):
            return _ITEM if self.out.kind == "item" else _LIST
        return cut

    def _same_code(self, was: int, page: int, before: Line, line: Line) -> bool:
        """Whether two lines of code are of one listing: no gap between them on a page, or
        flush with each other over a page break."""
        if not (line.mono and before.mono):
            return False
        if was == page:
            return not self._gap(before, line)
        return before.x is not None and line.x is not None and abs(line.x - before.x) < 1

    def _runs_on(self, was: int, page: int, before: Line, line: Line) -> bool:
        """Whether a line in fixed-pitch type is prose all the same: a name or an address that
        took a line of a paragraph to itself, flush with it and after a full line."""
        if self.out.kind != "paragraph" or was != page or self._gap(before, line):
            return False
        if before.x is None or line.x is None or abs(line.x - before.x) > _INDENT * line.size:
            return False
        return before.mono or not self.measures.short(page, before, line)

    def _within(self, page: int, before: Line, line: Line) -> _Cut:
        """How a line follows the one above it in the same column."""
        if before.x is None or line.x is None or before.y is None or line.y is None:
            return _LINE  # no layout known: the line break stays
        if self._gap(before, line) or abs(line.size - before.size) > 0.15 * line.size:
            return _PARAGRAPH
        if _LEADERS.search(before.text):
            return _LINE  # a contents or index entry, whatever its indent
        indent, tolerance = line.x - before.x, _INDENT * line.size
        if abs(indent) > tolerance and self.out.lines > 1:
            return _PARAGRAPH  # set in or out from the paragraph's lines
        # Set out from a first line: back from its indent; set in: hanging under it (a list
        # item, a footnote, a reference, a term and its description).
        if self.measures.short(page, before, line):
            return _PARAGRAPH if _SENTENCE_END.search(before.text) else _LINE
        return self._join(before, line)

    def _onward(self, page: int, before: Line, line: Line) -> _Cut | None:
        """The join when a sentence runs on from the foot of a page (or column) to the next:
        the line before neither ends a sentence nor stops short, the next starts lowercase."""
        if _SENTENCE_END.search(before.text) or _bullet(line.text) or not line.text[0].islower():
            return None
        if self.measures.short(page, before, line):
            return None
        return self._join(before, line)

    def _join(self, before: Line, line: Line) -> _Cut:
        text = before.text
        if _ADDRESS.search(text) or (wide(text[-1]) and wide(line.text[0])):
            return _Cut("")  # an address, or CJK text, goes on without a space
        if text[-1] in _HYPHENS and len(text) >= 2 and text[-2].isalnum():
            hyphen = self.measures.hyphen(text, line.text)
            return _SPACE if hyphen is None else _Cut("", unhyphen=not hyphen)
        return _SPACE

    def _gap(self, before: Line, line: Line) -> bool:
        if before.y is None or line.y is None:
            return False
        return before.y - line.y > _GAP * self.measures.line_spacing(line.size)


def _moved_up(before: Line, line: Line) -> bool:
    """The next line is above this one: a new column, or text placed out of reading order."""
    return before.y is not None and line.y is not None and line.y > before.y + 0.5 * line.size


def _bullet(text: str) -> bool:
    return text[0] in _BULLETS


def lay_out(
    pages: list[list[Line]], headings: list[Heading]
) -> tuple[str, tuple[int, ...], tuple[Block, ...]]:
    """The text of the pages, where each starts in it, and its blocks."""
    # Heads go first: a page number above a chapter's title is not part of the title.
    gone = running_lines(pages)
    kept = [
        [line for i, line in enumerate(lines) if (p, i) not in gone]
        for p, lines in enumerate(pages)
    ]
    titles = find_headings(kept, headings)
    heads = [[titles.get((p, i)) for i in range(len(lines))] for p, lines in enumerate(kept)]
    return _Flow(kept, heads).run()
