"""HTML files: the text a reader of the page sees, with paragraph and line breaks kept.

Scripts, styles and hidden elements are dropped; block elements become paragraphs (a blank line),
list items and rows become lines, so the chunker sees the page's structure.
"""

from __future__ import annotations

import codecs
import re
import warnings
from dataclasses import dataclass

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, XMLParsedAsHTMLWarning
from bs4.dammit import EncodingDetector
from bs4.element import NavigableString, PageElement, PreformattedString, Tag

from qa.errors import DocumentError
from qa.ingest.limits import Limits
from qa.ingest.text import BOMS, Extracted, decode, normalise_newlines

__all__ = ["html_text"]

# bs4 warns when markup looks like a file name or like XML; for a document folder both are normal
# content, and the warnings would only end up as noise in the CLI output.
warnings.filterwarnings("ignore", category=MarkupResemblesLocatorWarning)
warnings.filterwarnings("ignore", category=XMLParsedAsHTMLWarning)

# Elements whose content a reader never sees as page text.
_INVISIBLE = frozenset(
    {"script", "style", "noscript", "template", "title", "svg", "iframe", "object", "embed",
     "audio", "video", "canvas"}
)  # fmt: skip
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
_DISPLAY_NONE = re.compile(r"display\s*:\s*none", re.IGNORECASE)


# bs4's tree costs 0.6 to 1 KB per tag (measured: a page of 2.5 million tags took 3 GB); a page
# whose tags alone surely need more than the memory limit is refused before it is parsed.
_BYTES_PER_TAG = 512


def html_text(data: bytes, limits: Limits) -> Extracted:
    if b"\x00" in data and not any(data.startswith(bom) for bom, _, _ in BOMS):
        raise DocumentError("binary file")
    tags = data.count(b"<")
    limits.check_memory_estimate(tags * _BYTES_PER_TAG, f"{tags:,} tags")
    markup, warning = _html_decode(data)
    text = _visible_text(BeautifulSoup(markup, "html.parser"))
    if not text:
        raise DocumentError("HTML has no visible text")
    return Extracted(text, warning=warning)


def _html_decode(data: bytes) -> tuple[str, str | None]:
    """A BOM, else the page's own <meta charset>, else as plain text files (UTF-8, else cp1252).

    Never a statistical guess: bs4's guesser (charset-normalizer) read a short cp1252 page as
    Chinese. A declaration that fails to decode is treated as absent.
    """
    declared = EncodingDetector.find_declared_encoding(data, is_html=True)
    has_bom = any(data.startswith(bom) for bom, _, _ in BOMS)
    if declared and not has_bom and not data.startswith(codecs.BOM_UTF8):
        try:
            # As browsers do (WHATWG Encoding): a page labelled Latin-1 is read as cp1252.
            return data.decode(_LATIN_1_AS.get(codecs.lookup(declared).name, declared)), None
        except (LookupError, UnicodeDecodeError):
            pass
    return decode(data)


_LATIN_1_AS = {"iso8859-1": "cp1252"}


@dataclass(frozen=True)
class _End:
    """Marks the end of an element on the explicit traversal stack."""

    name: str


def _visible_text(soup: BeautifulSoup) -> str:
    # An explicit stack, not recursion: deeply nested markup must not hit the recursion limit.
    out = _TextBuilder()
    stack: list[PageElement | _End] = [soup]
    while stack:
        node = stack.pop()
        if isinstance(node, _End):
            out.close(node.name)
        elif isinstance(node, Tag):
            if _hidden(node):
                continue
            out.open(node.name)
            stack.append(_End(node.name))
            stack.extend(reversed(node.contents))
        elif isinstance(node, NavigableString) and not isinstance(node, PreformattedString):
            out.add(str(node))  # comments, doctypes, CDATA are PreformattedString
    return out.finish()


def _hidden(tag: Tag) -> bool:
    if tag.name in _INVISIBLE or tag.has_attr("hidden"):
        return True
    style = tag.get("style")
    if isinstance(style, str) and _DISPLAY_NONE.search(style) is not None:
        return True
    return _navigation(tag)


# Navigation is left out by what the page says of itself, never by one site's class names: the
# element (nav, aside), its ARIA role or its accessible description ("Navigation header"), and
# link density (a table of contents is little but links).
_NAVIGATION_TAGS = frozenset({"nav", "aside"})
_NAVIGATION_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search"})
_LINK_LISTS = frozenset({"ul", "ol", "dl", "table", "div"})
MIN_LINKS = 3
LINK_DENSITY = 0.8  # share of an element's text inside links


def _navigation(tag: Tag) -> bool:
    if tag.name in _NAVIGATION_TAGS or tag.get("role") in _NAVIGATION_ROLES:
        return True
    described = " ".join(str(tag.get(name, "")) for name in ("summary", "aria-label"))
    if "navigation" in described.lower():
        return True
    return tag.name in _LINK_LISTS and _link_dense(tag)


def _link_dense(tag: Tag) -> bool:
    links = tag.find_all("a", href=True)
    if len(links) < MIN_LINKS:
        return False
    text = len("".join(tag.get_text().split()))
    linked = sum(len("".join(link.get_text().split())) for link in links)
    return text > 0 and linked >= LINK_DENSITY * text


class _TextBuilder:
    """Lines of visible text; breaks between lines are decided lazily so none trail or double up."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._line: list[str] = []
        self._pending = 0  # newlines owed before the next emitted line: 0, 1 or 2
        self._pre_depth = 0

    def open(self, name: str) -> None:
        if name == "br":
            self._br()
        else:
            self._edge(name)
        if name == "pre":
            self._pre_depth += 1

    def close(self, name: str) -> None:
        self._edge(name)
        if name == "pre":
            self._pre_depth -= 1

    def _edge(self, name: str) -> None:
        """The break an element's start or end makes: a paragraph, a line, or a cell's space."""
        if name in _PARAGRAPHS:
            self._break(2)
        elif name in _LINES:
            self._break(1)
        elif name in _CELLS:
            self._line.append(" ")

    def add(self, text: str) -> None:
        self._line.append(normalise_newlines(text))

    def finish(self) -> str:
        self._break(0)
        return "".join(self._parts)

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
        if self._parts:
            self._parts.append("\n" * self._pending)
        self._parts.append(line)
        return True


def _pre_block(raw: str) -> str:
    """Preformatted text verbatim, minus blank edge lines (the newline after <pre> is markup)."""
    lines = raw.split("\n")
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return "\n".join(lines[start:end])
