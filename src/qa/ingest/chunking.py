"""Documents -> passages: spans of the document text that fit the model, cut at paragraph and
sentence boundaries, each kept with the heading it sits under."""

from __future__ import annotations

import bisect
import hashlib
import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from qa.ingest.tokens import SPECIAL_TOKENS


class Counter(Protocol):
    max_tokens: int

    def count(self, text: str) -> int: ...
    def count_many(self, texts: Sequence[str]) -> list[int]: ...
    def offsets(self, text: str) -> list[tuple[int, int]]: ...


class Source(Protocol):
    @property
    def source(self) -> str: ...
    @property
    def text(self) -> str: ...

    def page_at(self, offset: int) -> int | None: ...


RULES_VERSION = 3


@dataclass(frozen=True)
class ChunkParams:
    target_tokens: int = 250  # word pieces of text per passage, before the heading prefix
    overlap_sentences: int = 1  # sentences repeated across a cut inside a paragraph

    def as_dict(self) -> dict[str, Any]:
        # The cutting rules are part of the parameters: an index cut by older rules is redone.
        return {**asdict(self), "rules_version": RULES_VERSION}


@dataclass(frozen=True)
class Passage:
    id: str
    source: str
    start: int
    end: int
    text: str  # == document.text[start:end]
    heading: str  # the section heading above the passage ("" when none)
    lines: tuple[int, int]  # 1-based, inclusive
    page: int | None

    @property
    def embed_text(self) -> str:
        """What the model reads: the passage, prefixed by its heading when the span lacks it."""
        if self.heading and not self.text.startswith(self.heading):
            return f"{self.heading}\n{self.text}"
        return self.text


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    heading: str  # the section heading it sits under ("" when none)
    is_heading: bool  # a heading-like line (a title, a "Continue reading ..." link): never quoted

    def embed_text(self, document_text: str) -> str:
        """The sentence with its heading, so "He was accompanied by..." knows who "he" is."""
        text = document_text[self.start : self.end]
        return f"{self.heading}\n{text}" if self.heading and not self.is_heading else text


@dataclass(frozen=True)
class Chunks:
    passages: list[Passage]
    sentences: list[Sentence]  # every sentence-like unit of the document, in order


@dataclass(frozen=True)
class _Unit:
    start: int
    end: int
    tokens: int
    paragraph: int
    is_heading: bool  # heads the section that follows
    title_like: bool = False  # a short line standing alone, heading a section or not


_BLANK_LINE = re.compile(r"\n[^\S\n]*\n\s*")
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])|\n\s*")
_ABBREVIATION = re.compile(
    r"(?:\b(?:[A-Z]\.)+[A-Z]?|\b[A-Z]|\b(?:Mr|Mrs|Ms|Dr|Prof|St|Jr|Sr|vs|etc|No|Vol|Gen|Col|Lt|"
    r"Sgt|Capt|Rev|Inc|Ltd|Co|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|e\.g|i\.e))\.$"
)
_MAX_HEADING_CHARS = 120


def chunk(document: Source, *, counter: Counter, params: ChunkParams) -> Chunks:
    text = document.text
    budget = max(8, min(params.target_tokens, counter.max_tokens - SPECIAL_TOKENS))
    passages: list[Passage] = []
    sentences: list[Sentence] = []
    newlines = [m.start() for m in re.finditer("\n", text)]
    for heading, section in _sections(text, _units(text, counter, budget)):
        heading_cost = counter.count_many([heading])[0] + 1 if heading else 0
        section_budget = max(8, min(budget, counter.max_tokens - SPECIAL_TOKENS - heading_cost))
        section = _within(text, section, counter, section_budget)
        sentences += [Sentence(u.start, u.end, heading, u.title_like) for u in section]
        for group in _pack(section, section_budget, params.overlap_sentences, heading):
            passages.extend(_fit(document, group, heading, counter, newlines))
    return Chunks(passages, sentences)


def _within(text: str, section: list[_Unit], counter: Counter, budget: int) -> list[_Unit]:
    """Re-cut units that fit the document's budget but not the room left beside a heading."""
    out: list[_Unit] = []
    for unit in section:
        if unit.tokens <= budget or unit.is_heading:
            out.append(unit)
            continue
        for start, end in _cut(text, unit.start, unit.end, counter, budget):
            tokens = counter.count_many([text[start:end]])[0]
            out.append(_Unit(start, end, tokens, unit.paragraph, False))
    return out


def _units(text: str, counter: Counter, budget: int) -> list[_Unit]:
    """Sentence-like units; a unit longer than the budget is cut at word-piece boundaries."""
    spans = list(_sentence_spans(text))
    counts = counter.count_many([text[s:e] for s, e, _ in spans])
    content_end = len(text.rstrip())
    looks = [_is_heading(text, start, end, content_end) for start, end, _ in spans]
    heads = _section_heads(text, spans, looks)
    units: list[_Unit] = []
    for (start, end, paragraph), tokens, title_like, is_heading in zip(
        spans, counts, looks, heads, strict=True
    ):
        if tokens <= budget:
            units.append(_Unit(start, end, tokens, paragraph, is_heading, title_like))
            continue
        for piece_start, piece_end in _cut(text, start, end, counter, budget):
            piece_tokens = counter.count_many([text[piece_start:piece_end]])[0]
            units.append(_Unit(piece_start, piece_end, piece_tokens, paragraph, False))
    return units


def _sentence_spans(text: str) -> Iterator[tuple[int, int, int]]:
    for paragraph, (p_start, p_end) in enumerate(_paragraphs(text)):
        start = p_start
        for match in _SENTENCE_END.finditer(text, p_start, p_end):
            cut = match.start() + len(match.group().rstrip())
            if match.group()[0] != "\n" and _ABBREVIATION.search(text, start, cut):
                continue
            yield from _trimmed(text, start, cut, paragraph)
            start = match.end()
        yield from _trimmed(text, start, p_end, paragraph)


def _paragraphs(text: str) -> Iterator[tuple[int, int]]:
    start = 0
    for match in _BLANK_LINE.finditer(text):
        yield start, match.start()
        start = match.end()
    yield start, len(text)


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


def _cut(
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


def _sections(text: str, units: list[_Unit]) -> Iterator[tuple[str, list[_Unit]]]:
    heading, section, has_body = "", list[_Unit](), False
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


def _pack(units: list[_Unit], budget: int, overlap: int, heading: str) -> Iterator[list[_Unit]]:
    """Whole paragraphs while they fit; a paragraph too big alone is cut between sentences.

    The section's heading costs nothing here: the budget already keeps room for it, inside
    the first passage or as the prefix of the others.
    """
    leading = list(itertools.takewhile(lambda u: u.is_heading, units))
    heading_tokens = leading[-1].tokens if heading and leading else 0
    # Running totals, not sums over the group: a group of headings only is never cut, and a
    # text of many short lines (all headings) would make every check cost the whole text.
    current = _Group(heading_tokens)
    for paragraph in _by_paragraph(units):
        if current.size_with(paragraph) <= budget:
            current.extend(paragraph)
            continue
        if current.units and current.has_body:
            yield current.units
            current = _Group(heading_tokens)
        for unit in paragraph:
            if current.units and current.size_with([unit]) > budget and current.has_body:
                yield current.units
                current = _Group(heading_tokens, _overlap(current.units, unit, budget, overlap))
            current.extend([unit])
    if current.units:
        yield current.units


class _Group:
    """A passage being packed: its units, their token total, whether any is body text."""

    def __init__(self, heading_tokens: int, units: list[_Unit] | None = None) -> None:
        self.heading_tokens = heading_tokens
        self.units: list[_Unit] = []
        self.tokens = 0
        self.has_body = False
        self.extend(units or [])

    def extend(self, units: list[_Unit]) -> None:
        self.units.extend(units)
        self.tokens += sum(u.tokens for u in units)
        self.has_body = self.has_body or any(not u.is_heading for u in units)

    def size_with(self, more: list[_Unit]) -> int:
        """Tokens of the group with `more` added; a leading heading costs nothing here."""
        first = self.units[0] if self.units else more[0] if more else None
        total = self.tokens + sum(u.tokens for u in more)
        return total - self.heading_tokens if first is not None and first.is_heading else total


def _by_paragraph(units: list[_Unit]) -> Iterator[list[_Unit]]:
    group: list[_Unit] = []
    for unit in units:
        if group and unit.paragraph != group[-1].paragraph:
            yield group
            group = []
        group.append(unit)
    if group:
        yield group


def _overlap(previous: list[_Unit], unit: _Unit, budget: int, overlap: int) -> list[_Unit]:
    carried = [u for u in previous[-overlap:] if not u.is_heading] if overlap else []
    while carried and sum(u.tokens for u in carried) + unit.tokens > budget // 2 + unit.tokens:
        carried.pop(0)
    return carried if len(carried) < len(previous) else []


def _fit(
    document: Source, group: list[_Unit], heading: str, counter: Counter, newlines: list[int]
) -> Iterator[Passage]:
    """Check the real count of what the model reads; halve a group the estimate got wrong."""
    passage = _passage(document, group[0].start, group[-1].end, heading, newlines)
    if len(group) > 1 and counter.count(passage.embed_text) > counter.max_tokens:
        middle = len(group) // 2
        yield from _fit(document, group[:middle], heading, counter, newlines)
        yield from _fit(document, group[middle:], heading, counter, newlines)
        return
    yield passage


def _passage(document: Source, start: int, end: int, heading: str, newlines: list[int]) -> Passage:
    text = document.text[start:end]
    digest = hashlib.sha256(f"{document.source}\0{start}\0{end}\0{text}".encode()).hexdigest()
    lines = (bisect.bisect_left(newlines, start) + 1, bisect.bisect_left(newlines, end - 1) + 1)
    return Passage(
        id=digest[:16],
        source=document.source,
        start=start,
        end=end,
        text=text,
        heading=heading,
        lines=lines,
        page=document.page_at(start),
    )
