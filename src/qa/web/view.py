"""What the page shows of documents: the table of the folder against the index, and one
indexed document with a cited passage's place in it (`/view`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.folder.changes import document_states, files_on_disk
from qa.index.built import DocumentEntry, Index
from qa.names import shown
from qa.query.answer import Place
from qa.web.errors import ConflictError, NotFoundError, RequestError
from qa.web.render import passage_digest
from qa.wording import line_range

ASK_AGAIN = "Ask the question again for current citations."


@dataclass(frozen=True)
class DocumentRow:
    source: str
    passages: int | None
    size: int | None
    indexed_at: str | None
    state: str  # "indexed", "new", "changed", "deleted" or "skipped: <reason>"


@dataclass(frozen=True)
class DocumentView:
    source: str
    text: str  # as indexed: what citation offsets point into
    where: str  # 'section "Install", lines 3-5' or "page 2" of the passage shown
    pages: tuple[int, ...]  # where each page (of a PDF, an image) starts in text
    ocr_pages: tuple[int, ...] = ()  # 1-based pages whose text OCR read


def document_rows(index: Index | None, docs: Path) -> list[DocumentRow]:
    """Indexed documents, plus files added, changed or removed since the last build."""
    on_disk = files_on_disk(docs)
    entries = {e.source: e for e in index.documents} if index is not None else {}
    rows = []
    for source, state in document_states(index, on_disk, docs=docs).items():
        entry = entries.get(source)
        if entry is None:
            rows.append(DocumentRow(source, None, on_disk[source].size, None, state))
        else:
            count = entry.passages[1] - entry.passages[0]
            rows.append(DocumentRow(source, count, entry.size, entry.indexed_at, state))
    return rows


def document_view(
    index: Index, source: str, start: int, end: int, *, digest: str | None
) -> DocumentView:
    """An indexed document and where a cited passage sits in it. `digest` is the passage's as
    the answer quoted it (`passage_digest`): a link from before the document changed must not
    mark other text."""
    entry = index.document(source)
    if entry is None:
        raise NotFoundError(f"{source} is not in the index (deleted since?). {ASK_AGAIN}")
    if not 0 <= start <= end <= len(entry.text):
        raise RequestError(
            f"Characters {start}-{end} are outside {source} ({len(entry.text)} characters)."
        )
    if digest is not None and passage_digest(entry.text[start:end]) != digest:
        raise ConflictError(f"{source} has changed since this answer was given. {ASK_AGAIN}")
    place = where(entry, start, end)
    heading = _heading_of(index, entry, start, end)
    if heading:
        place = f'section "{shown(heading)}", {place}'  # as the answer's citation says it
    return DocumentView(source, entry.text, place, entry.pages, entry.ocr_pages)


def _heading_of(index: Index, entry: DocumentEntry, start: int, end: int) -> str:
    """The heading path of the passage at exactly start-end ("" when no passage is there)."""
    lo, hi = entry.passages
    return next((p.heading for p in index.passages[lo:hi] if p.start == start and p.end == end), "")


def locate(index: Index | None, place: Place) -> str:
    """'lines a-b' (or 'page n') of a place in an indexed document."""
    entry = index.document(place.source) if index is not None else None
    if entry is None:
        return f"characters {place.start}-{place.end}"
    return where(entry, place.start, place.end)


def where(entry: DocumentEntry, start: int, end: int) -> str:
    """ "lines a-b", or "page n" of a PDF or an image."""
    page = entry.page_at(start)
    if page is not None:
        return f"page {page}"
    first = entry.text.count("\n", 0, start) + 1
    last = first + entry.text.count("\n", start, max(end - 1, start))
    return line_range(first, last)


def status_json(
    index: Index | None, state: str, *, stage: str, problem: str | None
) -> dict[str, Any]:
    """What `/api/status` and the page's status say: the state, the index and its documents."""
    documents = index.documents if index is not None else []
    return {
        "state": state,
        "stage": stage or None,
        "problem": problem,
        "index": index.summary() if index is not None else None,
        "documents": [
            {
                "source": d.source,
                "passages": d.passages[1] - d.passages[0],
                "size": d.size,
                "indexed_at": d.indexed_at,
            }
            for d in documents
        ],
    }
