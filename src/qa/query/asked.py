"""What a question asks for, read from its words: a date, a number or a name ("When ...?",
"How many ...?", "Who ...?"), or a definition of a subject ("What is a set?"). Answer choice
prefers sentences that hold it."""

from __future__ import annotations

import re
from collections.abc import Container

from qa.index.keyword import STOPWORDS, stem

__all__ = ["DATE", "NAME", "NUMBER", "answer_type", "defined_subject", "defines", "unknown_names"]

_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
DATE = re.compile(rf"\b(?:{_MONTHS}|1[5-9]\d\d|20\d\d|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:{_MONTHS}))\b")
NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
    r"forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand|million|billion|dozen|half)\b",
    re.IGNORECASE,
)
NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)+")
_LEAD = r"(?:(?:and|so|but|then),? )?"  # a follow-up's opening word
_ASKS_DATE = re.compile(
    rf"^\s*{_LEAD}(?:when|(?:(?:on|in|by|since|until) )?(?:what|which) "
    r"(?:year|date|day|month))(?![\w-])",
    re.I,
)
_ASKS_NUMBER = re.compile(
    r"\b(?:how (?:many|much|often|frequently|long|old|far)|what (?:percentage|share|number|"
    r"proportion|fraction)|which anniversary)\b",
    re.I,
)
_ASKS_NAME = re.compile(rf"^\s*{_LEAD}(?:who|whom|whose)\b", re.I)


def answer_type(question: str) -> re.Pattern[str] | None:
    """What an answer to a when/how many/who question must contain, as a pattern."""
    if _ASKS_DATE.search(question):
        return DATE
    if _ASKS_NUMBER.search(question):
        return NUMBER
    if _ASKS_NAME.search(question):
        return NAME
    return None


_ASKS_DEFINITION = re.compile(
    r"^\s*what(?:'s| is| are| does| do)\s+(?:an?\s+|the\s+)?(?P<subject>[^?]{1,60}?)"
    r"(?:\s+(?:mean|do|stand for))?\s*\??\s*$",
    re.I,
)


def defined_subject(question: str) -> str | None:
    """The subject of "What is X?", "What does X mean?" (lower case); None for other questions."""
    match = _ASKS_DEFINITION.match(question)
    if match is None:
        return None
    subject = match.group("subject").strip().lower()
    return subject if 0 < len(subject.split()) <= 4 else None


def defines(subject: str, sentence: str) -> bool:
    """The sentence says what `subject` is: "A set is ...", "sets are ...", "X means ..."."""
    words = re.escape(subject).replace(r"\ ", r"\s+")
    pattern = rf"\b{words}(?:e?s)?\b[^.;:]{{0,40}}?\b(?:is|are|means|refers to|denotes|specifies)\b"
    return re.search(pattern, sentence, re.I) is not None


_NAME_LIKE = re.compile(r"[A-Za-z][\w'’.-]*\w|[A-Za-z]")
_SENTENCE_OPENERS = '.?!:"“('


def unknown_names(question: str, known: Container[str]) -> list[str]:
    """Names in the question ("MongoDB", "Google", "Paris") that no passage contains, as the
    question writes them: a capitalised word that does not open a sentence, whose stemmed parts
    (stopwords aside) are not all in `known` (the index's keyword vocabulary). A question about
    a thing the documents never name is most likely about something else."""
    out = []
    for match in _NAME_LIKE.finditer(question):
        word = match.group()
        before = question[: match.start()].rstrip()
        if not before or before[-1] in _SENTENCE_OPENERS or word == "I":
            continue
        if not any(c.isupper() for c in word):
            continue
        parts = [p for p in re.split(r"[-.'’]", word.lower()) if p and p not in STOPWORDS]
        if any(stem(p) not in known for p in parts):
            out.append(word)
    return out
