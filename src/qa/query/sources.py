"""Document names a filter asks for that the index lacks, and the indexed names closest to
them: the message a user sees for a typo in `--source` or the API's `sources`."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

NAMES_SHOWN = 5  # indexed names an unknown-source message offers
NAME_CHARS = 100  # of a name echoed back: a client may send anything
UNKNOWN_SHOWN = 3  # unknown names repeated back, the rest counted
RATIOS_COMPUTED = 200  # exact likeness computed for at most this many names


def unknown_sources_message(unknown: Sequence[str], known: Sequence[str]) -> str:
    """'No document named "x" in the index. Closest of the 3 indexed: a, b, c.'"""
    asked = ", ".join(f'"{_clipped(name)}"' for name in unknown[:UNKNOWN_SHOWN])
    if len(unknown) > UNKNOWN_SHOWN:
        asked += f" and {len(unknown) - UNKNOWN_SHOWN} more"
    noun = "document" if len(unknown) == 1 else "documents"
    if not known:
        return f"No {noun} named {asked}: the index holds no documents."
    closest = ", ".join(closest_names(unknown[0], known, NAMES_SHOWN))
    return f"No {noun} named {asked} in the index. Closest of the {len(known)} indexed: {closest}."


def closest_names(name: str, known: Sequence[str], count: int) -> list[str]:
    """The `count` names of `known` most like `name` (difflib's ratio, case ignored), the
    closest first, ties in `known` order. quick_ratio() bounds ratio() from above, so exact
    ratios are computed only until no remaining name can beat the ones kept, and for at most
    RATIOS_COMPUTED names: a typo must not cost a large index seconds."""
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(name[:NAME_CHARS].lower())  # seq2 is the one difflib analyses once
    bounds = []
    for order, candidate in enumerate(known):
        matcher.set_seq1(candidate.lower())
        bounds.append((-matcher.quick_ratio(), order, candidate))
    bounds.sort()
    kept: list[tuple[float, int, str]] = []
    for bound, order, candidate in bounds[:RATIOS_COMPUTED]:
        if len(kept) >= count and -bound < -kept[count - 1][0]:
            break
        matcher.set_seq1(candidate.lower())
        kept = sorted([*kept, (-matcher.ratio(), order, candidate)])[:count]
    return [candidate for _, _, candidate in kept]


def _clipped(name: str) -> str:
    return name if len(name) <= NAME_CHARS else name[: NAME_CHARS - 1] + "…"
