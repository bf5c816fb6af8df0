"""What the Documents tab's buttons do: upload, delete (with Undo), restore and rebuild.

Every change to the folder is indexed at once, as `qa add`, `qa delete` and `qa restore` do:
questions keep being answered from the previous index meanwhile. Every message that can carry a
document name goes through `esc`: Gradio shows toasts and gr.HTML as HTML.
"""

# No `from __future__ import annotations`: gr.api reads these annotations at runtime.
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gradio as gr

from qa.errors import QaError
from qa.folder.add import MAX_FILES, Incoming, Refused, UploadResult
from qa.folder.trash import TRASH
from qa.index.build import BuildReport
from qa.names import shown
from qa.web.actions import BUSY_POLL, failure, warn
from qa.web.errors import BusyError
from qa.web.render import esc
from qa.web.service import BUSY, Service
from qa.web.uploads import NONE_RECEIVED, Receipts
from qa.wording import counted

CHANGE_WAIT_S = 600.0  # a change waits this long for a running build, then is indexed itself
Progress = Any  # gr.Progress; a plain callable in tests


class DocumentActions:
    def __init__(self, service: Service, *, receipts: Receipts = NONE_RECEIVED) -> None:
        self.service = service
        self.receipts = receipts  # which posted paths are files Gradio received

    # ------------------------------------------------------------------ changes

    def upload(self, files: list[str] | None) -> tuple[Any, str, bool]:
        """Clears the upload area; the message; whether anything was added (then indexed)."""
        if not files:
            return gr.skip(), gr.skip(), False
        result = self._upload(files)
        for name, reason in result.refused:
            warn(f"{name}: {reason}")
        return None, upload_message(result), bool(result.added)

    def upload_api(self, files: list[str] | None) -> dict[str, Any]:
        return self._upload(files).as_json()

    def _upload(self, files: Sequence[str] | None) -> UploadResult:
        paths = list(files or [])
        refused: list[tuple[str, str]] = []
        if len(paths) > MAX_FILES:  # refused whole by name: no path is looked at
            incoming = [Incoming(Path(f).name, Path(f)) for f in paths]
        else:
            incoming, refused = self.receipts.sort(paths)
        try:
            result = self.service.upload(incoming) if incoming else UploadResult()
        except QaError as exc:
            raise failure(str(exc)) from None
        return UploadResult(result.added, [*refused, *result.refused])

    def delete(self, source: str | None) -> tuple[str, Any, str, bool]:
        """The message, the Undo button, what Undo restores, whether to index."""
        if not source:
            warn("Choose a document to delete first.")
            return gr.skip(), gr.skip(), gr.skip(), False
        try:
            kept = self.service.delete(source)
        except Refused as exc:
            warn(str(exc))
            return gr.skip(), gr.skip(), gr.skip(), False
        key = kept.relative_to(self.service.settings.docs / TRASH).as_posix()
        message = (
            f"<p>Deleted <b>{esc(shown(source))}</b>: moved to "
            f"<code>{esc(shown(str(kept)))}</code>, from where <b>Undo</b> or <b>Restore</b> "
            "brings it back.</p>"
        )
        return message, gr.Button(visible=True), key, True

    def undo(self, key: str) -> tuple[str, Any, bool]:
        message, changed = self._restore(key)
        return message, gr.Button(visible=False), changed

    def restore(self, key: str | None) -> tuple[str, Any, bool]:
        """The message, the picker cleared (its choice is gone), whether to index."""
        if not key:
            warn("Choose a deleted document to restore first.")
            return gr.skip(), gr.skip(), False
        message, changed = self._restore(key)
        return message, gr.Dropdown(value=None), changed

    def _restore(self, key: str) -> tuple[str, bool]:
        try:
            source = self.service.restore(key)
        except Refused as exc:
            warn(str(exc))
            return gr.skip(), False
        return f"<p>Restored <b>{esc(shown(source))}</b>.</p>", True

    # ------------------------------------------------------------------ building

    def check_idle(self) -> gr.Timer:
        """First step of Rebuild: refuse at once (not queue) when a rebuild is running."""
        if self.service.rebuilding:
            raise failure(BUSY, title="Rebuild already running")
        return gr.Timer(BUSY_POLL, active=True)

    def rebuild(self, progress: gr.Progress = gr.Progress()) -> str:  # noqa: B008 (Gradio API)
        return self._build(progress, wait=0.0, before="")

    def index_after(
        self,
        changed: bool,
        before: str,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio API)
    ) -> str:
        """Index a change just made (after a build already running, if one is)."""
        if not changed:
            return gr.skip()  # type: ignore[no-any-return]
        return self._build(progress, wait=CHANGE_WAIT_S, before=before)

    def _build(self, progress: Progress, *, wait: float, before: str) -> str:
        def report(stage: str, done: int, total: int) -> None:
            progress((done, total) if total else None, desc=stage)

        try:
            result = self.service.rebuild(report, wait=wait)
        except BusyError as exc:
            warn(str(exc))
            return gr.skip()  # type: ignore[no-any-return]
        except QaError as exc:
            warn(str(exc))
            return f'{before}<p class="qa-error">{esc(str(exc))}</p>'
        return before + rebuild_message(result)


def upload_message(result: UploadResult) -> str:
    parts = []
    if result.added:
        names = ", ".join(f"<b>{esc(shown(n))}</b>" for n in result.added)
        parts.append(f"<p>Added {names}.</p>")
    for name, reason in result.refused:
        parts.append(f'<p class="qa-error">Not added: {esc(shown(name))}: {esc(reason)}</p>')
    return "".join(parts)


def rebuild_message(report: BuildReport) -> str:
    if not report.built:
        return f"<p>The index is already up to date ({counted(report.documents, 'document')}).</p>"
    changes = ", ".join(
        f"{len(items)} {label}"
        for label, items in (
            ("added", report.added),
            ("changed", report.changed),
            ("removed", report.removed),
            ("skipped", report.skipped),
        )
    )
    parts = [
        f"<p>Index updated in {report.seconds:.1f} s: {counted(report.documents, 'document')}, "
        f"{counted(report.passages, 'passage')} ({changes}).</p>"
    ]
    parts += [
        f'<p class="qa-error">Skipped {esc(shown(s.source))}: {esc(s.reason)}</p>'
        for s in report.skipped
    ]
    parts += [f'<p class="qa-note">{esc(w)}</p>' for w in report.warnings]
    return "".join(parts)
