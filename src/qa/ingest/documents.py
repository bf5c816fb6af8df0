"""Read one document: a file's bytes to its exact text, by the reader for its type.

Every later stage stores character offsets into `Document.text`, so the text produced here is the
single reference: it is newline-normalised once, here, and never re-derived elsewhere.

To support a new file type, add its reader to `_READERS` at the bottom of this module (or to
`_SCANS` if it may read pages by OCR), and the type to TYPES_IN_WORDS: discovery, builds, uploads
and the web page all take their list from there. Finding files is qa.ingest.discover; the readers
are qa.ingest.text, markdown, html, pdf (scans.py: pages read by OCR), docx and images.
"""

from __future__ import annotations

import hashlib
import os
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from qa.errors import DocumentError
from qa.ingest.blocks import Block
from qa.ingest.html import html_text
from qa.ingest.limits import DEFAULT_LIMITS, Limits
from qa.ingest.text import Extracted, OnPage, plain_text

__all__ = [
    "READERS_VERSION",
    "SUPPORTED_SUFFIXES",
    "TYPES_IN_WORDS",
    "Document",
    "Skipped",
    "read_document",
    "unsupported_type",
]

# Bumped by any reader change that moves text or structure: indexes read by older readers are
# read again (chunking.ChunkParams.as_dict). 2: structure (blocks), Markdown rendered, PDF prose.
# 3: PDF pages without text read by OCR (a scan skipped before is read now).
READERS_VERSION = 3
TYPES_IN_WORDS = ".txt, .md, .html, .pdf, .docx, .png, .jpg or .tif"  # what the messages ask for


@dataclass(frozen=True)
class Document:
    source: str
    # repr=False: a 50 MB text in a log line or a pytest failure is useless and slow.
    text: str = field(repr=False)
    sha256: str
    size: int
    pages: tuple[int, ...] = ()
    warning: str | None = None
    blocks: tuple[Block, ...] = field(default=(), repr=False)  # () when the type has no structure
    title: str = ""  # a title outside the text (HTML <title>): the root of heading paths
    ocr_pages: tuple[int, ...] = ()  # 1-based pages whose text OCR read (scans, images)

    def page_at(self, offset: int) -> int | None:
        """1-based page holding `offset` (len(text) allowed: end offsets); None when the type
        has no pages (a PDF and an image have)."""
        if not 0 <= offset <= len(self.text):
            raise ValueError(f"offset {offset} outside text of {self.source} (0..{len(self.text)})")
        if not self.pages:
            return None
        return bisect_right(self.pages, offset)


@dataclass(frozen=True)
class Skipped:
    source: str
    reason: str
    retry: bool = False  # for want of something (errors.SetupError): the next build tries again


def read_document(
    path: Path, *, root: Path, limits: Limits = DEFAULT_LIMITS, on_page: OnPage | None = None
) -> Document:
    """Read `path` and extract its text; DocumentError(reason) means: skip it with that reason.
    `on_page` hears of each page read by OCR.

    In this process the limits on bytes hold, but memory and time are bounded only in a reader
    process (qa.ingest.sandbox, which builds and uploads go through).
    """
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise DocumentError(unsupported_type(path))
    data = _read_capped(path, limits)
    return _document_from(path, root=root, data=data, limits=limits, on_page=on_page)


def _read_capped(path: Path, limits: Limits) -> bytes:
    """The file's bytes; DocumentError when it cannot be read or is over the size limit (read
    up to one byte past the limit, so a file growing meanwhile cannot make the read unbounded)."""
    try:
        with path.open("rb") as handle:
            limits.check_size(os.fstat(handle.fileno()).st_size)
            data = handle.read(limits.file_bytes + 1)
    except OSError as exc:
        raise DocumentError(_cannot_read(exc)) from exc
    limits.check_size(len(data))
    return data


def _document_from(
    path: Path, *, root: Path, data: bytes, limits: Limits, on_page: OnPage | None
) -> Document:
    """The Document of `path`, whose bytes are `data`."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentError(unsupported_type(path))
    if not data or data.isspace():
        raise DocumentError("empty file")
    scan = _SCANS.get(suffix)
    extracted = scan(data, limits, on_page) if scan else _READERS[suffix](data, limits)
    return Document(
        source=_source(path, root),
        text=extracted.text,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        pages=extracted.pages,
        warning=extracted.warning,
        blocks=extracted.blocks,
        title=extracted.title,
        ocr_pages=extracted.ocr_pages,
    )


def unsupported_type(path: Path) -> str:
    """Why a file of this type is skipped."""
    return f"unsupported type {path.suffix.lower() or '(no extension)'}"


def _source(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        # One side relative, the other absolute: compare them as absolute paths.
        return Path(os.path.abspath(path)).relative_to(os.path.abspath(root)).as_posix()


def _cannot_read(exc: OSError) -> str:
    return f"cannot read: {exc.strerror or exc}"


def _pdf(data: bytes, limits: Limits, on_page: OnPage | None) -> Extracted:
    from qa.ingest.pdf import pdf_text

    return pdf_text(data, limits, on_page)


def _image(data: bytes, limits: Limits, on_page: OnPage | None) -> Extracted:
    from qa.ingest.images import image_text

    return image_text(data, limits, on_page)


def _markdown(data: bytes, limits: Limits) -> Extracted:
    # markdown-it loads in 0.05 s: only when a Markdown file is read.
    from qa.ingest.markdown import markdown_text

    return markdown_text(data, limits)


def _docx(data: bytes, limits: Limits) -> Extracted:
    from qa.ingest.docx import docx_text  # python-docx loads in 0.14 s: only when a .docx is read

    return docx_text(data, limits)


# The one place a file type is added: its suffix and the reader that turns its bytes into text.
_READERS: dict[str, Callable[[bytes, Limits], Extracted]] = {
    ".txt": plain_text,
    ".md": _markdown,
    ".markdown": _markdown,
    ".html": html_text,
    ".htm": html_text,
    ".docx": _docx,
}
# ... and those whose pages may be read by OCR, told of each page as it is read.
_SCANS: dict[str, Callable[[bytes, Limits, OnPage | None], Extracted]] = {
    ".pdf": _pdf,
    ".png": _image,
    ".jpg": _image,
    ".jpeg": _image,
    ".tif": _image,
    ".tiff": _image,
}
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(_READERS) | frozenset(_SCANS)
