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

from qa.cli import main as cli
from qa.cli.query import render, styled_output
from qa.index.build import build_index
from qa.query.answer import NOT_FOUND, Answer, CitedPassage
from qa.query.engine import Engine
from qa.query.evaluate import wilson
from qa.settings import Settings

# Citations of seed passages: file and the heading path of their section
FILM_REVIEW = '001_e71676ddd8f87f03.txt, section "Film review: The Battle at Lake Changjin"'
ENCIRCLEMENT = (
    '001_e71676ddd8f87f03.txt, section "Videos: China encirclement and the imperialist '
    'build-up in the Pacific"'
)
MAO_ANYING = (
    '001_e71676ddd8f87f03.txt, section "Remembering Mao Anying, son of Mao Zedong who died '
    'fighting US imperialism in Korea"'
)
RIMPAC = (
    '001_e71676ddd8f87f03.txt, section "With RIMPAC, South Korea expands its military footprint"'
)


@pytest.fixture
def indexed(seeded: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    fake = FakeEmbedder()
    monkeypatch.setattr("qa.query.engine.load_embedder", lambda settings: fake)
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
    answers = capsys.readouterr().out.split(f"\n\n[1] {FILM_REVIEW}, lines 189-193")
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
    assert f"\n[1] {FILM_REVIEW}, lines 189-193  (score " in out
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
    monkeypatch.setattr("qa.query.engine.load_embedder", lambda settings: fake)
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


# --------------------------------------------------------------------------- wrong input


FILM = "Who directed The Battle at Lake Changjin?"
MISSING_FOLDER = (
    "Error: Documents folder {docs} does not exist. Create it and put .txt, .md, .html, .pdf, "
    ".docx, .png, .jpg or .tif files in it, or pass --docs DIR.\n"
)


def qa_process(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`qa ARGS` in a process of its own, with no QA_* setting but those given."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    return subprocess.run(
        [sys.executable, "-m", "qa.cli", *args],
        input=stdin, capture_output=True, text=True, timeout=300,
        env={**clean, "HF_HUB_OFFLINE": "1", **(env or {})},
    )  # fmt: skip


def test_a_missing_docs_folder_stops_every_command_that_reads_it(
    indexed: Settings, tmp_path: Path
) -> None:
    """Answers would come from an index of other documents, with no word of it."""
    missing = tmp_path / "no" / "such"
    items = tmp_path / "set.jsonl"
    items.write_text(json.dumps({"question": FILM, "evidence": "Chen Kaige"}) + "\n")
    where = ["--docs", str(missing), "--index", str(indexed.index)]
    expected = (1, "", MISSING_FOLDER.format(docs=missing))
    for command in (["status"], ["ask", FILM], ["chat"], ["eval", str(items)]):
        done = qa_process(command[0], *where, *command[1:], stdin=FILM + "\n")
        assert (done.returncode, done.stdout, done.stderr) == expected, command
    from_env = qa_process("ask", "--index", str(indexed.index), FILM, env={"QA_DOCS": str(missing)})
    assert (from_env.returncode, from_env.stdout, from_env.stderr) == expected


def test_an_unknown_source_is_an_error_naming_the_closest_documents(indexed: Settings) -> None:
    """The same text as the API's 400 (tests/test_web.py); nothing is answered before it."""
    where = ["--docs", str(indexed.docs), "--index", str(indexed.index)]
    typo = ["--source", "001_e71676ddd8f87f03"]
    message = (
        'Error: No document named "001_e71676ddd8f87f03" in the index. Closest of the 3 indexed: '
        "001_e71676ddd8f87f03.txt, 002_04be3917b46db590.txt, 000_cd573fa89ff91e39.txt.\n"
    )
    for args in (["ask", *typo, FILM], ["ask", "--json", *typo, "-"], ["chat", *typo]):
        done = qa_process(*args, *where, stdin=FILM + "\n")
        assert (done.returncode, done.stdout, done.stderr) == (1, "", message), args
    right = ["--source", "001_e71676ddd8f87f03.txt", "--source", "002_04be3917b46db590.txt"]
    assert run(indexed, "ask", "--json", *right, "--source", "notes.txt", FILM) == 1
    assert run(indexed, "ask", "--json", *right, FILM) == 0


# --------------------------------------------------------------------------- answers a user reads


KEEPER_Q = "Where does the lighthouse keeper row the red boat every dawn?"
KEEPER_DOCS = {
    # Every word asked, but each sentence holds few: ranked first, never quoted.
    "a.txt": "The lighthouse keeper sleeps. A lighthouse keeper reads. The red boat is old. "
    "The boat is red. Every dawn is cold. He rows at dawn.\n",
    "b.txt": "Harbour notes for the season. Fishing boats return before noon. The market opens "
    "early on Fridays. The lighthouse keeper rows the red boat to the island every dawn. Nets "
    "are mended in the evening. Gulls follow the boats home.\n",
    "c.txt": "The bakery on the square sells rye bread and cakes on Saturdays.\n",
}


@pytest.fixture
def keeper(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    fake = FakeEmbedder()
    monkeypatch.setattr("qa.query.engine.load_embedder", lambda settings: fake)
    for name, text in KEEPER_DOCS.items():
        (settings.docs / name).write_text(text, encoding="utf-8")
    build_index(settings, embedder_factory=lambda: fake)
    return settings


def test_citations_are_numbered_in_the_order_the_answer_uses_them(
    keeper: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """The passage ranked second holds the sentence quoted: it becomes [1] and comes first."""
    assert run(keeper, "ask", "--json", KEEPER_Q) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["answer"] == "The lighthouse keeper rows the red boat to the island every dawn. [1]"
    shown = [(p["rank"], p["source"], p["score"], p["answer_spans"]) for p in data["passages"]]
    assert shown == [
        (1, "b.txt", 0.8396, [[99, 164]]),
        (2, "a.txt", 0.858, []),  # scored higher, quoted nothing
        (3, "c.txt", 0.0, []),
    ]
    assert run(keeper, "ask", "--top-k", "2", KEEPER_Q) == 0
    assert capsys.readouterr().out == (
        "The lighthouse keeper rows the red boat to the island every dawn. [1]\n"
        "\n"
        "[1] b.txt, line 1  (score 0.840)\n"
        "    Harbour notes for the season. Fishing boats return before noon. "
        "The market opens early on\n"
        "    Fridays. The lighthouse keeper rows the red boat to the island every dawn. "
        "Nets are mended\n"
        "    in the evening. Gulls follow the boats home.\n"
        "\n"
        "[2] a.txt, line 1  (score 0.858)\n"
        "    The lighthouse keeper sleeps. A lighthouse keeper reads. "
        "The red boat is old. The boat is\n"
        "    red. Every dawn is cold. He rows at dawn.\n"
    )


def test_ask_for_a_terminal_shows_the_passages_quoted_and_near_the_best(
    keeper: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """The bakery scores far below: counted, not shown; --top-k and --json give every passage."""
    assert run(keeper, "ask", KEEPER_Q) == 0
    out = capsys.readouterr().out
    assert out.endswith(
        "\n[2] a.txt, line 1  (score 0.858)\n"
        "    The lighthouse keeper sleeps. A lighthouse keeper reads. "
        "The red boat is old. The boat is\n"
        "    red. Every dawn is cold. He rows at dawn.\n"
        "\n"
        "(1 more passage scored lower; --top-k 3 lists all 3.)\n"
    )
    assert "bakery" not in out and out.count("\n[") == 2
    assert run(keeper, "ask", "--top-k", "3", KEEPER_Q) == 0
    assert capsys.readouterr().out.endswith(
        "\n[3] c.txt, line 1  (score 0.000)\n"
        "    The bakery on the square sells rye bread and cakes on Saturdays.\n"
    )
    assert run(keeper, "ask", "--json", KEEPER_Q) == 0
    assert len(json.loads(capsys.readouterr().out)["passages"]) == 3


def test_a_passage_quoted_is_shown_however_low_it_scores() -> None:
    from qa.cli.query import shown_passages

    def passage(rank: int, score: float, quoted: bool) -> CitedPassage:
        spans = ((0, 4),) if quoted else ()
        return CitedPassage(rank, f"{rank}.txt", 0, 4, (1, 1), None, "Text", "", score, (), spans)

    passages = (passage(1, 0.9, True), passage(2, 0.2, True), passage(3, 0.71, False))
    answer = Answer("?", "Text. [1] Text. [2]", False, (*passages, passage(4, 0.69, False)))
    assert shown_passages(answer) == passages  # within 0.2 of the best, or quoted
    assert shown_passages(replace(answer, passages=())) == ()


PREMIERE = (
    "The Battle at Lake Changjin, directed by Chen Kaige, Tsui Hark and Dante Lam, premiered at "
    "the Beijing International Film Festival on 21 September 2021 and was released in China on "
    "30 September."
)
REVIEW_EXCERPT = (
    "    Film review: The Battle at Lake Changjin The following review was written by Friends of\n"
    "    Socialist China co-editor Keith Bennett. The Battle at Lake Changjin, directed by Chen\n"
    "    Kaige, Tsui Hark and Dante Lam, premiered at the Beijing International Film Festival "
    "on 21\n"
    "    September 2021 and was released in China on 30 September. As part of its international\n"
    "    distribution, it has been showing at selected cinemas in Britain, Ireland, the USA and\n"
    "    Canada since 19 November and in Australia since 2 December. With a budget of some "
    "US$200 ...\n"
    "    also in 002_04be3917b46db590.txt, lines 15-19\n"
)


def real_process(real_index: Settings, *args: str, stdin: str = "") -> tuple[int, str, str]:
    where = ["--docs", str(real_index.docs), "--index", str(real_index.index)]
    done = qa_process(*args, *where, stdin=stdin, env={"QA_CACHE": str(real_index.cache)})
    return done.returncode, done.stdout, done.stderr


@pytest.mark.integration
def test_ask_shows_the_passages_behind_a_good_answer_not_five(real_index: Settings) -> None:
    """The film question: two passages quoted (0.909, 0.792); three at 0.27-0.29 are counted."""
    code, out, err = real_process(real_index, "ask", FILM)
    assert (code, err) == (0, "")
    assert out == (
        f"{PREMIERE} [1] At just two minutes under three hours in length, the film is a "
        "revolutionary epic, with the main action centred around the Changjin Lake area of the "
        "Democratic People’s Republic of Korea (DPRK) in the bitterly cold winter of 1950, "
        "shortly after the Chinese People’s Volunteer Army (CPVA) had entered the War to Resist "
        "US Aggression and Aid Korea. [2]\n"
        "\n"
        f"[1] {FILM_REVIEW}, lines 189-193  (score 0.909)\n"
        f"{REVIEW_EXCERPT}"
        "\n"
        f"[2] {FILM_REVIEW}, lines 195-197  (score 0.792)\n"
        "    At just two minutes under three hours in length, the film is a revolutionary epic, "
        "with the\n"
        "    main action centred around the Changjin Lake area of the Democratic People’s "
        "Republic of\n"
        "    Korea (DPRK) in the bitterly cold winter of 1950, shortly after the Chinese People’s\n"
        "    Volunteer Army (CPVA) had entered the War to Resist US Aggression and Aid Korea. "
        "Confronted\n"
        "    with the harshest natural and climatic conditions, forced to survive on starvation "
        "rations,\n"
        "    and faced with an enemy that was better trained, better equipped, better fed, better "
        "armed ...\n"
        "    also in 002_04be3917b46db590.txt, lines 21-23\n"
        "\n"
        "(3 more passages scored lower; --top-k 5 lists all 5.)\n"
    )
    code, out, _ = real_process(real_index, "ask", "--top-k", "5", FILM)
    headers = [line for line in out.splitlines() if line.startswith("[")]
    assert (code, [h.split("  ")[0] for h in headers]) == (
        0,
        [
            f"[1] {FILM_REVIEW}, lines 189-193",
            f"[2] {FILM_REVIEW}, lines 195-197",
            f"[3] {ENCIRCLEMENT}, lines 41-43",
            f"[4] {MAO_ANYING}, lines 205-207",
            f"[5] {MAO_ANYING}, line 205",
        ],
    )


@pytest.mark.integration
def test_an_answer_quoting_the_second_passage_cites_it_as_1(real_index: Settings) -> None:
    """Ranked second (0.410 under a RIMPAC passage at 0.653), quoted: [1], listed first, and
    the page's copy box and the JSON rank say the same."""
    question = "When did the Korean War start?"
    code, out, _ = real_process(real_index, "ask", question)
    assert code == 0
    assert [line for line in out.splitlines() if not line.startswith("    ")] == [
        "On 25 June 1950, the Korean War broke out. On the third day, the United States "
        "imperialists announced armed assistance to south Korea and at the same time ordered "
        "its Seventh Fleet to sail into the Taiwan Strait, blatantly interfering in China’s "
        "internal affairs, and on 15 September the United States landed at Inchon and soon "
        "crossed the “38th parallel”, blatantly burning the war to the border of China and "
        "North Korea and the Yalu River, directly threatening the security and peace-building "
        "of new China. [1]",
        "",
        f"[1] {MAO_ANYING}, line 205  (score 0.410)",
        "",
        f"[2] {RIMPAC}, line 137  (score 0.653)",
        "",
        "(3 more passages scored lower; --top-k 5 lists all 5.)",
    ]
    code, out, _ = real_process(real_index, "ask", "--json", question)
    data = json.loads(out)
    assert [(p["rank"], p["lines"], bool(p["answer_spans"])) for p in data["passages"]] == [
        (1, [205, 205], True),
        (2, [137, 137], False),
        (3, [205, 207], False),
        (4, [209, 220], False),
        (5, [1, 10], False),
    ]
    from qa.web.render import citations_text

    answer = Engine.open(real_index).ask(question)
    assert citations_text(answer) == f"[1] {MAO_ANYING}, line 205"


@pytest.mark.integration
def test_chat_answers_a_short_follow_up_from_the_previous_answer(real_index: Settings) -> None:
    """ "Where?" after "When was that?": the place is in the sentence just quoted."""
    lines = f"{FILM}\nWhen was that?\nWhere?\n"
    code, out, err = real_process(real_index, "chat", stdin=lines)
    assert (code, err, out.count(NOT_FOUND)) == (0, "", 0)
    assert out.endswith(
        "(4 more passages scored lower; --top-k 5 lists all 5.)\n"
        "\n"
        f"{PREMIERE} As part of its international distribution, it has been showing at selected "
        "cinemas in Britain, Ireland, the USA and Canada since 19 November and in Australia "
        "since 2 December. [1]\n"
        "\n"
        f"[1] {FILM_REVIEW}, lines 189-193  (score 0.718)\n"
        f"{REVIEW_EXCERPT}"
        "\n"
        "(4 more passages scored lower; --top-k 5 lists all 5.)\n"
        "\n"
    )
