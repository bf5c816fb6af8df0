"""The reader process's side of qa.ingest.sandbox: read each requested document within its
limits and reply (the protocol is described there), reporting each page read by OCR first."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from qa.errors import DocumentError, SetupError
from qa.ingest.documents import read_document
from qa.ingest.limits import Limits
from qa.ingest.text import OnPage

__all__ = ["serve"]


def serve() -> None:
    """The reader process: sys.argv[2] is its memory limit in bytes. Replies go to the
    original stdout; anything else printed goes to stderr, so it cannot corrupt a reply."""
    replies = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    import resource

    memory = int(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    replies.write(b'{"ready": true}\n')
    for line in sys.stdin.buffer:
        request = json.loads(line)
        limits = Limits.from_dict(request["limits"])
        # The parent kills a slow read; this ends one whose parent died meanwhile.
        signal.alarm(limits.seconds + 30)

        def on_page(done: int, total: int, limits: Limits = limits) -> None:
            replies.write(json.dumps({"ocr": [done, total]}).encode() + b"\n")
            signal.alarm(limits.seconds + limits.ocr.seconds + 30)

        header, body = _reply(Path(request["path"]), Path(request["root"]), limits, on_page)
        signal.alarm(0)
        header["text"] = len(body)
        replies.write(json.dumps(header).encode() + b"\n" + body)
        if header.get("memory"):
            return


def _reply(path: Path, root: Path, limits: Limits, on_page: OnPage) -> tuple[dict[str, Any], bytes]:
    out_of_memory = False
    try:
        document = read_document(path, root=root, limits=limits, on_page=on_page)
        text = document.text.encode("utf-8", "surrogatepass")
    except DocumentError as exc:
        return {"reason": str(exc), "retry": isinstance(exc, SetupError)}, b""
    except MemoryError:
        out_of_memory = True  # answered below, once the frames holding the memory are gone
    except Exception as exc:  # a parser's bug on odd input: skip the file, keep the build
        return {"reason": f"reading it failed ({type(exc).__name__}: {str(exc)[:120]})"}, b""
    if out_of_memory:
        return {"memory": True}, b""
    header = {
        "source": document.source,
        "sha256": document.sha256,
        "size": document.size,
        "pages": list(document.pages),
        "warning": document.warning,
        "blocks": [block.as_row() for block in document.blocks],
        "ocr_pages": list(document.ocr_pages),
        "title": document.title,
    }
    return header, text
