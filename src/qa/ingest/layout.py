"""HTML elements to the lines a reader sees, and the blocks (qa.ingest.blocks) they form.

The HTML reader walks the tree and calls `open`, `add` and `close`; block elements become
paragraphs (a blank line), list items and rows become lines, preformatted text stays verbatim.

Blocks come out flat, in order and apart, however the elements nest. The text of a line belongs
to the innermost open element that gives a kind (a heading, pre, dt, dd, li, tr, caption), else it
is a paragraph: `<li><p>text</p></li>` is an item, `<dd><pre>code</pre></dd>` is code. An element
gives its kind to its first paragraph only: the later paragraphs of a list item, a table row or a
term are paragraphs that follow it (a `<dd>` gives paragraphs anyway). Consecutive `<dt>`s are one
term (`-f` and `--force`, as a definition list groups them); everything inside a `<pre>` is one
code block.

A heading the reader finds to be a box's title (`open(name, gives_kind=False)`) gives no kind:
its text is of the element around it, a paragraph or the first line of a list item.
"""

from __future__ import annotations

from qa.ingest.blocks import Block, BlockKind
from qa.ingest.text import normalise_newlines

__all__ = ["TextBuilder"]

# Blank line around: the chunker treats these as paragraphs.
_PARAGRAPHS = frozenset(
    {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "main", "header",
     "footer", "nav", "aside", "blockquote", "pre", "table", "ul", "ol", "dl", "figure", "form",
     "fieldset", "address", "hr", "details", "body"}
)  # fmt: skip
# Own line, but part of the surrounding paragraph (list items, rows).
_LINES = frozenset(
    {"li", "tr", "dt", "dd", "caption", "figcaption", "option", "summary", "legend", "thead",
     "tbody", "tfoot"}
)  # fmt: skip
_CELLS = frozenset({"td", "th"})
# The elements that give their text a block kind; any other text is a paragraph.
_KINDS: dict[str, tuple[BlockKind, int]] = {
    **{f"h{level}": ("heading", level) for level in range(1, 7)},
    "pre": ("code", 0),
    "dt": ("term", 0),
    "dd": ("paragraph", 0),
    "li": ("item", 0),
    "tr": ("row", 0),
    "caption": ("paragraph", 0),
    "figcaption": ("paragraph", 0),
}


class _Owner:
    """An open element that gives a kind: its text's block, and whether it has had one yet."""

    __slots__ = ("kind", "level", "started")

    def __init__(self, kind: BlockKind, level: int) -> None:
        self.kind = kind
        self.level = level
        self.started = False


class _Blocks:
    """Blocks as lines are emitted: a line extends the last block or starts the next."""

    def __init__(self) -> None:
        self.done: list[Block] = []
        self._owner: _Owner | None = None  # of the last line

    def line(self, start: int, end: int, owner: _Owner | None, newlines: int) -> None:
        """The line `text[start:end]` (trimmed), after `newlines` newlines (0: the first)."""
        if self._joins(owner, newlines):
            last = self.done[-1]
            self.done[-1] = Block(last.start, end, last.kind, last.level)
        elif owner is None or owner.started:
            self.done.append(Block(start, end, "paragraph"))
        else:
            self.done.append(Block(start, end, owner.kind, owner.level))
        if owner is not None:
            owner.started = True
        self._owner = owner

    def _joins(self, owner: _Owner | None, newlines: int) -> bool:
        """Whether the line continues the last block: a line break in the same element, any line
        of the same <pre>, or the next <dt> of a group of terms."""
        if not self.done:
            return False
        if owner is self._owner:
            return newlines == 1 or (owner is not None and owner.kind == "code")
        return (
            newlines == 1
            and owner is not None
            and owner.kind == "term"
            and not owner.started
            and self.done[-1].kind == "term"
        )


class TextBuilder:
    """Lines of visible text; breaks between lines are decided lazily so none trail or double up."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._length = 0
        self._line: list[str] = []
        self._pending = 0  # newlines owed before the next emitted line: 0, 1 or 2
        self._owners: list[_Owner | None] = []  # None: text here is a paragraph
        self._code: _Owner | None = None  # the outermost open <pre>: all inside is its code
        self._pre_depth = 0
        self._blocks = _Blocks()

    def open(self, name: str, *, gives_kind: bool = True) -> None:
        if name == "br":
            self._br()
        else:
            self._edge(name)
        kind = _KINDS.get(name)
        if kind is not None:
            owner = _Owner(*kind) if gives_kind else self._owner()
            self._owners.append(owner)
            if name == "pre":
                self._pre_depth += 1
                self._code = self._code or owner

    def close(self, name: str) -> None:
        self._edge(name)
        if name in _KINDS:
            self._owners.pop()
            if name == "pre":
                self._pre_depth -= 1
                self._code = self._code if self._pre_depth else None

    def add(self, text: str) -> None:
        self._line.append(normalise_newlines(text))

    def finish(self) -> tuple[str, tuple[Block, ...]]:
        self._break(0)
        return "".join(self._parts), tuple(self._blocks.done)

    def _edge(self, name: str) -> None:
        """The break an element's start or end makes: a paragraph, a line, or a cell's space."""
        if name in _PARAGRAPHS:
            self._break(2)
        elif name in _LINES:
            self._break(1)
        elif name in _CELLS:
            self._line.append(" ")

    def _br(self) -> None:
        # <br><br> is how many pages write a paragraph break.
        if self._flush():
            self._pending = 1
        elif self._parts:
            self._pending = min(self._pending + 1, 2)

    def _break(self, newlines: int) -> None:
        if self._flush():
            self._pending = newlines
        else:
            self._pending = max(self._pending, newlines)

    def _flush(self) -> bool:
        raw = "".join(self._line)
        self._line.clear()
        line = _pre_block(raw) if self._pre_depth else " ".join(raw.split())
        if not line:
            return False
        newlines = self._pending if self._parts else 0
        self._parts.append("\n" * newlines)
        start = self._length + newlines
        self._parts.append(line)
        self._length = start + len(line)
        owner = self._code or self._owner()
        # Preformatted lines keep their indentation and trailing spaces; a block is trimmed.
        left = len(line) - len(line.lstrip())
        self._blocks.line(start + left, start + len(line.rstrip()), owner, newlines)
        return True

    def _owner(self) -> _Owner | None:
        return self._owners[-1] if self._owners else None


def _pre_block(raw: str) -> str:
    """Preformatted text verbatim, minus blank edge lines (the newline after <pre> is markup)."""
    lines = raw.split("\n")
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return "\n".join(lines[start:end])
