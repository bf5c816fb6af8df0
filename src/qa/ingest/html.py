"""HTML files: the text a reader of the page sees, with paragraph and line breaks kept, and its
blocks (headings, paragraphs, code, list items, terms, rows; qa.ingest.layout lays them out).

Scripts, styles, hidden elements, navigation and permalink glyphs are dropped.
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
from qa.ingest.blocks import Block
from qa.ingest.layout import TextBuilder
from qa.ingest.limits import Limits
from qa.ingest.text import BOMS, Extracted, decode

__all__ = ["html_text", "markup_text"]

# bs4 warns when markup looks like a file name or like XML; for a document folder both are normal
# content, and the warnings would only end up as noise in the CLI output.
warnings.filterwarnings("ignore", category=MarkupResemblesLocatorWarning)
warnings.filterwarnings("ignore", category=XMLParsedAsHTMLWarning)

# Elements whose content a reader never sees as page text.
_INVISIBLE = frozenset(
    {"script", "style", "noscript", "template", "title", "svg", "iframe", "object", "embed",
     "audio", "video", "canvas"}
)  # fmt: skip
_DISPLAY_NONE = re.compile(r"display\s*:\s*none", re.IGNORECASE)


# bs4's tree costs 0.6 to 1 KB per tag (measured: a page of 2.5 million tags took 3 GB); a page
# whose tags alone surely need more than the memory limit is refused before it is parsed.
_BYTES_PER_TAG = 512


def html_text(data: bytes, limits: Limits) -> Extracted:
    if b"\x00" in data and not any(data.startswith(bom) for bom, _, _ in BOMS):
        raise DocumentError("binary file")
    check_tags(data.count(b"<"), limits)
    markup, warning = _html_decode(data)
    soup = BeautifulSoup(markup, "html.parser")
    title = _title(soup)  # read first: the walk below leaves <title> out of the text
    text, blocks = _visible_text(soup, link_lists=True)
    if not text:
        raise DocumentError("HTML has no visible text")
    return Extracted(text, warning=warning, blocks=blocks, title=title)


MAX_TITLE_CHARS = 200  # a longer <title> is no title a heading path can carry


def _title(soup: BeautifulSoup) -> str:
    tag = soup.find("title")
    title = " ".join(tag.get_text().split()) if tag is not None else ""
    return title if len(title) <= MAX_TITLE_CHARS else ""


def check_tags(tags: int, limits: Limits) -> None:
    """DocumentError when markup of this many tags surely needs more memory than the limit."""
    limits.check_memory_estimate(tags * _BYTES_PER_TAG, f"{tags:,} tags")


def markup_text(markup: str, *, link_lists: bool = True) -> tuple[str, tuple[Block, ...]]:
    """The visible text of `markup` and its blocks. `link_lists=False` keeps lists and tables of
    links (a Markdown file has no site around it: its lists of links are its author's content)."""
    return _visible_text(BeautifulSoup(markup, "html.parser"), link_lists=link_lists)


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


def _visible_text(soup: BeautifulSoup, *, link_lists: bool) -> tuple[str, tuple[Block, ...]]:
    # An explicit stack, not recursion: deeply nested markup must not hit the recursion limit.
    out = TextBuilder()
    outline = _Outline()
    stack: list[PageElement | _End] = [soup]
    while stack:
        node = stack.pop()
        if isinstance(node, _End):
            out.close(node.name)
            outline.close(node.name)
        elif isinstance(node, Tag):
            if _hidden(node) or _permalink(node) or _navigation(node, link_lists=link_lists):
                continue
            out.open(node.name, gives_kind=outline.open(node))
            stack.append(_End(node.name))
            stack.extend(reversed(node.contents))
        elif isinstance(node, NavigableString) and not isinstance(node, PreformattedString):
            out.add(str(node))  # comments, doctypes, CDATA are PreformattedString
    return out.finish()


_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
# A heading inside these is never one of the page's sections.
_CONTENT = frozenset({"li", "dt", "dd", "blockquote"})


class _Outline:
    """Which headings head sections of the page and which are titles of boxes inside one.

    A heading heads its scope: its nearest ancestor with content after the heading's branch (a
    section, or DocBook's `<div class="note">` around its "Note" title). Where a scope nests in
    an open section's scope, a heading no deeper than that section's is a box's title (a chunk's
    heading path after the box must stay the section's), as is a heading in a list item, a
    definition or a quotation. Each ancestor is passed by at most one heading's walk (the one on
    its last branch), so finding every scope costs one walk of the tree at most.
    """

    def __init__(self) -> None:
        self._depth = 0  # of the element opened last
        self._sections: list[tuple[int, int]] = []  # open scopes: (depth, level of last heading)
        self._content = 0  # open _CONTENT elements

    def open(self, tag: Tag) -> bool:
        """Whether the element gives its kind (a heading: whether it heads a section)."""
        self._depth += 1
        self._content += tag.name in _CONTENT
        if tag.name not in _HEADINGS:
            return True
        level, depth = int(tag.name[1]), self._depth - _scope_height(tag)
        if self._content or (
            self._sections and self._sections[-1][0] < depth and level <= self._sections[-1][1]
        ):
            return False
        while self._sections and self._sections[-1][0] >= depth:
            self._sections.pop()
        self._sections.append((depth, level))
        return True

    def close(self, name: str) -> None:
        while self._sections and self._sections[-1][0] >= self._depth:
            self._sections.pop()
        self._content -= name in _CONTENT
        self._depth -= 1


def _scope_height(heading: Tag) -> int:
    """How many levels above the heading its scope is (the document, at most)."""
    node, height = heading, 0
    while node.parent is not None and not _content_after(node):
        node, height = node.parent, height + 1
    return height + 1 if node.parent is not None else height


def _content_after(node: Tag) -> bool:
    for sibling in node.next_siblings:
        if isinstance(sibling, Tag) or (
            isinstance(sibling, NavigableString)
            and not isinstance(sibling, PreformattedString)
            and not sibling.isspace()
        ):
            return True
    return False


def _hidden(tag: Tag) -> bool:
    if tag.name in _INVISIBLE or tag.has_attr("hidden"):
        return True
    style = tag.get("style")
    return isinstance(style, str) and _DISPLAY_NONE.search(style) is not None


def _permalink(tag: Tag) -> bool:
    """A link to its own place on the page shown as a glyph (¶, §, #, 🔗): Sphinx's headerlink
    and many generators' heading anchors. Its glyph would end up in headings and signatures."""
    if tag.name != "a":
        return False
    href = tag.get("href")
    return (
        isinstance(href, str)
        and href.startswith("#")
        and not any(char.isalnum() for char in tag.get_text())
    )


# Navigation is left out by what the page says of itself, never by one site's class names: the
# element (nav, aside), its ARIA role or its accessible description ("Navigation header"), and
# link density (a table of contents is little but links).
_NAVIGATION_TAGS = frozenset({"nav", "aside"})
_NAVIGATION_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search"})
_LINK_LISTS = frozenset({"ul", "ol", "dl", "table", "div"})
MIN_LINKS = 3
LINK_DENSITY = 0.8  # share of an element's text inside links


def _navigation(tag: Tag, *, link_lists: bool) -> bool:
    if tag.name in _NAVIGATION_TAGS or tag.get("role") in _NAVIGATION_ROLES:
        return True
    described = " ".join(str(tag.get(name, "")) for name in ("summary", "aria-label"))
    if "navigation" in described.lower():
        return True
    return link_lists and tag.name in _LINK_LISTS and _link_dense(tag)


def _link_dense(tag: Tag) -> bool:
    links = tag.find_all("a", href=True)
    if len(links) < MIN_LINKS:
        return False
    text = len("".join(tag.get_text().split()))
    linked = sum(len("".join(link.get_text().split())) for link in links)
    return text > 0 and linked >= LINK_DENSITY * text
