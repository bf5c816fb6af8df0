"""qa: question answering over a folder of documents, every answer quoting and citing its passages.

>>> from qa import ask
>>> answer = ask("Who directed The Battle at Lake Changjin?")
>>> answer.answer, [p.citation for p in answer.passages]
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qa.query.answer import Answer
    from qa.query.engine import Engine
    from qa.settings import Settings

__version__ = "0.1.0"
__all__ = ["ask"]

_engines: dict[object, Engine] = {}
_lock = threading.Lock()


def _engine_for(settings: Settings | None) -> Engine:
    """The engine for these settings (default: from QA_* variables), opened once per process."""
    from qa.query.engine import Engine
    from qa.settings import Settings

    settings = settings or Settings.from_env()
    with _lock:
        if settings not in _engines:
            _engines[settings] = Engine.open(settings)
        return _engines[settings]


def ask(
    question: str,
    *,
    history: Sequence[str] = (),
    sources: Collection[str] | None = None,
    settings: Settings | None = None,
) -> Answer:
    """Answer from the index, with cited passages; `sources` limits the search to those files."""
    return _engine_for(settings).ask(question, history=history, sources=sources)
