"""Answers and questions as HTML for the chat, and a document page with a cited passage in
place, built only from escaped text.

The chat shows message content as HTML, so nothing from a document, a file name or a question
reaches the page unescaped: every piece of text goes through `html.escape` here, and the only
markup is the fixed tags written below. (Gradio's sanitizer runs too, as a second layer.)
"""

from __future__ import annotations

import hashlib
import html
import itertools
import re
from collections.abc import Callable, Collection, Sequence
from urllib.parse import urlencode

from qa.index.keyword import asked_spans, asked_words
from qa.query.answer import NOT_FOUND, WEAK_MATCH, Answer, CitedPassage, Place
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
    cited, words = cited_ranks(answer), asked_words(answer.question)
    quoted = "".join(
        passage_html(p, True, locate, words=words) for p in answer.passages if p.rank in cited
    )
    others = [
        passage_html(p, False, locate, words=words) for p in answer.passages if p.rank not in cited
    ]
    more = (
        f'<details class="qa-more"><summary>{counted(len(others), "more passage")} retrieved'
        f'</summary><div class="qa-passages">{"".join(others)}</div></details>'
        if others
        else ""
    )
    return (
        f'<div class="qa-answer">{answer_body(answer.answer)}{notes}'
        f'<div class="qa-passages">{quoted}</div>{more}</div>'
    )


def _note_html(note: str) -> str:
    kind = "qa-note qa-weak" if note == WEAK_MATCH else "qa-note"
    return f'<p class="{kind}">{esc(note)}</p>'


def cited_ranks(answer: Answer) -> set[int]:
    return {int(n) for n in _MARKER.findall(answer.answer)}


# A quoted code block, as qa.query.answer.as_code writes it: a fence of 3+ backticks.
_FENCED = re.compile(r"(`{3,})\n(.*?)\n\1", re.DOTALL)


def answer_body(answer: str) -> str:
    """The answer's prose as paragraphs and its quoted code blocks as monospace blocks."""
    parts, position = [], 0
    for match in _FENCED.finditer(answer):
        parts.append(_prose(answer[position : match.start()]))
        parts.append(f'<pre class="qa-code"><code>{esc(match.group(2))}</code></pre>')
        position = match.end()
    parts.append(_prose(answer[position:]))
    return "".join(parts)


def _prose(text: str) -> str:
    text = text.strip()
    return f'<p class="qa-text">{_markers(esc(text))}</p>' if text else ""


def _markers(escaped: str) -> str:
    return _MARKER.sub(r'<sup class="qa-marker">[\1]</sup>', escaped)


def passage_html(
    passage: CitedPassage, cited: bool, locate: Locate, *, words: frozenset[str] = frozenset()
) -> str:
    where = passage.place  # the section is the heading line below the summary
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
        f'<div class="qa-body">{highlighted(passage, words)}</div>'
        f'<div class="qa-cite">Cite: <code>{esc(passage.citation)}</code> '
        f"{_open_link(passage, passage.citation, passage.answer_spans)}</div>"
        f"{_also_in(passage.also_in, locate)}</details>"
    )


def passage_digest(text: str) -> str:
    """Carried in a link to the document view, which refuses to mark text that has changed."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _view_url(place: Place | CitedPassage, spans: Sequence[tuple[int, int]]) -> str:
    """Relative, so the link still works when the app is served under a path prefix. A place
    listed under "also in" carries no digest: its text may differ from the quoted passage's."""
    query = [("source", place.source), ("start", str(place.start)), ("end", str(place.end))]
    if isinstance(place, CitedPassage):
        query.append(("check", passage_digest(place.text)))
    query += [("span", f"{a}-{b}") for a, b in spans]
    return f"view?{urlencode(query)}#passage"


def _open_link(
    place: Place | CitedPassage, citation: str, spans: Sequence[tuple[int, int]] = ()
) -> str:
    """Every passage has one: a tooltip and text only screen readers read say which (Gradio's
    sanitizer drops aria-label)."""
    url = esc(_view_url(place, spans))
    return (
        f'<a class="qa-open" href="{url}" target="_blank" rel="noopener" '
        f'title="Open {esc(citation)} in its document">open in document'
        f'<span class="qa-sr"> for {esc(citation)}</span></a>'
    )


def highlighted(passage: CitedPassage, words: frozenset[str] = frozenset()) -> str:
    """The passage text, escaped, with the quoted sentences (document offsets) in <mark> and
    the question's words in <b>: a reader sees at a glance why a passage was retrieved."""
    return _pieces_html(passage.text, offset=passage.start, spans=passage.answer_spans, words=words)


def _pieces_html(
    text: str,
    *,
    offset: int = 0,
    spans: Sequence[tuple[int, int]] = (),
    words: frozenset[str] = frozenset(),
    passage: tuple[int, int] | None = None,
    pages: Sequence[int] = (),
    ocr_pages: Collection[int] = (),
) -> str:
    """`text` (at `offset` in its document) cut wherever a quoted span, the passage or a page
    begins or ends (document offsets); each piece escaped, the asked words in it in <b>, and
    wrapped in what covers it. The first quoted sentence of the passage (else its start) is the
    `#passage` anchor: in a long passage that is what was cited. A page in `ocr_pages` is
    labelled as read by OCR."""
    quoted = [(a - offset, b - offset) for a, b in spans]
    page_at = {start - offset: number for number, start in enumerate(pages, 1)}
    lo, hi = (passage[0] - offset, passage[1] - offset) if passage else (-1, -1)  # none
    edges = {0, len(text), lo, hi, *page_at, *(x for span in quoted for x in span)}
    cuts = sorted(x for x in edges if 0 <= x <= len(text))
    target = min((a for a, b in quoted if lo <= a < b <= hi), default=lo)
    out = []
    for a, b in itertools.pairwise(cuts):
        if a in page_at:
            number = page_at[a]
            read = " · text read by OCR" if number in ocr_pages else ""
            out.append(f'<span class="page">page {number}{read}</span>')
        piece = _bold(text[a:b], words)
        if any(s <= a and b <= e for s, e in quoted):
            piece = f"<mark>{piece}</mark>"
        if lo <= a and b <= hi:
            anchor = ' id="passage"' if a == target else ""
            piece = f'<span class="passage"{anchor}>{piece}</span>'
        out.append(piece)
    return "".join(out)


def _bold(text: str, words: frozenset[str]) -> str:
    """`text` escaped, each word the index would match to `words` in <b class="qa-term">."""
    out, cursor = [], 0
    for start, end in asked_spans(text, words):
        out += [esc(text[cursor:start]), f'<b class="qa-term">{esc(text[start:end])}</b>']
        cursor = end
    return "".join([*out, esc(text[cursor:])])


def _also_in(places: Sequence[Place], locate: Locate) -> str:
    if not places:
        return ""
    cited = [(p, f"{p.source}, {locate(p)}") for p in places]
    items = "".join(f"<li><code>{esc(c)}</code> {_open_link(p, c)}</li>" for p, c in cited)
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


def document_page(
    source: str,
    text: str,
    *,
    start: int,
    end: int,
    spans: Sequence[tuple[int, int]],
    where: str,
    pages: Sequence[int] = (),
    ocr_pages: Sequence[int] = (),
) -> str:
    """A whole indexed document as a page of its own: the cited passage shaded and scrolled
    to, its quoted sentences marked, page starts labelled (those read by OCR said to be), the
    text as it was indexed."""
    title = esc(f"{source}, {where}")
    body = _pieces_html(
        text, spans=spans, passage=(start, end), pages=pages, ocr_pages=frozenset(ocr_pages)
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{_DOCUMENT_CSS}</style></head><body>"
        f"<header><h1>{esc(source)}</h1><p>Cite: <code>{title}</code> · "
        '<a href="#passage">back to the passage</a></p>'
        f"{_ocr_note(ocr_pages)}</header>"
        f'<main><div class="text">{body}</div></main>'
        "</body></html>"
    )


def _ocr_note(ocr_pages: Sequence[int]) -> str:
    if not ocr_pages:
        return ""
    which = "page" if len(ocr_pages) == 1 else "pages"
    numbers = ", ".join(str(n) for n in ocr_pages)
    return (
        f'<p class="ocr">Text of {which} {numbers} read by OCR from an image of the page: '
        "a word may be misread.</p>"
    )


def error_page(message: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>qa</title>'
        f"<style>{_DOCUMENT_CSS}</style></head><body><main><p>{esc(message)}</p></main>"
        "</body></html>"
    )


_DOCUMENT_CSS = """
body { margin: 0; font: 16px/1.55 system-ui, sans-serif; color: #1f2937; background: #f9fafb; }
header { position: sticky; top: 0; background: #fff; border-bottom: 1px solid #e5e7eb;
  padding: .6em 1.2em; }
header h1 { font-size: 1.1em; margin: 0; }
header p { margin: .2em 0 0; font-size: .85em; }
header .ocr { color: #92400e; }
main { max-width: 48em; margin: 0 auto; padding: 1em 1.2em 40vh; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; }
.passage { background: #e0e7ff; scroll-margin-top: 6em; }
.page { display: block; margin: 1.2em 0 .4em; font-size: .75em; color: #6b7280;
  border-top: 1px dashed #d1d5db; padding-top: .3em; }
mark { background: #fde68a; }
@media (prefers-color-scheme: dark) {
  body { background: #111827; color: #e5e7eb; }
  header { background: #1f2937; border-color: #374151; }
  .passage { background: #1e1b4b; }
  mark { background: #854d0e; color: #fff; }
}
"""
