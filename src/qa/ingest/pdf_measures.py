"""What a PDF's lines are like, for laying them out (qa.ingest.pdf_layout): the line spacing of
each type size, each page's usual line length, and the words the document uses, which decide
whether a hyphen at a line end is part of the word."""

from __future__ import annotations

import re
from collections import Counter
from itertools import pairwise

from qa.ingest.pdf_lines import Line

__all__ = ["Measures"]

_SHORT = 0.8  # a line this much of the page's usual length, the next word included, is short
_WORDS = re.compile(r"\w+(?:-\w+)*")
_LAST_WORD = re.compile(r"(\w+(?:-\w+)*)[-\u2010\u00ad]$")
_FIRST_WORD = re.compile(r"\w+")


class Measures:
    """What the document's lines are like: the line spacing of each type size, each page's
    usual line length, and the words it uses."""

    def __init__(self, pages: list[list[Line]]) -> None:
        self.spacing = _line_spacings(pages)
        self.lengths = [_usual_length(lines) for lines in pages]
        known = sorted(length for length in self.lengths if length)
        self.usual = known[len(known) // 2] if known else 0.0
        self.words: Counter[str] = Counter()
        self.cut: Counter[str] = Counter()  # the halves of words hyphenated at a line end
        for lines in pages:
            for line in lines:
                for word in _WORDS.findall(line.text.lower()):
                    self.words[word] += 1
                    if "-" in word:  # its parts are words too: "dependent" in "compiler-dependent"
                        self.words.update(word.split("-"))
            for before, line in pairwise(lines):
                left, right = _LAST_WORD.search(before.text), _FIRST_WORD.match(line.text)
                if left and right:
                    self.cut.update((left.group(1).lower(), right.group(0).lower()))

    def line_spacing(self, size: float) -> float:
        return self.spacing.get(size, 1.2 * size)

    def short(self, page: int, line: Line, after: Line) -> bool:
        """Whether the next line's first word would have fitted on `line`: it was cut short."""
        usual = self.lengths[page] or self.usual
        word = after.text.split(" ", 1)[0]
        return usual > 0 and len(line.text) + 1 + len(word) < _SHORT * usual

    def hyphen(self, before: str, after: str) -> bool | None:
        """Whether to keep the hyphen `before` ends in, `after` going on: None when no word
        goes on (a space then). A soft hyphen goes; a hyphen stays in a compound the document
        writes elsewhere ("command-line"), goes where it writes the word whole ("ELE-" +
        "MENT"), and otherwise stays in a name or number ("UTF-8", "Springer-Verlag") or between
        two words ("machine-dependent") and goes from a word ("Con-ditional")."""
        left, right = _LAST_WORD.search(before), _FIRST_WORD.match(after)
        if before.endswith("\u00ad"):
            return False
        if left is None or right is None:
            return None
        first, second = left.group(1), right.group(0)
        if "-" in first or self.words[f"{first}-{second}".lower()]:
            return True  # TeX breaks a word with a hyphen in it only there ("cut-and-paste")
        if self._word(first + second):
            return False
        if not (first[-1].isalpha() and second[0].isalpha()) or first.isupper():
            return True
        return second[0].isupper() or (self._word(first) and self._word(second))

    def _word(self, word: str) -> bool:
        """Whether the document has `word` other than as half of a word cut at a line end."""
        word = word.lower()
        return self.words[word] > self.cut[word]


def _line_spacings(pages: list[list[Line]]) -> dict[float, float]:
    """The usual distance between the baselines of a paragraph's lines, per type size: a low
    quantile of the distances seen, as most lines follow one of their own paragraph."""
    gaps: dict[float, list[float]] = {}
    for lines in pages:
        for before, line in pairwise(lines):
            if before.y is None or line.y is None or before.size != line.size:
                continue
            if 0 < before.y - line.y < 2.5 * line.size:
                gaps.setdefault(line.size, []).append(before.y - line.y)
    return {size: sorted(found)[int(len(found) * 0.4)] for size, found in gaps.items()}


def _usual_length(lines: list[Line]) -> float:
    """A page's full line, in characters: most lines of a paragraph are full, so a high
    quantile of the lengths; 0 when the page has too few lines to tell."""
    prose = sorted(len(line.text) for line in lines if not line.mono)
    return prose[int(len(prose) * 0.9)] if len(prose) >= 8 else 0.0
