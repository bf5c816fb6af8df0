"""Answers and questions as HTML for the chat, built only from escaped text.

The chat shows message content as HTML, so nothing from a document, a file name or a question
reaches the page unescaped: every piece of text goes through `html.escape` here, and the only
markup is the fixed tags written below. (Gradio's sanitizer runs too, as a second layer.)
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence

from qa.answer import NOT_FOUND, WEAK_MATCH, Answer, CitedPassage, Place
from qa.wording import counted

Locate = Callable[[Place], str]  # "lines 3-5" / "page 2" for a place in a document

_MARKER = re.compile(r"\[(\d{1,3})\]")
ABSTAIN_HINT = (
    "No passage matched the question well enough to quote. Try other words, "
    "or widen the document filter."
)


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def question_html(question: str) -> str:
    return f'<div class="qa-question">{esc(question)}</div>'


def answer_html(answer: Answer, locate: Locate) -> str:
    notes = "".join(_note_html(n) for n in answer.notes)
    if answer.abstained:
        hint = f'<p class="qa-hint">{esc(ABSTAIN_HINT)}</p>' if answer.answer == NOT_FOUND else ""
        return (
            f'<div class="qa-answer qa-abstained"><p class="qa-text">{esc(answer.answer)}</p>'
            f"{hint}{notes}</div>"
        )
    cited = cited_ranks(answer)
    quoted = "".join(passage_html(p, True, locate) for p in answer.passages if p.rank in cited)
    others = [passage_html(p, False, locate) for p in answer.passages if p.rank not in cited]
    more = (
        f'<details class="qa-more"><summary>{counted(len(others), "more passage")} retrieved'
        f'</summary><div class="qa-passages">{"".join(others)}</div></details>'
        if others
        else ""
    )
    return (
        f'<div class="qa-answer"><p class="qa-text">{_markers(esc(answer.answer))}</p>{notes}'
        f'<div class="qa-passages">{quoted}</div>{more}</div>'
    )


def _note_html(note: str) -> str:
    kind = "qa-note qa-weak" if note == WEAK_MATCH else "qa-note"
    return f'<p class="{kind}">{esc(note)}</p>'


def cited_ranks(answer: Answer) -> set[int]:
    return {int(n) for n in _MARKER.findall(answer.answer)}


def _markers(escaped: str) -> str:
    return _MARKER.sub(r'<sup class="qa-marker">[\1]</sup>', escaped)


def passage_html(passage: CitedPassage, cited: bool, locate: Locate) -> str:
    where = passage.citation.removeprefix(f"{passage.source}, ")
    badge = '<span class="qa-badge">quoted</span>' if cited else ""
    summary = (
        f'<span class="qa-rank">[{passage.rank}]</span> '
        f'<span class="qa-source">{esc(passage.source)}</span> '
        f'<span class="qa-where">{esc(where)}</span> '
        f'<span class="qa-score">score {passage.score:.2f}</span>{badge}'
    )
    heading = f'<div class="qa-heading">{esc(passage.heading)}</div>' if passage.heading else ""
    return (
        f'<details class="qa-passage"><summary>{summary}</summary>{heading}'
        f'<div class="qa-body">{highlighted(passage)}</div>'
        f'<div class="qa-cite">Cite: <code>{esc(passage.citation)}</code></div>'
        f"{_also_in(passage.also_in, locate)}</details>"
    )


def highlighted(passage: CitedPassage) -> str:
    """The passage text, escaped, with the quoted sentences (document offsets) in <mark>."""
    text = passage.text
    spans = sorted(
        (max(start - passage.start, 0), min(end - passage.start, len(text)))
        for start, end in passage.answer_spans
    )
    out, cursor = [], 0
    for start, end in spans:
        start = max(start, cursor)  # overlapping spans: mark each character once
        if end <= start:
            continue
        out += [esc(text[cursor:start]), f"<mark>{esc(text[start:end])}</mark>"]
        cursor = end
    out.append(esc(text[cursor:]))
    return "".join(out)


def _also_in(places: Sequence[Place], locate: Locate) -> str:
    if not places:
        return ""
    items = "".join(f"<li><code>{esc(p.source)}, {esc(locate(p))}</code></li>" for p in places)
    return f'<div class="qa-also">Same passage also in:<ul>{items}</ul></div>'


def citations_text(answer: Answer) -> str:
    """Plain text for the copy box: one citation per quoted passage."""
    if answer.abstained:
        return ""
    cited = cited_ranks(answer)
    return "\n".join(f"[{p.rank}] {p.citation}" for p in answer.passages if p.rank in cited)


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"
