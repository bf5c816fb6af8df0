"""Which file paths an upload event may read: only files Gradio's upload route wrote.

An API client can post any `{"path": ...}` as a file to an upload event. Gradio is meant to
refuse paths outside its upload folder (and does, once the app counts as launched: see
`qa.web.app._mount`); this is the second check, in qa's own handler, so a Gradio that skips its
check cannot make the server copy its own files into the documents folder. A path is accepted
only when Gradio's upload route reported writing it (`Blocks.upload_file_set`) and it is still
a regular file whose every component below the upload folder is a real folder, not a symlink.

Gradio keeps one upload folder for all sessions, named by a keyed hash of the content
(`<folder>/<sha256(secret seed + bytes)>/<name>`): naming another session's upload needs the
server's seed, and what it would add is a document every user can read anyway.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Collection, Sequence
from pathlib import Path

from qa.folder.add import Incoming

NOT_RECEIVED = "not a file uploaded to this server; send the file itself, not a server path"


def received(path: str, *, uploaded: Collection[str], folder: str) -> bool:
    """True when `path` is a file Gradio's upload route wrote into `folder` (`uploaded`, as
    absolute paths), still in place."""
    where = os.path.abspath(path)
    if where not in uploaded:
        return False
    top = os.path.abspath(folder)
    below = os.path.relpath(where, top)
    parts = Path(below).parts
    if below == os.curdir or parts[0] == os.pardir:
        return False
    # Component by component: a symlink anywhere below the folder could point out of it.
    current, mode = os.path.realpath(top), 0
    for part in parts:
        current = os.path.join(current, part)
        try:
            mode = os.lstat(current).st_mode
        except OSError:
            return False
        if stat.S_ISLNK(mode):
            return False
    return stat.S_ISREG(mode)


class Receipts:
    """Sorts the paths an upload event got into files to add and (name, reason) refusals.

    `uploaded` is called at each upload: Gradio adds to its set as files arrive.
    """

    def __init__(self, uploaded: Callable[[], Collection[str]], folder: str) -> None:
        self._uploaded = uploaded
        self.folder = folder

    def sort(self, paths: Sequence[str]) -> tuple[list[Incoming], list[tuple[str, str]]]:
        uploaded = {os.path.abspath(p) for p in tuple(self._uploaded())}
        accepted: list[Incoming] = []
        refused: list[tuple[str, str]] = []
        for path in paths:
            # Gradio keeps each upload as <folder>/<hash>/<name as sent, unsafe characters out>.
            name = Path(path).name
            if received(path, uploaded=uploaded, folder=self.folder):
                accepted.append(Incoming(name, Path(path)))
            else:
                refused.append((name, NOT_RECEIVED))
        return accepted, refused


NONE_RECEIVED = Receipts(lambda: (), "")  # refuses every path (Actions without Gradio)


def gradio_receipts(blocks: object) -> Receipts:
    """Receipts from a gr.Blocks, made when it is (Gradio reads its upload folder, GRADIO_TEMP_DIR,
    then too). A Gradio without `upload_file_set` has no receipts, so every upload is refused
    (and the upload tests fail) rather than trusted."""
    from gradio.utils import get_upload_folder

    return Receipts(lambda: getattr(blocks, "upload_file_set", ()), get_upload_folder())
