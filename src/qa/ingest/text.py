"""Plain text files: bytes to text, whatever the encoding a text editor saved them in.

UTF-8 (BOM or not) is read silently; BOM-marked UTF-16/32 and legacy 8-bit text (cp1252, then
latin-1) are read with a warning, so a user can see a document was decoded by a guess.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass

from qa.errors import DocumentError
from qa.ingest.blocks import Block
from qa.ingest.limits import Limits

__all__ = ["BOMS", "Extracted", "OnPage", "decode", "normalise_newlines", "plain_text"]

# Told (pages done, pages to do) as a reader reads pages by OCR: (0, n) before the first.
OnPage = Callable[[int, int], None]


@dataclass(frozen=True)
class Extracted:
    """What a reader got from a file's bytes: its text, page starts (PDF, image), any warning,
    the structure it found (none for plain text: chunking then judges by blank and short lines),
    and the 1-based numbers of the pages whose text OCR read."""

    text: str
    pages: tuple[int, ...] = ()
    warning: str | None = None
    blocks: tuple[Block, ...] = ()
    title: str = ""  # the document's own title when not part of its text (HTML <title>)
    ocr_pages: tuple[int, ...] = ()


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


# Longest BOM first: the UTF-32-LE BOM starts with the UTF-16-LE one.
BOMS: tuple[tuple[bytes, str, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)


def plain_text(data: bytes, limits: Limits) -> Extracted:
    text, warning = decode(data)
    if not text or text.isspace():
        raise DocumentError("empty file")
    return Extracted(normalise_newlines(text), warning=warning)


def decode(data: bytes) -> tuple[str, str | None]:
    """Text and optional warning: UTF-8 (BOM stripped), else BOM-marked UTF-16/32, else cp1252."""
    for bom, codec, label in BOMS:
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
