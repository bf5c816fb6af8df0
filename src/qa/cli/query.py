"""`qa ask`, `qa chat`, `qa eval` and `qa serve`: the commands that read an index."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import textwrap
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.index.keyword import asked_spans, asked_words
from qa.names import shown
from qa.query.answer import Answer, CitedPassage, Place
from qa.settings import Settings
from qa.wording import counted, line_range

if TYPE_CHECKING:
    from qa.query.engine import Engine

EXIT_OK, EXIT_ERROR = 0, 1


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    ask = commands.add_parser("ask", parents=[common], help="answer a question with citations")
    ask.add_argument("question", help="the question, or - to read one question per line")
    ask.add_argument("--json", action="store_true", help="print one JSON object per question")
    ask.add_argument("--top-k", type=int, help="passages to cite (default 5, QA_TOP_K)")
    ask.add_argument("--source", action="append", help="search only this document (repeatable)")
    ask.add_argument(
        "--history", action="append", default=[], help="an earlier question (repeatable)"
    )
    ask.set_defaults(run=run_ask)
    chat = commands.add_parser(
        "chat", parents=[common], help="ask in a conversation: follow-ups use earlier questions"
    )
    chat.add_argument("--top-k", type=int, help="passages to cite (default 5, QA_TOP_K)")
    chat.add_argument("--source", action="append", help="search only this document (repeatable)")
    chat.set_defaults(run=run_chat)
    evaluate = commands.add_parser("eval", parents=[common], help="measure quality on a JSONL set")
    evaluate.add_argument("file", type=Path, help="one JSON object per line")
    evaluate.add_argument("--json", action="store_true", help="print the metrics as JSON")
    evaluate.add_argument(
        "--thresholds", type=Path, help="JSON of metric -> limit; exit 1 when one is missed"
    )
    evaluate.add_argument(
        "--failures", action="store_true", help="also list the questions missed, one JSON per line"
    )
    evaluate.set_defaults(run=run_eval)
    serve = commands.add_parser("serve", parents=[common], help="start the browser app")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1, QA_HOST)")
    serve.add_argument("--port", type=int, help="port (default 7860, QA_PORT)")
    serve.set_defaults(run=run_serve)


def run_ask(args: argparse.Namespace, settings: Settings) -> int:
    engine = _open(args, settings)
    questions = sys.stdin if args.question == "-" else [args.question]
    history: list[str] = list(args.history)
    for line in questions:
        question = line.rstrip("\n") if args.question == "-" else line
        answer = engine.ask(question, history=history, sources=args.source)
        if args.json:
            print(json.dumps(answer.as_json(), ensure_ascii=False), flush=True)
        else:
            print(render(answer, styled=styled_output(), cut=args.top_k is None))
    return EXIT_OK


NEW_CONVERSATION = "/new"


def run_chat(args: argparse.Namespace, settings: Settings) -> int:
    """A conversation in the terminal: each question is asked with the ones before it, as in
    the page's chat; /new forgets them. Ends at end of input (Ctrl-D)."""
    engine = _open(args, settings)
    interactive = sys.stdin.isatty()
    if interactive:
        with contextlib.suppress(ImportError):  # line editing and recall for input(), where built
            import readline  # noqa: F401
        print(
            f'Questions about {settings.docs}; a follow-up may say "it" or "he". '
            f"{NEW_CONVERSATION} starts a new conversation, Ctrl-D ends.",
            file=sys.stderr,
        )
    history: list[str] = []
    while (line := _read_line("? " if interactive else "")) is not None:
        question = line.strip()
        if question == NEW_CONVERSATION:
            history.clear()
            print("(new conversation)\n", flush=True)
        elif question:
            answer = engine.ask(question, history=history, sources=args.source)
            shown = render(answer, styled=styled_output(), cut=args.top_k is None)
            print(shown + "\n", flush=True)
            history.append(question)
    if interactive:
        print(file=sys.stderr)  # the shell's prompt on a line of its own after Ctrl-D
    return EXIT_OK


def _read_line(prompt: str) -> str | None:
    try:
        return input(prompt)
    except EOFError:
        return None


def _open(args: argparse.Namespace, settings: Settings) -> Engine:
    """The engine for the asking commands, with their options, warning of a stale index;
    a missing --docs folder and unknown --source names are errors before any question."""
    from qa.query.engine import Engine, single_threaded_blas

    _check_docs(args, settings)
    single_threaded_blas()
    settings = settings.with_(top_k=args.top_k) if args.top_k else settings
    engine = Engine.open(settings)
    engine.check_sources(getattr(args, "source", None))
    _warn_if_stale(engine)
    return engine


def _check_docs(args: argparse.Namespace, settings: Settings) -> None:
    """A documents folder named (--docs, QA_DOCS) but missing is a mistake to report: the
    answers would come from an index of other documents, with no word of it. The default
    folder may be absent: asked from elsewhere with --index, there is nothing to compare."""
    from qa.ingest.discover import check_folder

    if args.docs is not None or os.environ.get("QA_DOCS"):
        check_folder(settings.docs)


def _warn_if_stale(engine: Engine) -> None:
    """Answers come from the index as built: say so when the folder has moved on since."""
    from qa.folder.changes import PENDING, document_states, files_on_disk

    docs = engine.settings.docs
    if not docs.is_dir():
        return  # asked from elsewhere with --index only: nothing to compare with
    states = document_states(engine.index, files_on_disk(docs), docs=docs).values()
    pending = Counter(state for state in states if state in PENDING)
    if pending:
        changes = ", ".join(f"{pending[s]} {s}" for s in PENDING if pending[s])
        noun = "document" if pending.total() == 1 else "documents"
        print(
            f"warning: {docs} has changed since the index was built ({changes} {noun}); "
            "answers come from the index as built until `qa index` runs.",
            file=sys.stderr,
        )


def render(answer: Answer, *, styled: bool = False, cut: bool = False) -> str:
    """The answer and numbered citations, for a terminal; `styled`: the question's words in
    the excerpts in bold (ANSI), as the page shows them; `cut`: only the passages quoted and
    those scoring near the best, the others counted."""
    lines = [answer.answer, *(f"Note: {n}" for n in answer.notes)]
    words = asked_words(answer.question) if styled else frozenset()
    shown = shown_passages(answer) if cut else answer.passages
    for p in shown:
        excerpt = [_bold(line, words) for line in _excerpt(p)]
        lines += ["", f"[{p.rank}] {p.citation}  (score {p.score:.3f})", *excerpt]
        lines += _also_in(p.also_in)
    hidden = len(answer.passages) - len(shown)
    if hidden:
        k = len(answer.passages)
        lines += [
            "",
            f"({counted(hidden, 'more passage')} scored lower; --top-k {k} lists all {k}.)",
        ]
    return "\n".join(lines)


SHOWN_WITHIN = 0.2  # score below the best within which an unquoted passage is still shown


def shown_passages(answer: Answer, *, within: float = SHOWN_WITHIN) -> tuple[CitedPassage, ...]:
    """The passages the answer quotes and those scoring within `within` of the best: further
    down, a list under a good answer is passages about something else (bench/passage_cut.py)."""
    if not answer.passages:
        return ()
    best = max(p.score for p in answer.passages)
    return tuple(p for p in answer.passages if p.answer_spans or p.score >= best - within)


def styled_output() -> bool:
    """Bold only for a person at a terminal who has not asked for plain text (NO_COLOR)."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


BOLD, PLAIN = "\x1b[1m", "\x1b[22m"


def _bold(line: str, words: frozenset[str]) -> str:
    out, cursor = [], 0
    for start, end in asked_spans(line, words):
        out += [line[cursor:start], BOLD, line[start:end], PLAIN]
        cursor = end
    return "".join([*out, line[cursor:]])


EXCERPT_LINES = 6
EXCERPT_WIDTH = 96


def _excerpt(passage: CitedPassage) -> list[str]:
    """Six lines of the passage, from the first quoted sentence when the start would hide it."""
    text = passage.text
    if passage.answer_spans:
        quoted = max(min(passage.answer_spans)[0] - passage.start, 0)
        fits = (EXCERPT_LINES - 2) * (EXCERPT_WIDTH - 4)  # room left for the sentence itself
        if len(" ".join(text[:quoted].split())) > fits:
            text = "... " + text[quoted:]
    wrapped = textwrap.wrap(
        " ".join(text.split()), width=EXCERPT_WIDTH, initial_indent="    ", subsequent_indent="    "
    )
    if len(wrapped) > EXCERPT_LINES:
        wrapped = [*wrapped[: EXCERPT_LINES - 1], wrapped[EXCERPT_LINES - 1] + " ..."]
    return wrapped


ALSO_IN_SHOWN = 5  # a passage copied into hundreds of files must not flood the terminal


def _also_in(places: Sequence[Place]) -> list[str]:
    lines = [f"    also in {shown(a.source)}, {line_range(*a.lines)}" for a in places]
    if len(lines) <= ALSO_IN_SHOWN:
        return lines
    hidden = len(lines) - ALSO_IN_SHOWN
    return [*lines[:ALSO_IN_SHOWN], f"    and in {hidden} more places (--json lists them all)"]


def run_eval(args: argparse.Namespace, settings: Settings) -> int:
    from qa.query import evaluate
    from qa.query.engine import Engine, single_threaded_blas

    _check_docs(args, settings)
    single_threaded_blas()
    items = evaluate.read_items(args.file)
    engine = Engine.open(settings)
    _warn_if_stale(engine)
    engine.warm()
    texts = {d.source: d.text for d in engine.index.documents}
    outcomes = evaluate.run(
        items,
        lambda item: engine.ask(item.question, history=item.history, top_k=evaluate.RANKS),
        texts.__getitem__,
    )
    result = evaluate.metrics(outcomes)
    print(json.dumps(result) if args.json else _table(result))
    if args.failures:
        for failure in evaluate.failures(outcomes):
            print(json.dumps(failure, ensure_ascii=False))
    misses = evaluate.below(result, _thresholds(args.thresholds)) if args.thresholds else []
    for miss in misses:
        print(f"below threshold: {miss}", file=sys.stderr)
    return EXIT_ERROR if misses else EXIT_OK


def _thresholds(path: Path) -> dict[str, float]:
    from qa.query.evaluate import EvalFileError

    try:
        loaded: dict[str, float] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EvalFileError(f"Cannot read thresholds from {path}: {exc}") from None
    return loaded


def _table(result: dict[str, Any]) -> str:
    width = max(len(k) for k in result)
    return "\n".join(f"{k:<{width}}  {_cell(v)}" for k, v in result.items())


def _cell(value: Any) -> str:
    return f"{value[0]} - {value[1]}" if isinstance(value, list) else str(value)


def run_serve(args: argparse.Namespace, settings: Settings) -> int:
    from qa.web.app import serve

    settings = settings.with_(host=args.host or settings.host, port=args.port or settings.port)
    serve(settings, host=settings.host, port=settings.port)
    return EXIT_OK
