"""Find the files in the documents folder, and hash them.

Only finding: which files a folder holds, in a stable order; reading them is qa.ingest.documents.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from qa.errors import DocsFolderError
from qa.ingest.documents import TYPES_IN_WORDS

__all__ = ["check_folder", "discover", "hash_file"]

_CHUNK = 1 << 20
_MISSING_FOLDER = (
    "Documents folder {docs_dir} does not exist. Create it and put "
    + TYPES_IN_WORDS
    + " files in it, or pass --docs DIR."
)


def discover(docs_dir: Path) -> list[Path]:
    """Every file below docs_dir (subfolders included), sorted by relative POSIX path.

    Hidden names are ignored; symlinks are followed only when their target stays inside docs_dir,
    and each real folder is walked once, so link loops terminate.
    """
    check_folder(docs_dir)
    files = _Walk(docs_dir).run()
    return sorted(files, key=lambda path: path.relative_to(docs_dir).as_posix())


def check_folder(docs_dir: Path) -> None:
    """DocsFolderError, saying what to do, unless docs_dir is a folder."""
    if not docs_dir.is_dir():
        raise DocsFolderError(_MISSING_FOLDER.format(docs_dir=docs_dir))


class _Walk:
    """One discover() walk.

    Linked folders wait until every real folder has been walked: a link pointing into the tree then
    finds its target already seen, so files keep their real path instead of the link's path.
    """

    def __init__(self, root: Path) -> None:
        self.root_real = Path(os.path.realpath(root))
        self.seen: set[Path] = {self.root_real}
        self.files: list[Path] = []
        self.folders: list[Path] = [root]
        self.links: list[Path] = []

    def run(self) -> list[Path]:
        while self.folders or self.links:
            if self.folders:
                self._scan(self.folders.pop())
                continue
            link = self.links.pop()
            real = Path(os.path.realpath(link))
            if real not in self.seen:
                self.seen.add(real)
                self.folders.append(link)
        return self.files

    def _scan(self, folder: Path) -> None:
        try:
            with os.scandir(folder) as scan:
                entries = list(scan)
        except OSError:
            return  # an unreadable subfolder holds nothing we could index anyway
        for entry in entries:
            if not entry.name.startswith("."):
                self._add(entry, folder / entry.name)

    def _add(self, entry: os.DirEntry[str], path: Path) -> None:
        try:
            if entry.is_symlink():
                self._add_link(entry, path)
            elif entry.is_dir(follow_symlinks=False):
                self.seen.add(Path(os.path.realpath(path)))
                self.folders.append(path)
            elif entry.is_file(follow_symlinks=False):
                self.files.append(path)
        except OSError:
            return  # e.g. ELOOP from a link cycle, or the entry vanished while walking

    def _add_link(self, entry: os.DirEntry[str], path: Path) -> None:
        # realpath (not Path.resolve) because it does not raise on link cycles in Python 3.11.
        if not Path(os.path.realpath(path)).is_relative_to(self.root_real):
            return
        if entry.is_dir():
            self.links.append(path)
        elif entry.is_file():
            self.files.append(path)


def hash_file(path: Path) -> str:
    """Hex sha256 of the file, read in 1 MiB chunks so big files are not held in memory.

    OSError propagates: the caller decides whether an unhashable file is skipped or fatal.
    """
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
