"""Blocks -> sections of sentence-like units, each section under its heading path.

For documents whose reader found their structure (qa.ingest.blocks); plain text is judged by
blank and short lines instead (qa.ingest.sentences). A section is the run of blocks under one
heading path (`Page > Section > Subsection`); a definition term or API signature heads its
description one level below the heading above it. Code blocks become units of their own, cut
only where they exceed the model's budget, never at sentence ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from qa.ingest.blocks import Block
from qa.ingest.sentences import Counter, Unit, cut_unit, paragraphs, sentence_spans

__all__ = ["PATH_SEPARATOR", "structured_sections"]

PATH_SEPARATOR = " > "
_HEADED_BY = ("heading", "term")


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    paragraph: int
    kind: str  # a Block kind
    level: int = 0


def structured_sections(
    text: str, blocks: tuple[Block, ...], counter: Counter, budget: int, *, title: str = ""
) -> list[tuple[str, list[Unit]]]:
    """(heading path, units) per section, in document order; every unit inside the text. The
    document's `title` roots every path whose first heading does not already name it."""
    spans = _headings_that_fit(list(_with_gaps(text, blocks)), text, counter, budget)
    counts = counter.count_many([text[s.start : s.end] for s in spans])
    sections: list[tuple[str, list[Unit]]] = []
    path: list[tuple[int, str]] = []  # (level, heading text), outermost first
    units: list[Unit] = []
    has_body = False
    for span, tokens in zip(spans, counts, strict=True):
        if span.kind in _HEADED_BY:
            if has_body:
                sections.append((_joined(path, title), units))
                units, has_body = [], False
            heading = " ".join(text[span.start : span.end].split())
            path = _descend(path, span, heading, stacked=bool(units) and not has_body)
            term = span.kind == "term"
            units.append(
                Unit(span.start, span.end, tokens, span.paragraph, True, True, is_term=term)
            )
            continue
        has_body = True
        units.extend(_units(text, span, tokens, counter, budget))
    if units:
        sections.append((_joined(path, title), units))
    return sections


def _joined(path: list[tuple[int, str]], title: str) -> str:
    headings = [heading for _, heading in path]
    if title and not (headings and title.casefold() in headings[0].casefold()):
        headings.insert(0, title)  # "VACUUM > Description", not "Description"
    return PATH_SEPARATOR.join(headings)


def _descend(
    path: list[tuple[int, str]], span: _Span, heading: str, *, stacked: bool
) -> list[tuple[int, str]]:
    """The path under a new heading or term. A term sits one level below the nearest heading;
    terms stacked with no text between (`-a`, `--all`) name one entry together."""
    if span.kind == "heading":
        return [*(entry for entry in path if entry[0] < span.level), (span.level, heading)]
    level = 1 + max((lvl for lvl, _ in path if lvl < _TERM_LEVEL), default=0) + _TERM_LEVEL
    if stacked and path and path[-1][0] == level:
        return [*path[:-1], (level, f"{path[-1][1]}, {heading}")]
    return [*(entry for entry in path if entry[0] < level), (level, heading)]


_TERM_LEVEL = 10  # terms rank below every heading level, so a heading always replaces them


def _units(text: str, span: _Span, tokens: int, counter: Counter, budget: int) -> Iterator[Unit]:
    if span.kind == "code":
        if tokens <= budget:
            yield Unit(span.start, span.end, tokens, span.paragraph, False, is_code=True)
            return
        for start, end in cut_unit(text, span.start, span.end, counter, budget):
            count = counter.count_many([text[start:end]])[0]
            yield Unit(start, end, count, span.paragraph, False, is_code=True)
        return
    pieces = list(sentence_spans(text, span.start, span.end, span.paragraph))
    piece_counts = counter.count_many([text[s:e] for s, e, _ in pieces])
    for (start, end, paragraph), count in zip(pieces, piece_counts, strict=True):
        if count <= budget:
            yield Unit(start, end, count, paragraph, False)
            continue
        for piece_start, piece_end in cut_unit(text, start, end, counter, budget):
            piece_tokens = counter.count_many([text[piece_start:piece_end]])[0]
            yield Unit(piece_start, piece_end, piece_tokens, paragraph, False)


def _with_gaps(text: str, blocks: tuple[Block, ...]) -> Iterator[_Span]:
    """The blocks as spans, each its own paragraph, and any text between them as paragraphs
    split at blank lines: text a reader left outside every block is still indexed."""
    paragraph, position = 0, 0
    for block in (*blocks, Block(len(text), len(text), "paragraph")):
        for start, end in paragraphs(text, position, block.start):
            trimmed = _trim(text, start, end)
            if trimmed is not None:
                yield _Span(*trimmed, paragraph, "paragraph")
                paragraph += 1
        if block.start < block.end:
            yield _Span(block.start, block.end, paragraph, block.kind, block.level)
            paragraph += 1
        position = block.end


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


_HEADING_SHARE = 2  # a "heading" over half the budget is a paragraph a reader mislabelled


def _headings_that_fit(spans: list[_Span], text: str, counter: Counter, budget: int) -> list[_Span]:
    headed = [i for i, s in enumerate(spans) if s.kind in _HEADED_BY]
    counts = counter.count_many([text[spans[i].start : spans[i].end] for i in headed])
    out = list(spans)
    for i, tokens in zip(headed, counts, strict=True):
        if tokens > budget // _HEADING_SHARE:
            out[i] = _Span(spans[i].start, spans[i].end, spans[i].paragraph, "paragraph")
    return out
