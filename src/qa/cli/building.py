"""What the commands that build share: a build with progress on stderr, its warnings and its
one-line summary."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from qa.names import shown
from qa.settings import Settings
from qa.wording import counted


def build_reporting(settings: Settings) -> dict[str, Any]:
    """Build or update the index with progress on a terminal; warnings and the summary line
    printed, the report returned."""
    from qa.index.build import build_index

    with _ProgressBar(sys.stderr) as bar:
        report = build_index(settings, progress=bar.update)
    for skipped in report.skipped:
        print(f"warning: skipped {shown(skipped.source)}: {skipped.reason}", file=sys.stderr)
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(_summary(report.as_json(), settings))
    return report.as_json()


def _summary(report: dict[str, Any], settings: Settings) -> str:
    counts = ", ".join(
        f"{len(report[key])} {key}" for key in ("added", "changed", "removed", "skipped")
    )
    state = "updated" if report["built"] else "already up to date"
    # Reading and embedding timed apart: a slow document must not pass for a slow model.
    embedding = max(0.0, report["seconds"] - report["read_seconds"])
    return (
        f"Index {settings.index} {state}: {counted(report['documents'], 'document')}, "
        f"{counted(report['passages'], 'passage')} ({counts}); read in "
        f"{report['read_seconds']:.2f} s, embedded {counted(report['embedded'], 'passage')} "
        f"in {embedding:.2f} s{_waited(report['waited'])}."
    )


def _waited(seconds: float) -> str:
    # Waiting for another build is not this build's cost: said apart, and only when it counts.
    return f" (after waiting {seconds:.1f} s for another build)" if seconds >= 0.1 else ""


class _ProgressBar:
    """A tqdm bar per stage, only on a terminal (logs and pipes stay clean)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._enabled = stream.isatty()
        self._bars: dict[str, Any] = {}

    def update(self, stage: str, done: int, total: int) -> None:
        # A message, not a bar ("Reading big.pdf (40.0 MB)", "Waiting for another build"):
        # one line, terminal or not, since minutes can pass before anything else is printed.
        if total == 0 and not self._enabled:
            print(stage + "…", file=self._stream)
            return
        if not self._enabled:
            return
        from tqdm import tqdm

        if total == 0:
            tqdm.write(stage + "…", file=self._stream)
            return

        bar = self._bars.get(stage)
        if bar is None:
            bar = self._bars[stage] = tqdm(total=total, desc=stage, file=self._stream, unit="")
        bar.update(done - bar.n)

    def __enter__(self) -> _ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        for bar in self._bars.values():
            bar.close()
