"""File names as people read them: a name is data from whoever made the file, so every
human-facing output shows it escaped; JSON and the stores keep the real name.

Two kinds of character make a printed name lie: control characters (a newline forges a second
line of output) and Unicode format characters (U+202E turns `evil\u202etxt.exe.md` into
`evildm.exe.txt` on screen). A name that is not valid UTF-8 reaches Python as lone surrogates
(`os.fsdecode`'s surrogateescape), which no UTF-8 output, JSON file or web page can carry.
"""

from __future__ import annotations

import unicodedata

__all__ = ["NOT_UTF8", "as_json", "shown", "utf8_name"]

NOT_UTF8 = "the file name is not valid UTF-8; rename the file to index it"

# Cc control, Cf format (bidi overrides, zero-width), Cs lone surrogates, Zl/Zp line breaks.
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def utf8_name(name: str) -> bool:
    """False for a name holding bytes that are not UTF-8 (decoded as lone surrogates)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def as_json(name: str) -> str:
    """The real name, unless it holds bytes no JSON text can carry: then as `shown` writes it."""
    return name if utf8_name(name) else shown(name)


def shown(name: str) -> str:
    """`name` with every character that could disguise it escaped, Python-style."""
    if name.isprintable():
        return name  # the common case, checked in C
    return "".join(_escape(char) for char in name)


def _escape(char: str) -> str:
    if char in _SHORT:
        return _SHORT[char]
    if unicodedata.category(char) not in _ESCAPED_CATEGORIES:
        return char
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the original byte
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
