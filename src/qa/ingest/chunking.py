"""Documents -> passages: spans of the document text that fit the model, cut at paragraph and
sentence boundaries, each kept with the heading it sits under.

Finding the sentences, headings and sections is qa.ingest.sentences; this module packs them into
passages and checks each passage against the model's real token count.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from qa.ingest.blocks import Block
from qa.ingest.documents import READERS_VERSION
from qa.ingest.sentences import Counter, Unit, by_section, sentence_units, within
from qa.ingest.structure import structured_sections
from qa.ingest.tokens import SPECIAL_TOKENS


class Source(Protocol):
    @property
    def source(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def blocks(self) -> tuple[Block, ...]: ...
    @property
    def title(self) -> str: ...

    def page_at(self, offset: int) -> int | None: ...


RULES_VERSION = 4  # 4: the reader's structure (blocks), heading paths, code kept whole


@dataclass(frozen=True)
class ChunkParams:
    target_tokens: int = 250  # word pieces of text per passage, before the heading prefix
    overlap_sentences: int = 1  # sentences repeated across a cut inside a paragraph

    def as_dict(self) -> dict[str, Any]:
        # The cutting rules are part of the parameters: an index cut by older rules is redone.
        # So are the readers: an index of text read by older readers is read again.
        return {**asdict(self), "rules_version": RULES_VERSION, "readers_version": READERS_VERSION}


@dataclass(frozen=True)
class Passage:
    id: str
    source: str
    start: int
    end: int
    text: str  # == document.text[start:end]
    heading: str  # the heading path above the passage, "Page > Section" ("" when none)
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
    heading: str  # the heading path it sits under ("" when none)
    is_heading: bool  # a heading-like line (a title, a "Continue reading ..." link): never quoted
    is_code: bool = False  # (part of) a code block: quoted only as code
    is_term: bool = False  # a definition term or API signature (is_heading too)

    def embed_text(self, document_text: str) -> str:
        """The sentence with its heading, so "He was accompanied by..." knows who "he" is."""
        text = document_text[self.start : self.end]
        return f"{self.heading}\n{text}" if self.heading and not self.is_heading else text


@dataclass(frozen=True)
class Chunks:
    passages: list[Passage]
    sentences: list[Sentence]  # every sentence-like unit of the document, in order


def chunk(document: Source, *, counter: Counter, params: ChunkParams) -> Chunks:
    text = document.text
    budget = max(8, min(params.target_tokens, counter.max_tokens - SPECIAL_TOKENS))
    passages: list[Passage] = []
    sentences: list[Sentence] = []
    newlines = [m.start() for m in re.finditer("\n", text)]
    for heading, section in _sections(document, counter, budget):
        heading_cost = counter.count_many([heading])[0] + 1 if heading else 0
        section_budget = max(8, min(budget, counter.max_tokens - SPECIAL_TOKENS - heading_cost))
        section = within(text, section, counter, section_budget)
        sentences += [
            Sentence(u.start, u.end, heading, u.title_like, u.is_code, u.is_term) for u in section
        ]
        for group in _pack(section, section_budget, params.overlap_sentences, heading):
            passages.extend(_fit(document, group, heading, counter, newlines))
    return Chunks(passages, sentences)


def _sections(document: Source, counter: Counter, budget: int) -> Iterator[tuple[str, list[Unit]]]:
    if document.blocks:
        text, blocks = document.text, document.blocks
        return iter(structured_sections(text, blocks, counter, budget, title=document.title))
    return by_section(document.text, sentence_units(document.text, counter, budget))


def _pack(units: list[Unit], budget: int, overlap: int, heading: str) -> Iterator[list[Unit]]:
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

    def __init__(self, heading_tokens: int, units: list[Unit] | None = None) -> None:
        self.heading_tokens = heading_tokens
        self.units: list[Unit] = []
        self.tokens = 0
        self.has_body = False
        self.extend(units or [])

    def extend(self, units: list[Unit]) -> None:
        self.units.extend(units)
        self.tokens += sum(u.tokens for u in units)
        self.has_body = self.has_body or any(not u.is_heading for u in units)

    def size_with(self, more: list[Unit]) -> int:
        """Tokens of the group with `more` added; a leading heading costs nothing here."""
        first = self.units[0] if self.units else more[0] if more else None
        total = self.tokens + sum(u.tokens for u in more)
        return total - self.heading_tokens if first is not None and first.is_heading else total


def _by_paragraph(units: list[Unit]) -> Iterator[list[Unit]]:
    group: list[Unit] = []
    for unit in units:
        if group and unit.paragraph != group[-1].paragraph:
            yield group
            group = []
        group.append(unit)
    if group:
        yield group


def _overlap(previous: list[Unit], unit: Unit, budget: int, overlap: int) -> list[Unit]:
    carried = [u for u in previous[-overlap:] if not u.is_heading] if overlap else []
    while carried and sum(u.tokens for u in carried) + unit.tokens > budget // 2 + unit.tokens:
        carried.pop(0)
    return carried if len(carried) < len(previous) else []


def _fit(
    document: Source, group: list[Unit], heading: str, counter: Counter, newlines: list[int]
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
