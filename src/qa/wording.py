"""Numbers and times in messages, as a reader expects them: "1 document", "line 5",
"2026-12-02 07:28 UTC"."""

from __future__ import annotations


def counted(count: int, noun: str, plural: str | None = None) -> str:
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def line_range(first: int, last: int) -> str:
    return f"line {first}" if first == last else f"lines {first}-{last}"


def human_time(iso: str | None) -> str:
    """ "2025-11-22T02:44:10+00:00" -> "2025-11-22 02:44 UTC"."""
    if not iso:
        return ""
    day, _, clock = iso.partition("T")
    return f"{day} {clock[:5]} UTC" if clock.endswith("+00:00") else iso
