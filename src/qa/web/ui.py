"""The Gradio page: an Ask tab (chat, document filter, citations) and a Documents tab.

Concurrency: reading events (questions, refreshes) have no concurrency limit, so many people
are answered at once; building is single-flight (concurrency_limit=1, plus the service's lock
so a second click is told at once instead of waiting in the queue).
"""

from __future__ import annotations

from typing import Any

import gradio as gr
from gradio.events import api as gradio_api

from qa.folder.add import ACCEPTED, MAX_FILES
from qa.web.actions import BUSY_POLL, TABLE_HEADERS, Actions
from qa.web.documents import DocumentActions
from qa.web.service import Service
from qa.web.uploads import gradio_receipts

TITLE = "qa: answers from your documents"
# A picker's value may name a document another page or process removed a moment ago; Gradio
# would refuse the whole event ("not in the list of choices"). The actions check names
# themselves, and the next refresh clears a pick that is gone.
STALE_PICKS_PASS = True
EXAMPLES = [
    "Who directed The Battle at Lake Changjin?",
    "How many US military bases are in South Korea?",
    "Which Korean independence leader had a hideout in Jiaxing?",
    "When did the Korean War break out?",
]
UNLIMITED: Any = None  # concurrency_limit=None: no limit for read-only events


def build_ui(service: Service, *, max_upload_mb: int) -> gr.Blocks:
    demo = gr.Blocks(title=TITLE, delete_cache=(3600, 3600))
    actions = Actions(service, examples=EXAMPLES)
    changes = DocumentActions(service, receipts=gradio_receipts(demo))
    with demo:
        gr.Markdown(f"# {TITLE}", elem_id="qa-header")
        with gr.Tabs():
            with gr.Tab("Ask", id="ask"):
                ask = _ask_tab(actions)
            with gr.Tab("Documents", id="documents"):
                docs = _documents_tab(max_upload_mb)
        _api(actions, changes)
        _wire_refresh(actions, changes, demo, ask, docs)
    return demo


def _ask_tab(actions: Actions) -> dict[str, Any]:
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=420):
            parts = _chat_column()
        with gr.Column(scale=1, min_width=260):
            parts |= _side_column()
    parts["messages"] = gr.State([])  # the chat as shown (escaped HTML)
    parts["questions"] = gr.State([])  # the raw questions, for follow-ups
    _wire_chat(actions, parts)
    return parts


def _chat_column() -> dict[str, Any]:
    chat = gr.Chatbot(
        show_label=False,
        height=560,
        render_markdown=False,  # content is HTML we escaped ourselves
        sanitize_html=True,  # and Gradio's sanitizer on top
        latex_delimiters=[],
        allow_tags=False,
        feedback_options=None,
        buttons=[],  # its copy button would copy our HTML; citations have their own box
        placeholder="Ask about your documents: every answer quotes and cites them.",
        elem_id="qa-chat",
    )
    with gr.Row(equal_height=True):
        box = gr.Textbox(
            show_label=False,
            placeholder="Ask a question and press Enter",
            scale=6,
            max_lines=4,
            autofocus=True,
            elem_id="qa-question",
        )
        send = gr.Button("Ask", variant="primary", scale=1, min_width=80)
    examples = gr.Examples([[q] for q in EXAMPLES], inputs=[box], label="Examples")
    return {"chat": chat, "box": box, "send": send, "examples": examples}


def _side_column() -> dict[str, Any]:
    sources = gr.Dropdown(
        label="Search in",
        info="Leave empty to search every document.",
        multiselect=True,
        choices=[],
        value=[],
        elem_id="qa-filter",
        allow_custom_value=STALE_PICKS_PASS,
    )
    cites = gr.Textbox(
        label="Citations of the last answer",
        lines=3,
        interactive=False,
        buttons=["copy"],
        elem_id="qa-citations",
    )
    clear = gr.Button("Clear conversation", variant="secondary")
    status = gr.HTML(elem_id="qa-status")
    return {"sources": sources, "cites": cites, "clear": clear, "status": status}


def _wire_chat(actions: Actions, parts: dict[str, Any]) -> None:
    inputs = [parts[k] for k in ("box", "messages", "questions", "sources")]
    outputs = [parts[k] for k in ("box", "chat", "messages", "questions", "cites")]
    asking = {"fn": actions.respond, "inputs": inputs, "outputs": outputs,
              "concurrency_limit": UNLIMITED, "api_visibility": "private"}  # fmt: skip
    parts["box"].submit(**asking, show_progress="minimal")
    parts["send"].click(**asking, show_progress="minimal")
    parts["examples"].load_input_event.then(**asking)  # a click on an example asks it
    empty: tuple[Any, ...] = ("", [], [], [], "")
    for event in (parts["clear"].click, parts["chat"].clear):  # the chat's bin icon too
        event(lambda: empty, None, outputs, queue=False, api_visibility="private")


def _documents_tab(max_upload_mb: int) -> dict[str, Any]:
    status = gr.HTML(elem_id="qa-docs-status")
    table = gr.Dataframe(
        headers=TABLE_HEADERS,
        interactive=False,
        wrap=True,
        label="Documents",
        elem_id="qa-documents",
    )
    with gr.Row(equal_height=False):
        with gr.Column(scale=2):
            upload = gr.File(
                label=f"Add documents ({ACCEPTED}; up to {MAX_FILES} files of "
                f"{max_upload_mb} MB each)",
                file_count="multiple",
                height=200,  # room for the label above the drop area's icon
                elem_id="qa-upload",
            )
        with gr.Column(scale=1):
            rebuild = gr.Button("Rebuild index", variant="primary", elem_id="qa-rebuild")
            with gr.Row(equal_height=True):
                doomed = _picker("Delete a document")
                delete = gr.Button("Delete", variant="stop", scale=1, min_width=80)
                undo = gr.Button("Undo", scale=1, min_width=80, visible=False, elem_id="qa-undo")
            with gr.Row(equal_height=True):
                restorable = _picker("Restore a deleted document")
                restore = gr.Button("Restore", scale=1, min_width=80)
    message = gr.HTML(elem_id="qa-docs-message", min_height=40)
    return {
        "status": status,
        "table": table,
        "doomed": doomed,
        "restorable": restorable,
        "restore": restore,
        "message": message,
        "upload": upload,
        "rebuild": rebuild,
        "delete": delete,
        "undo": undo,
        "undo_key": gr.State(""),  # what Undo restores: the last deletion of this page
        "changed": gr.State(False),  # the folder was just changed: index it
        "sent": gr.State(None),  # the pickers' choices as this page has them
    }


def _picker(label: str) -> gr.Dropdown:
    return gr.Dropdown(label=label, choices=[], scale=3, allow_custom_value=STALE_PICKS_PASS)


def _wire_documents(
    changes: DocumentActions, docs: dict[str, Any], refresh: dict[str, Any], timer: gr.Timer
) -> None:
    """Upload, delete, undo and restore, each indexed at once (as `qa add`, `qa delete` and
    `qa restore` do), and Rebuild; each followed by a refresh of the lists."""
    message, changed = docs["message"], docs["changed"]
    editing = {"concurrency_limit": 4, "concurrency_id": "documents", "api_visibility": "private"}
    # Waits for a build already running, then indexes; the rebuild queue runs one at a time.
    indexing = {
        "fn": changes.index_after,
        "inputs": [changed, message],
        "outputs": [message],
        "concurrency_limit": 1,
        "concurrency_id": "rebuild",
        "api_visibility": "private",
    }
    for event in (
        docs["upload"].upload(
            changes.upload, [docs["upload"]], [docs["upload"], message, changed], **editing
        ),
        docs["delete"].click(
            changes.delete,
            [docs["doomed"]],
            [message, docs["undo"], docs["undo_key"], changed],
            **editing,
        ),
        docs["undo"].click(
            changes.undo, [docs["undo_key"]], [message, docs["undo"], changed], **editing
        ),
        docs["restore"].click(
            changes.restore, [docs["restorable"]], [message, docs["restorable"], changed], **editing
        ),
    ):
        event.then(**refresh).then(**indexing).then(**refresh)
    # Step 1 runs at once (no limit) and refuses while a build runs; it also speeds up this
    # page's status timer (other pages notice the build at their next idle tick).
    started = docs["rebuild"].click(
        changes.check_idle,
        None,
        [timer],
        concurrency_limit=UNLIMITED,
        api_visibility="private",
        show_progress="hidden",
    )
    started.success(
        changes.rebuild,
        None,
        [message],
        concurrency_limit=1,
        concurrency_id="rebuild",
        api_visibility="private",
    ).then(**refresh)


def _api(actions: Actions, changes: DocumentActions) -> None:
    """Named endpoints for gradio_client; the chat's own events stay private."""
    gradio_api(actions.ask_api, api_name="ask", concurrency_limit=UNLIMITED)
    gradio_api(actions.status_api, api_name="status", concurrency_limit=UNLIMITED)
    gradio_api(
        actions.rebuild_api, api_name="rebuild", concurrency_limit=1, concurrency_id="rebuild"
    )
    # Files need a File component so gradio_client uploads them first: a hidden one.
    files = gr.File(file_count="multiple", visible=False)
    result = gr.JSON(visible=False)
    trigger = gr.Button(visible=False)
    trigger.click(
        changes.upload_api,
        [files],
        [result],
        api_name="upload",
        concurrency_limit=4,
        concurrency_id="documents",
    )


def _wire_refresh(
    actions: Actions,
    changes: DocumentActions,
    demo: gr.Blocks,
    ask: dict[str, Any],
    docs: dict[str, Any],
) -> None:
    """Status, table and pickers: on load, on a timer (see Actions.tick), after every change."""
    outputs = [
        ask["status"],
        docs["status"],
        docs["table"],
        ask["sources"],
        docs["doomed"],
        docs["restorable"],
        ask["examples"].dataset,
        docs["sent"],
    ]
    refresh: dict[str, Any] = {
        "fn": actions.refresh,
        "inputs": [ask["sources"], docs["doomed"], docs["restorable"], docs["sent"]],
        "outputs": outputs,
        "api_visibility": "private",
        "concurrency_limit": UNLIMITED,
        "show_progress": "hidden",
    }
    demo.load(**refresh)
    timer = gr.Timer(BUSY_POLL)
    timer.tick(**{**refresh, "fn": actions.tick, "outputs": [*outputs, timer]})
    _wire_documents(changes, docs, refresh, timer)
