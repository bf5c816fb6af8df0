"""Which printed lines of a PDF are not its text (running heads and feet, page numbers) and which
are its headings (the titles of its outline, found on their pages).

A running head is told by repetition, never by a list of words: a page's first (or last) line
whose shape (its text with every number as '#') is the first (last) line of another page too, at
the same height. A head that happens to be printed once ("Chapter 6: Image files 25" on the only
page of that chapter after its first) sits where the others do, and goes with them.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass

from qa.ingest.pdf_lines import Line

__all__ = ["Heading", "find_headings", "running_lines"]

_NUMBERS = re.compile(r"\d+")
_ROMAN = re.compile(r"m{0,3}(?:cm|cd|d?c{0,3})(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})")
_SPACES = re.compile(r"\s+")
_NOT_WORD = re.compile(r"[\W_]+")
# What may stand before an outline title on its page: "1.2", "A.1", "Chapter 3", "IV".
_NUMBERING = re.compile(
    r"(?:chapter|section|part|appendix)(?: (?:[0-9]{1,3}|[a-z]|[ivxlc]+))?(?: [0-9]{1,3})*"
    r"|(?:[0-9]{1,3}|[a-z]|[ivxlc]+)(?: [0-9]{1,3})*"
)
_SAME_HEIGHT = 1.5  # PDF units (1/72 inch) between the baselines of heads on different pages
_TITLE_LINES = 3  # a title may wrap over this many lines
_MAX_TITLE = 300  # characters of a title looked for
_PASSES = 2  # a page number above a head, or a head above a rule of text, both go

Place = tuple[int, int]  # (page index, line index)


@dataclass(frozen=True)
class Heading:
    """An outline entry: its title, depth (1 = top) and page (0-based), and how high on the
    page it points (PDF units, None when the destination does not say)."""

    title: str
    level: int
    page: int
    top: float | None


def running_lines(pages: list[list[Line]]) -> set[Place]:
    """The places of running heads, running feet and page numbers; never a page's only line (a
    page of one line is text, whatever it repeats)."""
    gone: set[Place] = set()
    for _ in range(_PASSES):
        for edge in (0, -1):
            ends = _ends(pages, gone, edge)
            found = _repeated(pages, ends)
            found |= _in_band(pages, ends, found)
            gone |= found
    return gone


def _ends(pages: list[list[Line]], taken: set[Place], edge: int) -> dict[int, tuple[int, int]]:
    """Each page's first (edge 0) or last (edge -1) line still standing, and the one next to it,
    if the page keeps another line beside it."""
    ends: dict[int, tuple[int, int]] = {}
    for page, lines in enumerate(pages):
        standing = [i for i in range(len(lines)) if (page, i) not in taken]
        if len(standing) >= 2:
            ends[page] = (standing[edge], standing[1 if edge == 0 else -2])
    return ends


def shape(text: str) -> str:
    """A line's text with its numbers as '#': "Chapter 6: Bash Features 100" and "... 101" meet."""
    folded = _SPACES.sub(" ", text.lower()).strip()
    if _ROMAN.fullmatch(folded):  # a lone roman page number, "xii"
        return "#"
    return _NUMBERS.sub("#", folded)


def _repeated(pages: list[list[Line]], ends: dict[int, tuple[int, int]]) -> set[Place]:
    seen: dict[str, list[Place]] = defaultdict(list)
    for page, (index, _) in ends.items():
        seen[shape(pages[page][index].text)].append((page, index))
    found: set[Place] = set()
    for places in seen.values():
        together = _together(pages, places)
        if len(together) >= 2:
            found.update(together)
    return found


def _together(pages: list[list[Line]], places: list[Place]) -> list[Place]:
    """The places printed at the height most of them are (the title page's copy of a running
    head is elsewhere on its page); all of them when their heights are unknown."""
    heights = Counter(round(y) for p, i in places if (y := pages[p][i].y) is not None)
    if not heights:
        return places
    usual = heights.most_common(1)[0][0]
    return [(p, i) for p, i in places if _near(pages[p][i].y, usual)]


def _near(y: float | None, height: float) -> bool:
    return y is None or abs(y - height) <= _SAME_HEIGHT


def _in_band(
    pages: list[list[Line]], ends: dict[int, tuple[int, int]], found: set[Place]
) -> set[Place]:
    """Ends printed where the repeated ones are, in the same type, and set apart from the text
    by more than a line's space: the heads that happen to occur once."""
    band: dict[int, set[tuple[float, float]]] = defaultdict(set)  # (height, size) by height
    for line in (pages[page][index] for page, index in found):
        if line.y is not None:
            band[round(line.y)].add((round(line.y, 1), round(line.size, 1)))
    more: set[Place] = set()
    for page, (index, beside) in ends.items():
        line, near = pages[page][index], pages[page][beside]
        if (page, index) in found or line.y is None or near.y is None:
            continue
        if abs(near.y - line.y) > 1.5 * line.size and _in(band, line.y, line.size):
            more.add((page, index))
    return more


def _in(band: dict[int, set[tuple[float, float]]], y: float, size: float) -> bool:
    """Whether a head of the band is printed at height y in type of this size."""
    for bucket in range(round(y) - 2, round(y) + 3):
        for height, type_size in band.get(bucket, ()):
            if abs(height - y) <= _SAME_HEIGHT and abs(type_size - size) < 0.2:
                return True
    return False


def _words(text: str) -> str:
    return _NOT_WORD.sub(" ", text.lower()).strip()


def find_headings(pages: list[list[Line]], headings: list[Heading]) -> dict[Place, Heading]:
    """The places of the lines that print each outline title, with its heading (a title wrapped
    over lines gives them all the same one)."""
    found: dict[Place, Heading] = {}
    titles: dict[int, dict[str, list[range]]] = {}  # per page: the titles its lines could print
    for heading in headings:
        page, title = heading.page, _words(heading.title[:_MAX_TITLE])
        if not (0 <= page < len(pages) and title):
            continue
        if page not in titles:
            titles[page] = _printed_titles(pages[page])
        spans = [
            span
            for span in titles[page].get(title, [])
            if not any((page, index) in found for index in span)
        ]
        if spans:
            # The fewest lines first: a line of other text above a title is not part of it.
            span = min(
                spans, key=lambda span: (len(span), _distance(pages[page][span.start], heading))
            )
            found.update(((page, index), heading) for index in span)
    return found


def _printed_titles(lines: list[Line]) -> dict[str, list[range]]:
    """Every run of one to three lines of a page, by the title it would print: its words, and
    its words after a numbering ("1.2 Imports" prints "Imports" too)."""
    words = [_words(line.text) for line in lines]
    out: dict[str, list[range]] = defaultdict(list)
    for start in range(len(lines)):
        for stop in range(start + 1, min(start + _TITLE_LINES, len(lines)) + 1):
            printed = " ".join(words[start:stop])
            if len(printed) > _MAX_TITLE:
                break
            out[printed].append(range(start, stop))
            tokens = printed.split(" ")
            for cut in range(1, min(7, len(tokens))):
                if _NUMBERING.fullmatch(" ".join(tokens[:cut])):
                    out[" ".join(tokens[cut:])].append(range(start, stop))
    return out


def _distance(line: Line, heading: Heading) -> float:
    """How far a line is from where the outline points (0 when either is not known)."""
    if heading.top is None or line.y is None:
        return 0.0
    return abs(heading.top - line.y)
