"""What the UI's buttons do, as plain functions of the Service (no layout here).

Every message that can carry a document name or a question goes through `esc`: Gradio shows
toasts and gr.HTML as HTML.
"""

# No `from __future__ import annotations`: gr.api reads these annotations at runtime.
from collections.abc import Sequence
from typing import Any, TypeAlias

import gradio as gr

from qa.errors import QaError
from qa.folder.changes import PENDING
from qa.folder.trash import Trashed
from qa.names import shown
from qa.query.answer import EMPTY_QUESTION
from qa.web.errors import RequestError
from qa.web.render import (
    answer_html,
    citations_text,
    esc,
    human_size,
    question_html,
)
from qa.web.service import Service
from qa.web.view import DocumentRow
from qa.wording import counted, human_time

STARTUP_WAIT_S = 60.0  # a question asked during start-up waits this long for the index
Message = dict[str, str]
# The pickers' values as a refresh receives them, and the choices the page was last sent.
Picks: TypeAlias = list[str] | None
Pick: TypeAlias = str | None
Sent: TypeAlias = list[Any] | None
TABLE_HEADERS = ["Document", "Passages", "Size", "Indexed", "State"]
_STATES = {
    "indexed": "indexed",
    "new": "new: not in the index yet",
    "changed": "changed since indexed",
    "deleted": "deleted: still in the index",
}


def warn(text: str) -> None:
    gr.Warning(esc(text))


def failure(text: str, title: str = "Error") -> gr.Error:
    return gr.Error(esc(text), title=title, print_exception=False)


BUSY_POLL = 1.0  # seconds between status refreshes while starting or rebuilding
IDLE_POLL = 3.0  # otherwise: cheap (a stat per document), and a rebuild shows within 3 s


class Actions:
    def __init__(
        self,
        service: Service,
        *,
        examples: Sequence[str] = (),
    ) -> None:
        self.service = service
        self.examples = tuple(examples)

    # ------------------------------------------------------------------ chat

    def respond(
        self,
        message: str,
        messages: list[Message],
        questions: list[str],
        sources: list[str] | None,
    ) -> tuple[Any, ...]:
        """One chat turn; on a refusal the question stays in the box and a toast says why."""
        text = (message or "").strip()
        unchanged = (gr.skip(),) * 5
        if not text:
            warn(EMPTY_QUESTION)
            return unchanged
        self.service.wait_started(STARTUP_WAIT_S)
        try:
            answer = self.service.ask(text, history=questions, sources=sources or None)
        except RequestError as exc:
            warn(str(exc))
            return unchanged
        turn = [
            {"role": "user", "content": question_html(text)},
            {"role": "assistant", "content": answer_html(answer, self.service.locate)},
        ]
        messages = [*messages, *turn]
        return "", messages, messages, [*questions, text], citations_text(answer)

    # ------------------------------------------------------------------ API (gr.api)

    def ask_api(self, question: str) -> dict[str, Any]:
        """Answer one question: the same JSON object as `qa ask --json`."""
        self.service.wait_started(STARTUP_WAIT_S)
        try:
            return self.service.ask(question).as_json()
        except RequestError as exc:
            raise failure(str(exc)) from None

    def rebuild_api(self) -> dict[str, Any]:
        """Update the index from the documents folder; the build report as JSON."""
        try:
            return self.service.rebuild().as_json()
        except (RequestError, QaError) as exc:
            raise failure(str(exc)) from None

    def status_api(self) -> dict[str, Any]:
        """Index status and the indexed documents."""
        return self.service.status()

    # ------------------------------------------------------------------ refresh

    def refresh(
        self, selected: Picks, doomed: Pick, restorable: Pick, sent: Sent
    ) -> tuple[Any, ...]:
        """Both status panels, the documents table and the document pickers (keeping what the
        user picked while it still exists: a timer calls this every few seconds). `sent`: the
        pickers' choices as this page last got them, which are not sent again."""
        rows = self.service.documents()
        status = status_html(self.service.status(), rows)
        shown = self.service.answerable(self.examples)
        choices = [
            [named(s) for s in self.service.sources()],
            [named(r.source) for r in rows if r.state != "deleted"],
            [(trashed_label(t), t.key) for t in self.service.trashed()],
        ]
        before = sent if sent is not None and len(sent) == len(choices) else [None] * len(choices)
        picks = (selected or [], doomed, restorable)
        pickers = [
            picker(now, picked, sent=old)
            for now, picked, old in zip(choices, picks, before, strict=True)
        ]
        return (
            status,
            status,
            [table_row(r) for r in rows],
            *pickers,
            gr.Dataset(samples=[[q] for q in shown], visible=bool(shown)),
            [as_state(group) for group in choices],
        )

    def tick(self, selected: Picks, doomed: Pick, restorable: Pick, sent: Sent) -> tuple[Any, ...]:
        """Every second during start-up and rebuilds, every few seconds otherwise, so a page
        also notices a rebuild started from another page or the API."""
        busy = self.service.starting or self.service.rebuilding
        refreshed = self.refresh(selected, doomed, restorable, sent)
        return (*refreshed, gr.Timer(BUSY_POLL if busy else IDLE_POLL))


def as_state(choices: Sequence[Any]) -> list[Any]:
    """Choices as a gr.State gives them back: pairs as lists."""
    return [list(c) if isinstance(c, list | tuple) else c for c in choices]


def named(source: str) -> tuple[str, str]:
    """A picker's (label, value) for a document: the name as a person should read it."""
    return shown(source), source


def picker(
    choices: Sequence[str] | Sequence[tuple[str, str]],
    picked: list[str] | str | None,
    *,
    sent: Sequence[Any] | None = None,
) -> Any:
    """New choices (names, or (label, name) pairs) for a document picker. The pick is only
    changed when it names a document that is gone: `picked` was read when the refresh was sent
    (a timer's may be seconds old), and writing it back would undo what the user picked since.
    Choices the page already has (`sent`) are not sent again: a list re-drawn while it is open
    can turn a click on one option into a pick of another."""
    names = picked if isinstance(picked, list) else [picked] if picked else []
    values = [c[1] if isinstance(c, tuple) else c for c in choices]
    if all(name in values for name in names):
        if sent is not None and as_state(choices) == as_state(sent):
            return gr.skip()
        return gr.Dropdown(choices=choices)  # an update of the choices alone
    if isinstance(picked, list):
        kept = [name for name in names if name in values]
        return gr.Dropdown(choices=choices, value=kept, multiselect=True)
    return gr.Dropdown(choices=choices, value=None)


def trashed_label(item: Trashed) -> str:
    return f"{shown(item.source)} (deleted {human_time(item.deleted_at)})"


def table_row(row: DocumentRow) -> list[Any]:
    return [
        shown(row.source),
        "" if row.passages is None else row.passages,
        "" if row.size is None else human_size(row.size),
        human_time(row.indexed_at),
        _STATES.get(row.state, row.state),
    ]


def status_html(status: dict[str, Any], rows: Sequence[DocumentRow]) -> str:
    parts = [f'<p class="qa-state">{_state_line(status)}</p>']
    index = status["index"]
    if index is not None:
        parts.append(
            f'<p class="qa-index"><b>{index["documents"]}</b> documents · '
            f"<b>{index['passages']}</b> passages · model {esc(str(index['model']))} "
            f"({esc(str(index['backend']))}) · built {esc(human_time(index['built_at']))}</p>"
        )
    pending = [r for r in rows if r.state in PENDING]
    if pending:
        parts.append(
            f'<p class="qa-pending">{counted(len(pending), "document change")} not in the index '
            "yet: press <b>Rebuild index</b>.</p>"
        )
    if status["problem"]:
        parts.append(f'<p class="qa-error">{esc(status["problem"])}</p>')
    return "".join(parts)


def _state_line(status: dict[str, Any]) -> str:
    stage = esc(status["stage"] or "")
    lines: dict[str, str] = {
        "starting": f"<b>Starting</b>: {stage}…",
        "building": f"<b>Building the index</b>: {stage}…",
        "rebuilding": f"<b>Rebuilding</b>: {stage}… (answers use the previous index meanwhile)",
        "ready": "<b>Ready</b>",
        "no index": f"<b>No index</b>: {esc(NO_INDEX_HINT)}",
    }
    return lines[status["state"]]


NO_INDEX_HINT = "add documents, then press Rebuild index."
