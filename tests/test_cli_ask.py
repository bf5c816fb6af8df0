"""`qa ask` and `qa eval` through the real argument parser, with exact exit codes and output."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeEmbedder

from qa import cli
from qa.answer import NOT_FOUND, Answer, CitedPassage
from qa.build import build_index
from qa.cli_query import render, styled_output
from qa.engine import Engine
from qa.evaluate import wilson
from qa.settings import Settings


@pytest.fixture
def indexed(seeded: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    fake = FakeEmbedder()
    monkeypatch.setattr("qa.engine.load_embedder", lambda settings: fake)
    for name in ("QA_DOCS", "QA_INDEX", "QA_TOP_K"):
        monkeypatch.delenv(name, raising=False)
    build_index(seeded, embedder_factory=lambda: fake)
    return seeded


def run(settings: Settings, *args: str) -> int:
    return cli.main(
        [args[0], "--docs", str(settings.docs), "--index", str(settings.index), *args[1:]]
    )


def test_ask_json_prints_one_object(indexed: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(indexed, "ask", "--json", "Who directed The Battle at Lake Changjin?") == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1
    data = json.loads(out[0])
    assert data["passages"][0]["source"] == "001_e71676ddd8f87f03.txt"
    assert data["passages"][0]["also_in"][0]["source"] == "002_04be3917b46db590.txt"


def test_ask_warns_when_the_documents_changed_since_the_index_was_built(
    indexed: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (indexed.docs / "new.txt").write_text("A new note.\n", encoding="utf-8")
    (indexed.docs / "skipped.xlsx").write_bytes(b"PK")  # never indexable: not a change
    with (indexed.docs / "000_cd573fa89ff91e39.txt").open("a", encoding="utf-8") as edited:
        edited.write("One more line.\n")
    assert run(indexed, "ask", "--json", "Who directed The Battle at Lake Changjin?") == 0
    captured = capsys.readouterr()
    assert captured.err == (
        f"warning: {indexed.docs} has changed since the index was built (1 new, 1 changed "
        "documents); answers come from the index as built until `qa index` runs.\n"
    )
    assert json.loads(captured.out)["passages"][0]["source"] == "001_e71676ddd8f87f03.txt"
    build_index(indexed, embedder_factory=FakeEmbedder)
    (indexed.docs / "002_04be3917b46db590.txt").unlink()
    assert run(indexed, "ask", "Mao") == 0
    assert capsys.readouterr().err == (
        f"warning: {indexed.docs} has changed since the index was built (1 deleted document); "
        "answers come from the index as built until `qa index` runs.\n"
    )
    monkeypatch.chdir(indexed.docs.parent)  # no seeds/ here, and no --docs named
    assert cli.main(["ask", "--index", str(indexed.index), "Mao"]) == 0
    assert capsys.readouterr().err == ""  # no folder to compare with: nothing to say


def test_chat_asks_each_question_with_the_earlier_ones_until_new(
    indexed: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[tuple[str, tuple[str, ...]]] = []
    real_ask = Engine.ask

    def ask(engine: Engine, question: str, **options: Any) -> Answer:
        asked.append((question, tuple(options["history"])))
        return real_ask(engine, question, **options)

    monkeypatch.setattr(Engine, "ask", ask)
    film = "Who directed The Battle at Lake Changjin?"
    lines = [film, "", "  Who wrote the review of it?  ", "/new", "Who wrote it?"]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    assert run(indexed, "chat", "--top-k", "1") == 0
    assert asked == [
        (film, ()),
        ("Who wrote the review of it?", (film,)),
        ("Who wrote it?", ()),
    ]  # blank lines are skipped; /new forgets the conversation
    answers = capsys.readouterr().out.split("\n\n[1] 001_e71676ddd8f87f03.txt, lines 189-193")
    assert answers[0].startswith("The Battle at Lake Changjin, directed by Chen Kaige")
    assert answers[1].endswith(
        "\n\nThe following review was written by Friends of Socialist China co-editor Keith "
        "Bennett. [1]"
    )  # the follow-up found the review's author through the film question
    assert answers[2].endswith(f"\n\n(new conversation)\n\n{NOT_FOUND}\n\n")


def test_ask_reads_questions_from_stdin(
    indexed: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        "sys.stdin", io.StringIO("Who directed The Battle at Lake Changjin?\n\nMao\n")
    )
    assert run(indexed, "ask", "--json", "-") == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["question"] for r in rows] == [
        "Who directed The Battle at Lake Changjin?",
        "",
        "Mao",
    ]
    assert [r["abstained"] for r in rows][:2] == [False, True]


def test_ask_for_a_terminal_numbers_citations(
    indexed: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(indexed, "ask", "--top-k", "2", "Who directed The Battle at Lake Changjin?") == 0
    out = capsys.readouterr().out
    assert "\n[1] 001_e71676ddd8f87f03.txt, lines 189-193  (score " in out
    assert "    also in 002_04be3917b46db590.txt, lines 15-19\n" in out
    assert "\n[3] " not in out


def test_ask_for_a_terminal_shows_the_quoted_sentence_of_a_long_passage() -> None:
    filler = " ".join(f"Sentence number {n} says nothing much at all." for n in range(12))
    text = f"{filler} The gate opens at nine. Later text follows here."
    start = 1000
    quoted = (start + len(filler) + 1, start + len(filler) + 24)
    assert text[quoted[0] - start : quoted[1] - start] == "The gate opens at nine."
    passage = CitedPassage(
        1, "a.txt", start, start + len(text), (4, 4), None, text, "", 0.5, (), (quoted,)
    )
    shown = render(Answer("When?", "The gate opens at nine. [1]", False, (passage,)))
    assert shown.splitlines()[3:] == [
        "    ... The gate opens at nine. Later text follows here.",
    ]
    early = replace(passage, answer_spans=((start, start + 45),))
    lines = render(Answer("?", "x", False, (early,))).splitlines()[3:]
    assert lines[0].startswith("    Sentence number 0 says nothing much at all.")
    assert len(lines) == 6 and lines[-1].endswith(" ...")


def test_ask_for_a_person_at_a_terminal_shows_the_words_asked_in_bold() -> None:
    text = "Gates open early. The gate opens at nine."
    passage = CitedPassage(1, "a.txt", 0, len(text), (1, 1), None, text, "", 0.5, (), ((18, 41),))
    answer = Answer("When does the gate open?", "The gate opens at nine. [1]", False, (passage,))
    assert render(answer, styled=True).splitlines()[3] == (
        "    \x1b[1mGates\x1b[22m \x1b[1mopen\x1b[22m early. The \x1b[1mgate\x1b[22m "
        "\x1b[1mopens\x1b[22m at nine."
    )
    assert render(answer).splitlines()[3] == f"    {text}"  # a pipe or NO_COLOR: plain


def test_bold_only_at_a_terminal_without_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert styled_output() is False  # pytest captures stdout: not a terminal
    monkeypatch.setattr(sys, "stdout", Terminal())
    assert styled_output() is True
    monkeypatch.setenv("NO_COLOR", "1")
    assert styled_output() is False


def test_ask_for_a_terminal_lists_five_copies_and_counts_the_rest(
    settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeEmbedder()
    monkeypatch.setattr("qa.engine.load_embedder", lambda settings: fake)
    for number in range(8):
        (settings.docs / f"office{number}.txt").write_text(
            "Every branch office keeps the visitor log for seven years.\n", encoding="utf-8"
        )
    build_index(settings, embedder_factory=lambda: fake)
    assert run(settings, "ask", "How long does a branch office keep the visitor log?") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-6:] == [
        *(f"    also in office{number}.txt, line 1" for number in range(1, 6)),
        "    and in 2 more places (--json lists them all)",
    ]


def test_empty_question_says_so(indexed: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(indexed, "ask", "  ") == 0
    assert capsys.readouterr().out == "Please type a question.\n"


def test_ask_without_an_index_says_to_build_one(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(settings, "ask", "anything") == 1
    assert capsys.readouterr().err == (
        f"Error: No index found in {settings.index}. "
        "Run `qa index` to build it from your documents.\n"
    )


def test_ask_with_a_damaged_index_says_to_rebuild(
    indexed: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    build = indexed.index / (indexed.index / "CURRENT").read_text().strip()
    (build / "passages.jsonl").write_text("garbage")
    assert run(indexed, "ask", "anything") == 1
    assert capsys.readouterr().err == (
        f"Error: The index file passages.jsonl in {indexed.index} is damaged (checksum "
        "mismatch). Run `qa index` to rebuild it.\n"
    )


def test_eval_reports_metrics_and_fails_below_thresholds(
    indexed: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    items = tmp_path / "set.jsonl"
    items.write_text(
        json.dumps(
            {
                "question": "Who directed The Battle at Lake Changjin?",
                "evidence": "directed by Chen Kaige, Tsui Hark and Dante Lam",
            }
        )
        + "\n"
        + json.dumps({"question": "How do I reverse a linked list in Python?", "answerable": False})
        + "\n"
    )
    limits = tmp_path / "limits.json"
    limits.write_text(json.dumps({"recall@1": 1.0, "abstention_accuracy": 1.0}))
    assert run(indexed, "eval", str(items), "--json", "--thresholds", str(limits)) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["recall@1"], result["answer_hit"], result["abstention_accuracy"]) == (1, 1, 1)
    assert result["recall@1_ci95"] == result["answer_hit_ci95"] == wilson(1, 1) == [0.2065, 1.0]
    assert run(indexed, "ask", "--json", "Who directed The Battle at Lake Changjin?") == 0
    asked = json.loads(capsys.readouterr().out)
    quoted = sum(len(p["answer_spans"]) for p in asked["passages"])
    assert quoted >= 1 and result["sentences_quoted"] == quoted
    limits.write_text(json.dumps({"latency_ms_p50": 0.0}))
    assert run(indexed, "eval", str(items), "--thresholds", str(limits)) == 1
    assert capsys.readouterr().err.startswith("below threshold: latency_ms_p50 = ")


def test_eval_lists_the_questions_it_missed(
    indexed: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    items = tmp_path / "set.jsonl"
    rows = [
        {"question": "Who directed The Battle at Lake Changjin?", "evidence": "Chen Kaige"},
        {"question": "Who directed The Battle at Lake Changjin?", "evidence": "Steven Spielberg"},
    ]
    items.write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert run(indexed, "eval", str(items), "--json", "--failures") == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["recall@1"] == 0.5
    assert json.loads(lines[1]) == {
        "question": "Who directed The Battle at Lake Changjin?",
        "rank": None,
        "answer_hit": False,
        "abstained": False,
        "kind": "",
    }


def test_eval_rejects_a_malformed_line(
    indexed: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    items = tmp_path / "bad.jsonl"
    items.write_text('{"question": "x"}\n')
    assert run(indexed, "eval", str(items)) == 1
    assert capsys.readouterr().err == (
        f"Error: {items}, line 1: expected {{'question': ..., 'evidence': ...}} or "
        "{'question': ..., 'answerable': false}.\n"
    )


@pytest.mark.integration
def test_ask_into_a_closed_pipe_stops_quietly(real_index: Settings) -> None:
    """`qa ask ... | head -1`: the reader may leave before qa writes; no traceback then."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("QA_")},
        "HF_HUB_OFFLINE": "1",
        "QA_CACHE": str(real_index.cache),
    }
    reader, writer = os.pipe()
    os.close(reader)  # gone before qa has loaded anything
    args = ["--docs", str(real_index.docs), "--index", str(real_index.index)]
    done = subprocess.run(
        [sys.executable, "-m", "qa.cli", "ask", *args, "Who directed the film?"],
        stdout=writer, stderr=subprocess.PIPE, env=env, text=True, timeout=300,
    )  # fmt: skip
    os.close(writer)
    assert (done.returncode, done.stderr) == (141, "")


def test_wilson_interval_of_a_share() -> None:
    assert wilson(8, 10) == [0.4902, 0.9433]  # the textbook example
    assert wilson(10, 10) == [0.7225, 1.0]
    assert wilson(0, 5) == [0.0, 0.4345]
    assert wilson(0, 0) == [0.0, 0.0]
