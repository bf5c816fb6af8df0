"""What the web app serves: one engine, its start-up, rebuilds, uploads and deletes.

Shared by the Gradio UI and the JSON API, so both give the same answers and the same errors.
Questions never wait for a rebuild: they run on the engine's current index, and a finished
build (this process's or another's: `follow_disk`) is swapped in. Start-up (build if needed,
then load the model) runs in a thread so the server answers HTTP at once. At exit, background
work is stopped and waited for (`close`): a thread left inside ONNX Runtime while the process
tears down aborts it.
"""

from __future__ import annotations

import atexit
import contextlib
import sys
import threading
import traceback
import weakref
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

from qa.embed.base import Embedder
from qa.embed.embedder import SharedEmbedder, load_embedder
from qa.errors import BuildCancelledError, ModelError, QaError, UnknownSourceError
from qa.folder.add import Incoming, UploadResult, save_uploads
from qa.folder.trash import Trashed, delete_document, restore_document, trashed
from qa.index.assemble import ProgressFn
from qa.index.build import BuildReport, build_index
from qa.index.built import Index, load
from qa.index.store import live_build_name
from qa.ingest.limits import Limits
from qa.query.answer import EMPTY_QUESTION, Answer, Place
from qa.query.engine import Engine, check_model, single_threaded_blas
from qa.settings import Settings
from qa.web.errors import BusyError, NotReadyError, RequestError
from qa.web.view import (
    DocumentRow,
    DocumentView,
    document_rows,
    document_view,
    locate,
    status_json,
)

MIB = 1024 * 1024
NO_INDEX = "No index is loaded. Run `qa index`, or press “Rebuild index” in the Documents tab."
BUSY = "A rebuild is already running; its index is used as soon as it finishes."
CANCELLED = "The build was stopped because qa is shutting down; the previous index is kept."
CLOSE_WAIT = 30.0  # seconds: a model load (torch ~8 s) or one batch of a build
FOLLOW_EVERY = 1.0  # seconds between looks for a build another process committed


class Service:
    def __init__(
        self, settings: Settings, *, embedder_factory: Callable[[], Embedder] | None = None
    ) -> None:
        self.settings = settings
        self._factory = SharedEmbedder(embedder_factory or (lambda: load_embedder(settings)))
        self._engine: Engine | None = None
        self._build_lock = threading.Lock()  # one build at a time in this process
        self._swap_lock = threading.Lock()  # one index install at a time (builds, following)
        self._docs_lock = threading.Lock()  # uploads and deletes, one at a time
        self._started = threading.Event()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self._stage = "starting"
        self._problem: str | None = None  # why the index could not be built or updated
        self._model_problem: str | None = None
        self._answerable: tuple[Index, tuple[str, ...], list[str]] | None = None

    # ------------------------------------------------------------------ start-up

    def start(self) -> None:
        """Build the index if it is missing or stale, then load the model; returns at once."""
        if self._thread is None:
            single_threaded_blas()
            self._thread = threading.Thread(target=self._start_up, name="qa-start", daemon=True)
            self._thread.start()
            atexit.register(_close_at_exit, weakref.ref(self))

    def close(self, timeout: float = CLOSE_WAIT) -> None:
        """Stop background work: a running build stops at its next batch (the index on disk
        stays as it was) and start-up finishes loading the model. Waits up to `timeout`."""
        self._closing.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._build_lock.acquire(timeout=timeout):  # a rebuild started from the page
            self._build_lock.release()

    def wait_started(self, timeout: float | None = None) -> bool:
        """True once start-up is over (or was never asked for)."""
        return self._thread is None or self._started.wait(timeout)

    def _start_up(self) -> None:
        # Questions are answered from the index on disk while it is brought up to date (or
        # while another process's build holds the lock for minutes).
        self._load_existing()
        try:
            self._build(None)
        except QaError as exc:
            self._problem = str(exc)
        except Exception as exc:  # a thread boundary: report, never die silently
            traceback.print_exc(file=sys.stderr)
            self._problem = f"Start-up failed: {exc}"
        finally:
            self._started.set()
        self._warm()
        while not self._closing.wait(FOLLOW_EVERY):
            self._follow_quietly()

    def _follow_quietly(self) -> None:
        try:
            self.follow_disk()
        except QaError as exc:
            self._problem = str(exc)  # keep serving what is loaded; the status says why
        except Exception:  # a thread boundary: report, keep following
            traceback.print_exc(file=sys.stderr)

    def follow_disk(self) -> bool:
        """Serve the index's live build when another process (`qa index`, `qa add`, another app)
        committed a newer one than the one loaded; True when one was swapped in. Builds of this
        process install their own, so this waits its turn behind them."""
        live = live_build_name(self.settings.index)
        if live is None or self.rebuilding or live == self._loaded_build():
            return False
        with self._swap_lock:
            if live_build_name(self.settings.index) != live or live == self._loaded_build():
                return False
            self._install(load(self.settings.index))
            self._problem = None
            return True

    def _loaded_build(self) -> str | None:
        engine = self._engine
        return engine.index.build if engine is not None else None

    def _load_existing(self) -> None:
        # No usable index: questions get NO_INDEX, and the status shows the problem.
        with contextlib.suppress(QaError):
            self._install(load(self.settings.index))

    def _warm(self) -> None:
        engine = self._engine
        if engine is None or self._closing.is_set():
            return
        try:
            engine.warm()
        except QaError as exc:
            self._model_problem = str(exc)

    # ------------------------------------------------------------------ building

    @property
    def rebuilding(self) -> bool:
        return self._build_lock.locked()

    def rebuild(self, progress: ProgressFn | None = None, *, wait: float = 0.0) -> BuildReport:
        """Update the index from the documents folder; BusyError when one is still running
        after `wait` seconds."""
        return self._build(progress, wait=wait)

    def _build(self, progress: ProgressFn | None, *, wait: float = 0.0) -> BuildReport:
        if not self._build_lock.acquire(timeout=wait if wait > 0 else -1, blocking=wait > 0):
            raise BusyError(BUSY)
        self._stage = "checking the documents"
        try:
            report = build_index(
                self.settings, embedder_factory=self._factory, progress=self._tee(progress)
            )
            with self._swap_lock:
                # The live build may be another process's, even when this one had nothing to do.
                if live_build_name(self.settings.index) != self._loaded_build():
                    self._install(load(self.settings.index))
            self._problem = None
            return report
        finally:
            self._stage = ""
            self._build_lock.release()

    def _tee(self, progress: ProgressFn | None) -> ProgressFn:
        def note(stage: str, done: int, total: int) -> None:
            if self._closing.is_set():
                raise BuildCancelledError(CANCELLED)
            self._stage = f"{stage} {done}/{total}" if total else stage
            if progress is not None:
                progress(stage, done, total)

        return note

    def _install(self, index: Index) -> None:
        check_model(index, self.settings)
        if self._engine is None:
            self._engine = Engine(self.settings, index, embedder_factory=self._factory)
        else:
            self._engine.swap(index)

    # ------------------------------------------------------------------ questions

    def ask(
        self,
        question: str,
        *,
        history: Sequence[str] = (),
        sources: Collection[str] | None = None,
    ) -> Answer:
        if not question.strip():
            raise RequestError(EMPTY_QUESTION)
        engine = self._ready_engine()
        chosen = set(sources) if sources else None  # none or empty: every document
        try:
            return engine.ask(question, history=list(history), sources=chosen)
        except UnknownSourceError as exc:
            raise RequestError(str(exc)) from None
        except ModelError as exc:
            raise NotReadyError(str(exc)) from exc

    def _ready_engine(self) -> Engine:
        engine = self._engine
        if engine is not None:
            return engine
        if self.starting:
            raise NotReadyError(f"qa is starting ({self._stage}); try again in a moment.")
        if self.rebuilding:
            raise NotReadyError(f"The index is being built ({self._stage}); try again soon.")
        raise NotReadyError(NO_INDEX)

    def locate(self, place: Place) -> str:
        """'lines a-b' (or 'page n') of a place in an indexed document."""
        return locate(self.index, place)

    def view(self, source: str, start: int, end: int, *, digest: str | None) -> DocumentView:
        """An indexed document and where a cited passage sits in it (see view.document_view)."""
        return document_view(self._ready_engine().index, source, start, end, digest=digest)

    def answerable(self, questions: Sequence[str]) -> list[str]:
        """Those of `questions` the current index answers (the page's examples must not send a
        newcomer with their own documents to "I couldn't find this"); kept per index."""
        engine = self._engine
        if engine is None:
            return []
        index = engine.index
        known = self._answerable
        if known is None or known[0] is not index or known[1] != tuple(questions):
            try:
                found = [q for q in questions if not engine.ask(q).abstained]
            except ModelError:
                return []  # the page's status says why; the examples come back with the model
            known = self._answerable = (index, tuple(questions), found)
        return list(known[2])

    # ------------------------------------------------------------------ documents

    @property
    def index(self) -> Index | None:
        engine = self._engine
        return engine.index if engine is not None else None

    def sources(self) -> list[str]:
        index = self.index
        return [d.source for d in index.documents] if index is not None else []

    def upload(self, files: Sequence[Incoming]) -> UploadResult:
        docs, limits = self.settings.docs, Limits.from_settings(self.settings)
        largest = self.settings.max_upload_mb * MIB
        with self._docs_lock:
            docs.mkdir(parents=True, exist_ok=True)
            return save_uploads(docs, files, max_bytes=largest, limits=limits)

    def delete(self, source: str) -> Path:
        """Where the document went (see folder.TRASH)."""
        with self._docs_lock:
            allowed = {row.source for row in self.documents() if row.state != "deleted"}
            return delete_document(self.settings.docs, source, allowed=allowed)

    def trashed(self) -> list[Trashed]:
        return trashed(self.settings.docs)

    def restore(self, key: str) -> str:
        """Put a deleted document back (see folder.restore_document); its source."""
        with self._docs_lock:
            return restore_document(self.settings.docs, key)

    def documents(self) -> list[DocumentRow]:
        """Indexed documents, plus files added, changed or removed since the last build."""
        return document_rows(self.index, self.settings.docs)

    # ------------------------------------------------------------------ status

    def status(self) -> dict[str, Any]:
        problem = self._problem or self._model_problem
        return status_json(self.index, self._state(), stage=self._stage, problem=problem)

    @property
    def starting(self) -> bool:
        return self._thread is not None and not self._started.is_set()

    def _state(self) -> str:
        if self.starting:
            return "starting"
        if self.rebuilding:
            return "rebuilding" if self._engine is not None else "building"
        return "ready" if self._engine is not None else "no index"


def _close_at_exit(service: weakref.ref[Service]) -> None:
    alive = service()
    if alive is not None:
        alive.close()
