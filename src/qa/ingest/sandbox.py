"""Reading documents within their limits: in a reader process with a memory limit, killed when
it runs past the time limit.

The parsers (pypdf, python-docx/lxml, bs4) can be made to use gigabytes and minutes by a small
hostile file, and no check before parsing catches every way. So they run in a child process
whose address space is capped (RLIMIT_AS: an allocation past it fails with MemoryError instead
of growing the machine's memory) and which the parent kills when a document takes longer than
the time limit. One child serves a whole build, one document at a time, and is replaced after
it is killed or runs out of memory. Small plain-text files, whose cost is bounded by their
size, are read in this process and start no child at all.

The protocol is plain bytes, no pickle: a JSON line per request; per reply a JSON header line,
then the text as UTF-8. Before its reply, a child reading pages by OCR sends a line per page
({"ocr": [done, total]}): the parent passes it on as progress and gives the document
QA_OCR_SECONDS more for the next page (OCR takes seconds a page; the rest of reading a document is
held to QA_EXTRACT_SECONDS as before). The child is started with subprocess (fork+exec, safe while
the web server's threads run), never with fork alone.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from qa.errors import DocumentError, QaError, SetupError
from qa.ingest.blocks import blocks_from_rows
from qa.ingest.documents import SUPPORTED_SUFFIXES, Document, read_document, unsupported_type
from qa.ingest.limits import MIB, Limits
from qa.ingest.text import OnPage

# Plain text up to this size is read in this process: decoding costs at most a few times its
# size, and a child would cost ~0.3 s to start.
IN_PROCESS_BYTES = 4 * MIB
# Not Markdown: its parser's cost is not bounded by the size (1 MB of list items took 16 s and
# 550 MB in markdown-it, measured).
_PLAIN = frozenset({".txt"})
_START_SECONDS = 60.0  # importing the parsers, on a busy machine
_HEADER_MAX = 16 * MIB  # a reply's JSON line (page offsets of a huge PDF fit many times over)
_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from qa.ingest.reader_process import serve; serve()"
)


class Reader:
    """Reads documents within `limits`; use it as a context manager (the child is stopped at
    the end)."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._child: _Child | None = None

    def read(self, path: Path, *, root: Path, on_page: OnPage | None = None) -> Document:
        """The document; DocumentError(reason) means: skip it with that reason. `on_page` hears
        of each page read by OCR."""
        suffix = path.suffix.lower()
        if suffix not in SUPPORTED_SUFFIXES:
            raise DocumentError(unsupported_type(path))
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise DocumentError(f"cannot read: {exc.strerror or exc}") from exc
        self.limits.check_size(size)
        if suffix in _PLAIN and size <= IN_PROCESS_BYTES:
            return read_document(path, root=root, limits=self.limits, on_page=on_page)
        # A child that ended while idle (killed from outside) is replaced, not blamed on a file.
        if self._child is None or not self._child.alive():
            self._child = _Child.start(self.limits.memory_bytes)
        try:
            return self._child.read(path, root, self.limits, on_page)
        except _ChildGone:
            self._child = None  # the next document gets a new one
            raise

    def close(self) -> None:
        if self._child is not None:
            self._child.stop()
            self._child = None

    def __enter__(self) -> Reader:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class _ChildGone(DocumentError):
    """The document is skipped and the child is gone: killed, out of memory, or crashed."""


class _Child:
    """The parent's handle on one reader process."""

    def __init__(self, proc: subprocess.Popen[bytes], log: IO[bytes]) -> None:
        self._proc = proc
        self._log = log
        assert proc.stdin is not None and proc.stdout is not None
        self._stdin, self._stdout = proc.stdin, proc.stdout.fileno()
        self._busy = False  # a request is out: stopping now must not wait for the reply
        self._ocr_page = 0  # the page being read by OCR now (1-based), 0 when none
        self._pending = bytearray()  # what the child sent after the message last received

    @classmethod
    def start(cls, memory_bytes: int) -> _Child:
        # The folder holding this qa package (src/), so the child runs this very code and not
        # another qa its interpreter can import (an editable install of another checkout).
        package_parent = str(Path(__file__).resolve().parents[2])
        # The child's stderr, for the message if it dies; closed by _end.
        log = tempfile.TemporaryFile()  # noqa: SIM115
        # -I: no PYTHON* variables, no user site, no current folder on the path.
        args = [sys.executable, "-I", "-c", _BOOT, package_parent, str(memory_bytes)]
        try:
            proc = subprocess.Popen(
                args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, bufsize=0
            )
        except OSError as exc:
            log.close()
            raise QaError(
                f"Cannot start the document reader process {sys.executable}: {exc.strerror}."
            ) from None
        child = cls(proc, log)
        try:
            header, _ = child._receive(time.monotonic() + _START_SECONDS)
        except _Silent as exc:
            why = f"{exc}: {child._last_words()}"
            child._end()
            raise QaError(
                f"Cannot start the document reader process ({why}). "
                "Check that QA_EXTRACT_MEMORY_MB leaves room for Python (at least 256)."
            ) from None
        assert header.get("ready") is True
        return child

    def alive(self) -> bool:
        return self._proc.poll() is None

    def read(self, path: Path, root: Path, limits: Limits, on_page: OnPage | None) -> Document:
        request = {"path": str(path), "root": str(root), "limits": limits.as_dict()}
        try:
            self._busy, self._ocr_page = True, 0
            self._stdin.write(json.dumps(request).encode() + b"\n")
            header, body = self._reply(limits, on_page)
            self._busy = False
        except (_Silent, BrokenPipeError) as exc:
            why = self._why(exc, limits)
            self._end()
            raise _ChildGone(why) from None
        if header.get("memory"):
            self._end()  # it exits after saying so: a heap that ran out is not reused
            raise _ChildGone(limits.too_big())
        if "reason" in header:
            raise (SetupError if header.get("retry") else DocumentError)(str(header["reason"]))
        return _document(header, body)

    def _reply(self, limits: Limits, on_page: OnPage | None) -> tuple[dict[str, Any], bytes]:
        """The reply, passing on the pages read by OCR before it; each page gives the document
        QA_OCR_SECONDS more."""
        deadline = time.monotonic() + limits.seconds
        while True:
            header, body = self._receive(deadline)
            progress = header.get("ocr")
            if progress is None:
                return header, body
            try:
                done, total = int(progress[0]), int(progress[1])
            except (TypeError, ValueError, IndexError, KeyError):
                raise _Silent("a progress line that is not one") from None
            self._ocr_page = done + 1 if done < total else 0
            deadline = (
                time.monotonic() + limits.seconds + (limits.ocr.seconds if done < total else 0)
            )
            if on_page is not None:
                on_page(done, total)

    def _why(self, exc: Exception, limits: Limits) -> str:
        if isinstance(exc, _TimedOut):
            return limits.page_too_slow(self._ocr_page) if self._ocr_page else limits.too_slow()
        last = self._last_words()
        if last.startswith("MemoryError"):  # past the limit outside the guarded read
            return limits.too_big()
        how = str(exc) if isinstance(exc, _Silent) else "it stopped reading"
        return f"the reader process failed ({how}: {last})"

    def stop(self) -> None:
        """Let an idle child end on its own; kill one still reading (the build was stopped)."""
        if not self._busy:
            try:
                self._stdin.close()  # the child's loop ends at end of input
                self._proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._end()

    def _end(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()  # this reader process only, which this object started
        self._proc.wait()
        for stream in (self._proc.stdin, self._proc.stdout, self._log):
            if stream is not None:
                stream.close()

    def _receive(self, deadline: float) -> tuple[dict[str, Any], bytes]:
        """One message: its header and its text bytes, or _Silent when none came in time. What
        came after it (the next message, when a child sends several) is kept for the next call."""
        buffer = self._pending
        while b"\n" not in buffer:
            if len(buffer) > _HEADER_MAX:
                raise _Silent("a reply too long to be one")
            buffer += self._chunk(deadline)
        line, _, rest = bytes(buffer).partition(b"\n")
        try:
            header = json.loads(line)
            size = int(header.get("text", 0))
        except (ValueError, TypeError, AttributeError):
            raise _Silent("a reply that is not JSON") from None
        parts, have = [rest], len(rest)
        while have < size:
            parts.append(self._chunk(deadline))
            have += len(parts[-1])
        data = b"".join(parts)
        self._pending = bytearray(data[size:])
        return header, data[:size]

    def _chunk(self, deadline: float) -> bytes:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _TimedOut("no reply in time")
            ready, _, _ = select.select([self._stdout], [], [], left)
            if ready:
                chunk = os.read(self._stdout, 1 << 20)
                if not chunk:
                    self._proc.wait()
                    raise _Silent(_how_it_ended(self._proc.returncode))
                return chunk

    def _last_words(self) -> str:
        """The last line the child wrote to stderr (a traceback's last line says what failed)."""
        self._log.seek(0, os.SEEK_END)
        self._log.seek(max(0, self._log.tell() - 2000))
        lines = self._log.read().decode(errors="replace").strip().splitlines()
        return lines[-1][:200] if lines else "no message"


class _Silent(Exception):
    """No reply: the child ended, or said something that is not a reply."""


class _TimedOut(_Silent):
    pass


def _how_it_ended(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _document(header: dict[str, Any], body: bytes) -> Document:
    return Document(
        source=str(header["source"]),
        text=body.decode("utf-8", "surrogatepass"),
        sha256=str(header["sha256"]),
        size=int(header["size"]),
        pages=tuple(int(p) for p in header["pages"]),
        warning=None if header["warning"] is None else str(header["warning"]),
        blocks=blocks_from_rows(header["blocks"]),
        title=str(header["title"]),
        ocr_pages=tuple(int(p) for p in header["ocr_pages"]),
    )
