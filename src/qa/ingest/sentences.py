"""Text -> sentence-like units, each with its token count, grouped into sections by heading.

The first half of chunking: where sentences and paragraphs begin and end, which short lines are
headings, and how a unit longer than the model's budget is cut at word-piece boundaries. Packing
units into passages is qa.ingest.chunking. A change to these rules that moves any boundary bumps
chunking.RULES_VERSION, so indexes cut by the old rules are rebuilt.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "Counter",
    "Unit",
    "by_section",
    "cut_unit",
    "paragraphs",
    "sentence_spans",
    "sentence_units",
    "within",
]


class Counter(Protocol):
    max_tokens: int

    def count(self, text: str) -> int: ...
    def count_many(self, texts: Sequence[str]) -> list[int]: ...
    def offsets(self, text: str) -> list[tuple[int, int]]: ...


@dataclass(frozen=True)
class Unit:
    """A sentence-like span of the text, with its word-piece count and paragraph number."""

    start: int
    end: int
    tokens: int
    paragraph: int
    is_heading: bool  # heads the section that follows
    title_like: bool = False  # a short line standing alone, heading a section or not
    is_code: bool = False  # a code block (or a piece of one): never cut into sentences
    is_term: bool = False  # a definition term or API signature: heads its description


_BLANK_LINE = re.compile(r"\n[^\S\n]*\n\s*")
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])|\n\s*")
_ABBREVIATION = re.compile(
    r"(?:\b(?:[A-Z]\.)+[A-Z]?|\b[A-Z]|\b(?:Mr|Mrs|Ms|Dr|Prof|St|Jr|Sr|vs|etc|No|Vol|Gen|Col|Lt|"
    r"Sgt|Capt|Rev|Inc|Ltd|Co|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|e\.g|i\.e))\.$"
)
_MAX_HEADING_CHARS = 120


def within(text: str, section: list[Unit], counter: Counter, budget: int) -> list[Unit]:
    """Re-cut units that fit the document's budget but not the room left beside a heading."""
    out: list[Unit] = []
    for unit in section:
        if unit.tokens <= budget or unit.is_heading:
            out.append(unit)
            continue
        for start, end in cut_unit(text, unit.start, unit.end, counter, budget):
            tokens = counter.count_many([text[start:end]])[0]
            out.append(Unit(start, end, tokens, unit.paragraph, False, is_code=unit.is_code))
    return out


def sentence_units(text: str, counter: Counter, budget: int) -> list[Unit]:
    """Sentence-like units; a unit longer than the budget is cut at word-piece boundaries."""
    spans = list(_sentence_spans(text))
    counts = counter.count_many([text[s:e] for s, e, _ in spans])
    content_end = len(text.rstrip())
    looks = [_is_heading(text, start, end, content_end) for start, end, _ in spans]
    heads = _section_heads(text, spans, looks)
    units: list[Unit] = []
    for (start, end, paragraph), tokens, title_like, is_heading in zip(
        spans, counts, looks, heads, strict=True
    ):
        if tokens <= budget:
            units.append(Unit(start, end, tokens, paragraph, is_heading, title_like))
            continue
        for piece_start, piece_end in cut_unit(text, start, end, counter, budget):
            piece_tokens = counter.count_many([text[piece_start:piece_end]])[0]
            units.append(Unit(piece_start, piece_end, piece_tokens, paragraph, False))
    return units


def _sentence_spans(text: str) -> Iterator[tuple[int, int, int]]:
    for paragraph, (p_start, p_end) in enumerate(paragraphs(text, 0, len(text))):
        yield from sentence_spans(text, p_start, p_end, paragraph)


def sentence_spans(
    text: str, start: int, end: int, paragraph: int
) -> Iterator[tuple[int, int, int]]:
    """(start, end, paragraph) of each sentence of the paragraph text[start:end], trimmed."""
    for match in _SENTENCE_END.finditer(text, start, end):
        cut = match.start() + len(match.group().rstrip())
        if match.group()[0] != "\n" and _ABBREVIATION.search(text, start, cut):
            continue
        yield from _trimmed(text, start, cut, paragraph)
        start = match.end()
    yield from _trimmed(text, start, end, paragraph)


def paragraphs(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Spans of text[start:end] between blank lines."""
    for match in _BLANK_LINE.finditer(text, start, end):
        yield start, match.start()
        start = match.end()
    yield start, end


def _trimmed(text: str, start: int, end: int, paragraph: int) -> Iterator[tuple[int, int, int]]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        yield start, end, paragraph


def _section_heads(text: str, spans: list[tuple[int, int, int]], looks: list[bool]) -> list[bool]:
    """Which heading-like units head a section. Of such lines stacked after body text only the
    last heads what follows: the ones above it close the section before ("Continue reading ...",
    a source line, a link), so they stay with the text they belong to. Markdown headings always
    head."""
    out = list(looks)
    body_seen = False
    for i, (start, _, _) in enumerate(spans):
        stacked = looks[i] and i + 1 < len(spans) and looks[i + 1]
        if stacked and body_seen and not text.startswith("#", start):
            out[i] = False
        body_seen = body_seen or not looks[i]
    return out


def _is_heading(text: str, start: int, end: int, content_end: int) -> bool:
    """A short line standing alone as a paragraph, not ending like a sentence or a lead-in."""
    line = text[start:end]
    if len(line) > _MAX_HEADING_CHARS or "\n" in line or line[-1] in '.,:;!?…"”’':
        return False
    alone_before = start == 0 or text[max(0, start - 2) : start].count("\n") == 2
    alone_after = end >= content_end or text[end : end + 2] == "\n\n"
    return alone_before and alone_after


def cut_unit(
    text: str, start: int, end: int, counter: Counter, budget: int
) -> Iterator[tuple[int, int]]:
    """Split an over-long unit, preferring a space near each word-piece limit."""
    offsets = counter.offsets(text[start:end])
    token_starts = [start + s for s, _ in offsets]
    piece_start, first_token = start, 0
    step = max(1, budget - 8)  # cutting inside a word can add a piece or two
    while first_token + step < len(offsets):
        limit = start + offsets[first_token + step][0]
        space = text.rfind(" ", piece_start + 1, limit)
        cut = space if space > piece_start else limit
        yield from ((s, e) for s, e, _ in _trimmed(text, piece_start, cut, 0))
        piece_start = cut
        first_token = max(first_token + 1, bisect.bisect_left(token_starts, cut))
    yield from ((s, e) for s, e, _ in _trimmed(text, piece_start, end, 0))


def by_section(text: str, units: list[Unit]) -> Iterator[tuple[str, list[Unit]]]:
    heading, section, has_body = "", list[Unit](), False
    for unit in units:
        if unit.is_heading:
            if has_body:  # a flag, not a scan: a text of many short lines is all headings
                yield heading, section
                section, has_body = [], False
            heading = text[unit.start : unit.end]  # of stacked headings, the nearest one rules
        has_body = has_body or not unit.is_heading
        section.append(unit)
    if section:
        yield heading, section
