"""A PDF page's text as its printed lines, each with where it starts on the page and in what type.

pypdf's plain extraction puts a newline where the baseline moves. Its text visitor sees the same
text in pieces, each with the text and transformation matrices in force where the piece starts,
and the pieces join to exactly the text extract_text returns (so a line's text is pypdf's, as
before). A line's left edge is where its first piece starts; its baseline and type size are
those of most of its characters; it is code when every character is set in a fixed-pitch font.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from itertools import islice
from typing import Any

from pypdf import PageObject
from pypdf.generic import ArrayObject, DictionaryObject

__all__ = ["FontKinds", "Line", "page_lines", "wide"]

_Matrix = list[float]
# Font names that mean fixed pitch when a font lists no widths (the standard 14 Courier).
_MONO_NAMES = ("courier", "mono", "consol", "menlo", "typewriter")
_WIDTHS = 512  # glyph widths compared, at most
_WIDE = (("\u2e80", "\u9fff"), ("\uac00", "\ud7af"), ("\uf900", "\uffef"))


@dataclass(frozen=True)
class Line:
    """One printed line: its text (stripped; never empty) and layout. x and y are the left edge and
    baseline in PDF units (y grows upwards); None when unknown (rotated or skewed text)."""

    text: str
    x: float | None
    y: float | None
    size: float  # the type size most of its characters are set in, in PDF units
    mono: bool  # every character is in a fixed-pitch font: a line of code or a terminal


class FontKinds:
    """Whether a font is fixed-pitch, cached for a document: pages share their font objects."""

    def __init__(self) -> None:
        # Keyed by id(); the value keeps the font object alive so that no id is ever reused.
        self._known: dict[int, tuple[object, bool]] = {}

    def mono(self, font: Any) -> bool:
        if not isinstance(font, DictionaryObject):
            return False
        known = self._known.get(id(font))
        if known is None:
            known = (font, _fixed_pitch(font))
            self._known[id(font)] = known
        return known[1]


def _fixed_pitch(font: DictionaryObject) -> bool:
    """A font's own widths decide (every glyph as wide as the others: the FixedPitch flag is
    often left unset, by TeX fonts for one); its name only when it lists none."""
    try:
        widths = [width for width in _widths(font) if width > 0]
    except MemoryError:
        raise
    except Exception:  # a malformed font: pypdf's extraction copes, and it is not code
        widths = []
    if len(widths) >= 2:
        return max(widths) - min(widths) < 1
    return any(part in str(font.get("/BaseFont", "")).lower() for part in _MONO_NAMES)


def _widths(font: DictionaryObject) -> list[float]:
    """Up to _WIDTHS of the font's glyph widths."""
    descendants = font.get("/DescendantFonts")
    if isinstance(descendants, ArrayObject) and descendants:
        return _cid_widths(descendants[0].get_object().get("/W"))
    listed = font.get("/Widths")
    return [] if listed is None else [float(w) for w in islice(listed.get_object(), _WIDTHS)]


def _cid_widths(array: Any) -> list[float]:
    """The widths in a CID font's /W array ([first [w1 w2 ...] first last w ...]), code ranges
    left out: only the widths matter here."""
    out: list[float] = []
    items = list(islice(array.get_object(), _WIDTHS)) if array is not None else []
    index = 0
    while index + 1 < len(items) and len(out) < _WIDTHS:
        second = items[index + 1].get_object()
        if isinstance(second, ArrayObject):
            out.extend(float(w) for w in islice(second, _WIDTHS))
            index += 2
        elif index + 2 < len(items):
            out.append(float(items[index + 2]))
            index += 3
        else:
            break
    return out


@dataclass
class _Piece:
    text: str
    x: float | None
    y: float | None
    size: float
    mono: bool


def page_lines(page: PageObject, fonts: FontKinds) -> list[Line]:
    """The printed lines of the page, in pypdf's reading order."""
    pieces: list[_Piece] = []

    def visit(text: Any, cm: _Matrix, tm: _Matrix, font: Any, size: Any) -> None:
        if isinstance(text, str) and text:
            pieces.append(_piece(text, cm, tm, font, size, fonts))

    text = _newlines(page.extract_text(visitor_text=visit))
    if "".join(piece.text for piece in pieces) != text:  # not so in some pypdf to come: no layout
        pieces = [_Piece(text, None, None, 0.0, False)]
    return _lines(pieces)


def _newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _piece(text: str, cm: _Matrix, tm: _Matrix, font: Any, size: Any, fonts: FontKinds) -> _Piece:
    text = _newlines(text)
    try:
        a, b, c, d, e, f = _times(tm, cm)
        scale = math.hypot(c, d) * abs(float(size))
    except (TypeError, ValueError):
        return _Piece(text, None, None, 0.0, False)
    # Upright text only: rotated or skewed lines keep no position, and so keep their line breaks.
    upright = a > 0 and d > 0 and abs(b) < 1e-3 * a and abs(c) < 1e-3 * d
    return _Piece(text, e if upright else None, f if upright else None, scale, fonts.mono(font))


def _times(m: _Matrix, n: _Matrix) -> tuple[float, ...]:
    """m x n, both PDF matrices [a b c d e f]."""
    a, b, c, d, e, f = (float(v) for v in m[:6])
    p, q, r, s, t, u = (float(v) for v in n[:6])
    return (a * p + b * r, a * q + b * s, c * p + d * r, c * q + d * s,
            e * p + f * r + t, e * q + f * s + u)  # fmt: skip


def _lines(pieces: list[_Piece]) -> list[Line]:
    lines: list[Line] = []
    current: list[_Piece] = []  # the parts of the line being read
    for piece in pieces:
        parts = piece.text.split("\n")
        for number, part in enumerate(parts):
            if number:
                lines.extend(_line(current))
                current = []
            if part:
                # A part after a newline inside a piece has no position of its own.
                known = number == 0
                current.append(
                    _Piece(part, piece.x if known else None, piece.y if known else None,
                           piece.size, piece.mono)
                )  # fmt: skip
    lines.extend(_line(current))
    return lines


def _line(parts: list[_Piece]) -> list[Line]:
    text = "".join(part.text for part in parts).strip()
    if not text:
        return []
    inked = [part for part in parts if part.text.strip()]
    sizes: Counter[float] = Counter()
    for part in inked:
        sizes[round(part.size, 1)] += len(part.text.strip())
    size = sizes.most_common(1)[0][0]
    first = inked[0]
    # The baseline of the line's main type: a superscript first would lift it.
    y = next((part.y for part in inked if round(part.size, 1) == size), first.y)
    x, y = (first.x, y) if first.x is not None and y is not None else (None, None)
    # CJK fonts set every ideograph as wide as the next: fixed pitch, but prose.
    mono = all(part.mono for part in inked) and not any(wide(char) for char in text)
    return [Line(text, x, y, size, mono)]


def wide(char: str) -> bool:
    """A CJK character: ideographs, kana, hangul, full-width forms (no spaces between words)."""
    return any(low <= char <= high for low, high in _WIDE)
