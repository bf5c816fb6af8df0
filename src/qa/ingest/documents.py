"""First pipeline stage: find the files in the documents folder and extract their text.

Every later stage stores character offsets into `Document.text`, so the text produced here is the
single reference: it is newline-normalised once, here, and never re-derived elsewhere.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import re
import warnings
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, XMLParsedAsHTMLWarning
from bs4.dammit import EncodingDetector
from bs4.element import NavigableString, PageElement, PreformattedString, Tag

from qa.errors import DocsFolderError, DocumentError
from qa.ingest.limits import DEFAULT_LIMITS, Limits

__all__ = [
    "SUPPORTED_SUFFIXES",
    "TYPES_IN_WORDS",
    "Document",
    "Skipped",
    "check_folder",
    "discover",
    "hash_file",
    "read_document",
]

# bs4 warns when markup looks like a file name or like XML; for a document folder both are normal
# content, and the warnings would only end up as noise in the CLI output.
warnings.filterwarnings("ignore", category=MarkupResemblesLocatorWarning)
warnings.filterwarnings("ignore", category=XMLParsedAsHTMLWarning)

_CHUNK = 1 << 20
TYPES_IN_WORDS = ".txt, .md, .html, .pdf or .docx"  # what the messages ask for
_MISSING_FOLDER = (
    "Documents folder {docs_dir} does not exist. Create it and put "
    + TYPES_IN_WORDS
    + " files in it, or pass --docs DIR."
)


@dataclass(frozen=True)
class Document:
    source: str
    # repr=False: a 50 MB text in a log line or a pytest failure is useless and slow.
    text: str = field(repr=False)
    sha256: str
    size: int
    pages: tuple[int, ...] = ()
    warning: str | None = None

    def page_at(self, offset: int) -> int | None:
        """1-based page holding `offset` (len(text) allowed: end offsets); None when not a PDF."""
        if not 0 <= offset <= len(self.text):
            raise ValueError(f"offset {offset} outside text of {self.source} (0..{len(self.text)})")
        if not self.pages:
            return None
        return bisect_right(self.pages, offset)


@dataclass(frozen=True)
class Skipped:
    source: str
    reason: str


@dataclass(frozen=True)
class _Extracted:
    text: str
    pages: tuple[int, ...] = ()
    warning: str | None = None


# --------------------------------------------------------------------------- discovery


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


# --------------------------------------------------------------------------- reading


def hash_file(path: Path) -> str:
    """Hex sha256 of the file, read in 1 MiB chunks so big files are not held in memory.

    OSError propagates: the caller decides whether an unhashable file is skipped or fatal.
    """
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def read_document(path: Path, *, root: Path, limits: Limits = DEFAULT_LIMITS) -> Document:
    """Read `path` and extract its text; DocumentError(reason) means: skip it with that reason.

    In this process the limits on bytes hold, but memory and time are bounded only in a reader
    process (qa.ingest.sandbox, which builds and uploads go through).
    """
    if path.suffix.lower() not in _EXTRACTORS:
        raise DocumentError(unsupported_type(path))
    return _document_from(path, root=root, data=_read_capped(path, limits), limits=limits)


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


def _document_from(path: Path, *, root: Path, data: bytes, limits: Limits) -> Document:
    """The Document of `path`, whose bytes are `data`."""
    extract = _EXTRACTORS.get(path.suffix.lower())
    if extract is None:
        raise DocumentError(unsupported_type(path))
    if not data or data.isspace():
        raise DocumentError("empty file")
    extracted = extract(data, limits)
    return Document(
        source=_source(path, root),
        text=extracted.text,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        pages=extracted.pages,
        warning=extracted.warning,
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


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


# --------------------------------------------------------------------------- plain text

# Longest BOM first: the UTF-32-LE BOM starts with the UTF-16-LE one.
_BOMS: tuple[tuple[bytes, str, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)


def _plain(data: bytes, limits: Limits) -> _Extracted:
    text, warning = _decode(data)
    if not text or text.isspace():
        raise DocumentError("empty file")
    return _Extracted(_normalise_newlines(text), warning=warning)


def _decode(data: bytes) -> tuple[str, str | None]:
    """Text and optional warning: UTF-8 (BOM stripped), else BOM-marked UTF-16/32, else cp1252."""
    for bom, codec, label in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec), f"not UTF-8; decoded as {label}"
            except UnicodeDecodeError as exc:
                raise DocumentError(f"invalid {label} text") from exc
    if b"\x00" in data:
        raise DocumentError("binary file")
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        pass
    # Legacy 8-bit text is far more often cp1252 than anything else; latin-1 cannot fail, so it
    # catches the five bytes cp1252 leaves undefined.
    for codec in ("cp1252", "latin-1"):
        try:
            return data.decode(codec), f"not UTF-8; decoded as {codec}"
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes every byte string")  # pragma: no cover


# --------------------------------------------------------------------------- HTML

# Elements whose content a reader never sees as page text.
_INVISIBLE = frozenset(
    {"script", "style", "noscript", "template", "title", "svg", "iframe", "object", "embed",
     "audio", "video", "canvas"}
)  # fmt: skip
# Blank line around: the chunker treats these as paragraphs.
_PARAGRAPHS = frozenset(
    {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "main", "header",
     "footer", "nav", "aside", "blockquote", "pre", "table", "ul", "ol", "dl", "figure", "form",
     "fieldset", "address", "hr", "details", "body"}
)  # fmt: skip
# Own line, but part of the surrounding paragraph (list items, rows).
_LINES = frozenset(
    {"li", "tr", "dt", "dd", "caption", "figcaption", "option", "summary", "legend", "thead",
     "tbody", "tfoot"}
)  # fmt: skip
_CELLS = frozenset({"td", "th"})
_DISPLAY_NONE = re.compile(r"display\s*:\s*none", re.IGNORECASE)


# bs4's tree costs 0.6 to 1 KB per tag (measured: a page of 2.5 million tags took 3 GB); a page
# whose tags alone surely need more than the memory limit is refused before it is parsed.
_BYTES_PER_TAG = 512


def _html(data: bytes, limits: Limits) -> _Extracted:
    if b"\x00" in data and not any(data.startswith(bom) for bom, _, _ in _BOMS):
        raise DocumentError("binary file")
    tags = data.count(b"<")
    limits.check_memory_estimate(tags * _BYTES_PER_TAG, f"{tags:,} tags")
    markup, warning = _html_decode(data)
    text = _visible_text(BeautifulSoup(markup, "html.parser"))
    if not text:
        raise DocumentError("HTML has no visible text")
    return _Extracted(text, warning=warning)


def _html_decode(data: bytes) -> tuple[str, str | None]:
    """A BOM, else the page's own <meta charset>, else as plain text files (UTF-8, else cp1252).

    Never a statistical guess: bs4's guesser (charset-normalizer) read a short cp1252 page as
    Chinese. A declaration that fails to decode is treated as absent.
    """
    declared = EncodingDetector.find_declared_encoding(data, is_html=True)
    has_bom = any(data.startswith(bom) for bom, _, _ in _BOMS)
    if declared and not has_bom and not data.startswith(codecs.BOM_UTF8):
        try:
            # As browsers do (WHATWG Encoding): a page labelled Latin-1 is read as cp1252.
            return data.decode(_LATIN_1_AS.get(codecs.lookup(declared).name, declared)), None
        except (LookupError, UnicodeDecodeError):
            pass
    return _decode(data)


_LATIN_1_AS = {"iso8859-1": "cp1252"}


@dataclass(frozen=True)
class _End:
    """Marks the end of an element on the explicit traversal stack."""

    name: str


def _visible_text(soup: BeautifulSoup) -> str:
    # An explicit stack, not recursion: deeply nested markup must not hit the recursion limit.
    out = _TextBuilder()
    stack: list[PageElement | _End] = [soup]
    while stack:
        node = stack.pop()
        if isinstance(node, _End):
            out.close(node.name)
        elif isinstance(node, Tag):
            if _hidden(node):
                continue
            out.open(node.name)
            stack.append(_End(node.name))
            stack.extend(reversed(node.contents))
        elif isinstance(node, NavigableString) and not isinstance(node, PreformattedString):
            out.add(str(node))  # comments, doctypes, CDATA are PreformattedString
    return out.finish()


def _hidden(tag: Tag) -> bool:
    if tag.name in _INVISIBLE or tag.has_attr("hidden"):
        return True
    style = tag.get("style")
    return isinstance(style, str) and _DISPLAY_NONE.search(style) is not None


class _TextBuilder:
    """Lines of visible text; breaks between lines are decided lazily so none trail or double up."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._line: list[str] = []
        self._pending = 0  # newlines owed before the next emitted line: 0, 1 or 2
        self._pre_depth = 0

    def open(self, name: str) -> None:
        if name == "br":
            self._br()
        elif name in _PARAGRAPHS:
            self._break(2)
        elif name in _LINES:
            self._break(1)
        elif name in _CELLS:
            self._line.append(" ")
        if name == "pre":
            self._pre_depth += 1

    def close(self, name: str) -> None:
        if name in _PARAGRAPHS:
            self._break(2)
        elif name in _LINES:
            self._break(1)
        elif name in _CELLS:
            self._line.append(" ")
        if name == "pre":
            self._pre_depth -= 1

    def add(self, text: str) -> None:
        self._line.append(_normalise_newlines(text))

    def finish(self) -> str:
        self._break(0)
        return "".join(self._parts)

    def _br(self) -> None:
        # <br><br> is how many pages write a paragraph break.
        if self._flush():
            self._pending = 1
        elif self._parts:
            self._pending = min(self._pending + 1, 2)

    def _break(self, newlines: int) -> None:
        if self._flush():
            self._pending = newlines
        else:
            self._pending = max(self._pending, newlines)

    def _flush(self) -> bool:
        raw = "".join(self._line)
        self._line.clear()
        line = _pre_block(raw) if self._pre_depth else " ".join(raw.split())
        if not line:
            return False
        if self._parts:
            self._parts.append("\n" * self._pending)
        self._parts.append(line)
        return True


def _pre_block(raw: str) -> str:
    """Preformatted text verbatim, minus blank edge lines (the newline after <pre> is markup)."""
    lines = raw.split("\n")
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return "\n".join(lines[start:end])


# --------------------------------------------------------------------------- PDF, Word


def _pdf(data: bytes, limits: Limits) -> _Extracted:
    from qa.ingest.pdf import pdf_text

    found = pdf_text(data, limits)
    return _Extracted(found.text, found.pages, found.warning)


def _docx(data: bytes, limits: Limits) -> _Extracted:
    from qa.ingest.docx import docx_text  # python-docx loads in 0.14 s: only when a .docx is read

    return _Extracted(docx_text(data, limits))


_EXTRACTORS: dict[str, Callable[[bytes, Limits], _Extracted]] = {
    ".txt": _plain,
    ".md": _plain,
    ".html": _html,
    ".htm": _html,
    ".pdf": _pdf,
    ".docx": _docx,
}
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(_EXTRACTORS)
