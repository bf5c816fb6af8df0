"""The query path with the deterministic fake embedder: ranking, dedupe, spans, bad input."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from fakes import FakeEmbedder

from qa.index.build import build_index
from qa.index.keyword import stem
from qa.query.answer import (
    EMPTY_QUESTION,
    NOT_FOUND,
    WEAK_MATCH,
    Policy,
    answerability,
    as_code,
    compose,
    never_mentioned,
)
from qa.query.asked import (
    DATE,
    NAME,
    NUMBER,
    answer_type,
    defined_subject,
    defines,
    unknown_names,
)
from qa.query.engine import Engine, single_threaded_blas
from qa.query.search import Searcher
from qa.settings import Settings

FILM = "Who directed The Battle at Lake Changjin?"


@pytest.fixture
def engine(seeded: Settings, fake_embedder: FakeEmbedder) -> Engine:
    build_index(seeded, embedder_factory=lambda: fake_embedder)
    return Engine.open(seeded, embedder_factory=lambda: fake_embedder)


def document_text(engine: Engine, source: str) -> str:
    entry = engine.index.document(source)
    assert entry is not None
    return entry.text


def test_answer_quotes_the_passage_and_lists_the_duplicate(engine: Engine) -> None:
    answer = engine.ask(FILM)
    assert not answer.abstained
    top = answer.passages[0]
    assert (top.source, top.lines) == ("001_e71676ddd8f87f03.txt", (189, 193))
    assert [(p.source, p.lines) for p in top.also_in] == [("002_04be3917b46db590.txt", (15, 19))]
    assert "directed by Chen Kaige, Tsui Hark and Dante Lam" in answer.answer
    assert answer.answer.count("[1]") >= 1


def test_every_offset_is_exact(engine: Engine) -> None:
    for question in (FILM, "How many US military bases are in South Korea?", "Mao Anying"):
        answer = engine.ask(question)
        for passage in answer.passages:
            text = document_text(engine, passage.source)
            assert text[passage.start : passage.end] == passage.text
            for start, end in passage.answer_spans:
                assert passage.start <= start < end <= passage.end
                assert text[start:end] in answer.answer
            for place in passage.also_in:
                twin = document_text(engine, place.source)[place.start : place.end]
                assert twin == passage.text


def test_near_identical_passages_are_shown_once(engine: Engine) -> None:
    answer = engine.ask(FILM, top_k=10)
    shown = [p.text for p in answer.passages]
    assert len(shown) == len(set(shown))


def test_json_object_has_the_documented_shape(engine: Engine) -> None:
    data = engine.ask(FILM).as_json()
    assert list(data) == ["question", "answer", "abstained", "passages"]
    assert list(data["passages"][0]) == [
        "rank",
        "source",
        "start",
        "end",
        "lines",
        "page",
        "heading",
        "text",
        "score",
        "also_in",
        "answer_spans",
    ]
    assert [p["rank"] for p in data["passages"]] == [1, 2, 3, 4, 5]
    assert data["passages"][0]["page"] is None
    assert data["passages"][0]["heading"] == "Film review: The Battle at Lake Changjin"


def test_document_filter_limits_every_passage(engine: Engine) -> None:
    answer = engine.ask(FILM, sources=["000_cd573fa89ff91e39.txt"])
    assert {p.source for p in answer.passages} <= {"000_cd573fa89ff91e39.txt"}


def test_unknown_document_filter_is_refused_with_the_closest_names(engine: Engine) -> None:
    from qa.errors import UnknownSourceError

    # A filter naming no indexed document is a typo: "not found" would hide it.
    with pytest.raises(UnknownSourceError) as raised:
        engine.ask(FILM, sources=["001_e71676ddd8f87f03.md", "001_e71676ddd8f87f03.txt"])
    assert str(raised.value) == (
        'No document named "001_e71676ddd8f87f03.md" in the index. Closest of the 3 indexed: '
        "001_e71676ddd8f87f03.txt, 002_04be3917b46db590.txt, 000_cd573fa89ff91e39.txt."
    )
    answer = engine.ask(FILM, sources=[])  # an empty filter is not a typo: nothing to search
    assert (answer.answer, answer.abstained, answer.passages) == (NOT_FOUND, True, ())
    assert not engine.ask(FILM, sources=None).abstained  # and is not mistaken for no filter


def test_unknown_source_message_bounds_what_it_echoes_and_lists() -> None:
    from qa.query.sources import closest_names, unknown_sources_message

    known = [f"report-{n:02}.txt" for n in range(40)]
    asked = ["report-7.txt", "x" * 5000, "b", "c", "d"]
    assert unknown_sources_message(asked, known) == (
        f'No documents named "report-7.txt", "{"x" * 99}…", "b" and 2 more in the index. '
        "Closest of the 40 indexed: report-07.txt, report-17.txt, report-27.txt, "
        "report-37.txt, report-00.txt."
    )
    assert unknown_sources_message(["a.txt"], []) == (
        'No document named "a.txt": the index holds no documents.'
    )
    assert closest_names("NOTES.TXT", ["news.txt", "notes.txt", "nodes.txt"], 2) == [
        "notes.txt",
        "nodes.txt",
    ]  # case ignored, ties in the order given


@pytest.mark.parametrize("question", ["", "   ", "\n\t"])
def test_empty_question_is_not_searched(
    engine: Engine, fake_embedder: FakeEmbedder, question: str
) -> None:
    calls = list(fake_embedder.calls)
    answer = engine.ask(question)
    assert (answer.answer, answer.abstained, answer.passages) == (EMPTY_QUESTION, True, ())
    assert fake_embedder.calls == calls


def test_off_topic_question_abstains(engine: Engine) -> None:
    answer = engine.ask("How do I reverse a linked list in Python?")
    assert (answer.answer, answer.abstained, answer.passages) == (NOT_FOUND, True, ())


def test_an_answer_below_the_weak_bar_says_so(engine: Engine) -> None:
    _, retrieval = engine.retrieve(FILM)
    strength = answerability(retrieval.hits[0], retrieval)
    searcher = Searcher(engine.index)

    def notes(weak_below: float) -> tuple[str, ...]:
        policy = Policy(abstain_below=0.0, weak_below=weak_below)
        answer = compose(FILM, retrieval, searcher, policy=policy)
        assert not answer.abstained
        return answer.notes

    assert notes(strength + 1e-6) == (WEAK_MATCH,)
    assert notes(strength) == ()
    assert WEAK_MATCH == (
        "A weak match: the passages share little with the question. Check them first."
    )


def test_very_long_question_is_cut_with_a_note(engine: Engine) -> None:
    answer = engine.ask("Korea " * 20_000)
    assert answer.notes == (
        "Your question is long: only its first 1523 characters (254 word pieces, what the "
        "model reads) were used.",
    )


@pytest.mark.parametrize(
    "question",
    [
        "\x00\x07\x1b[31m Korea?",
        "🇰🇷 한국 전쟁은 언제 시작되었나요? 🙂",
        "'; DROP TABLE passages; --",
        "<script>alert(1)</script><img src=x onerror=alert(1)>",
        "\ud800 lone surrogate",
    ],
)
def test_odd_questions_are_answered_or_refused(engine: Engine, question: str) -> None:
    answer = engine.ask(question)
    assert answer.question == question
    assert answer.abstained == (answer.answer == NOT_FOUND or answer.answer == EMPTY_QUESTION)


def test_repeated_question_comes_from_the_cache(
    engine: Engine, fake_embedder: FakeEmbedder
) -> None:
    first = engine.ask(FILM)
    calls = list(fake_embedder.calls)
    assert engine.ask(FILM) is first
    assert fake_embedder.calls == calls


def test_follow_up_uses_the_previous_question(engine: Engine) -> None:
    alone = engine.ask("Who directed it?")
    follow_up = engine.ask("Who directed it?", history=[FILM])
    assert follow_up.passages[0].lines == (189, 193)
    assert alone.passages[:1] != follow_up.passages[:1]


def test_a_follow_up_too_short_to_say_its_subject_is_steered_by_the_previous_answer(
    engine: Engine,
) -> None:
    """ "Where?" after "When was that?": the question before says nothing; its answer does."""
    assert engine.ask("Where?", history=["When was that?"]).abstained
    answer = engine.ask("Where?", history=[FILM, "When was that?"])
    assert answer.answer.startswith(
        "The Battle at Lake Changjin, directed by Chen Kaige, Tsui Hark and Dante Lam, premiered "
        "at the Beijing International Film Festival on 21 September 2021"
    )
    # Only the last few questions are followed: a long chain of short ones costs no more.
    chain = ["Why?", "Who?"] * 3000 + [FILM, "When was that?"]
    assert engine.ask("Where?", history=chain) == answer
    assert engine.ask("Where?", history=["Where?"] * 5000).abstained


def test_swap_serves_the_new_index(
    engine: Engine, seeded: Settings, fake_embedder: FakeEmbedder
) -> None:
    engine.ask(FILM)
    (seeded.docs / "new.md").write_text("# Zebras\n\nZebras of Lake Kivu sing at dawn.\n")
    build_index(seeded, embedder_factory=lambda: fake_embedder)
    from qa.index.built import load

    engine.swap(load(seeded.index))
    answer = engine.ask("When do the zebras of Lake Kivu sing?")
    assert answer.passages[0].source == "new.md"
    assert answer.answer == "Zebras of Lake Kivu sing at dawn. [1]"


def test_index_from_another_model_is_refused(seeded: Settings, fake_embedder: FakeEmbedder) -> None:
    build_index(seeded, embedder_factory=lambda: fake_embedder)
    other = seeded.with_(model=Path("/models/other-model"))
    from qa.errors import IndexCorruptError

    with pytest.raises(IndexCorruptError) as error:
        Engine.open(other)
    assert str(error.value) == (
        f"The index in {seeded.index} was built with the model 'all-MiniLM-L6-v2', but the "
        "configured model is 'other-model'. Run `qa index` to rebuild it."
    )


def test_document_filter_shows_the_allowed_copy_of_a_duplicate(engine: Engine) -> None:
    answer = engine.ask(FILM, sources=["002_04be3917b46db590.txt"])
    assert {p.source for p in answer.passages} == {"002_04be3917b46db590.txt"}
    assert answer.passages[0].lines == (15, 19)
    assert [(p.source, p.lines) for p in answer.passages[0].also_in] == [
        ("001_e71676ddd8f87f03.txt", (189, 193))
    ]


def test_every_copy_of_a_passage_is_listed(settings: Settings, fake_embedder: FakeEmbedder) -> None:
    text = "Boilerplate\n\nEvery branch office keeps the visitor log for seven years.\n"
    for number in range(20):
        (settings.docs / f"office{number:02d}.txt").write_text(text, encoding="utf-8")
    build_index(settings, embedder_factory=lambda: fake_embedder)
    engine = Engine.open(settings, embedder_factory=lambda: fake_embedder)
    answer = engine.ask("How long do branch offices keep the visitor log?")
    assert [p.source for p in answer.passages] == ["office00.txt"]
    assert [p.source for p in answer.passages[0].also_in] == [
        f"office{number:02d}.txt" for number in range(1, 20)
    ]


BRIEFING = (
    "Sanctions briefing\n\n"
    "The spokesman said the sanctions should be eased and the talks resumed.\n\n"
    "Regular Press Conference on February 9, 2022\n"
)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("When did the Korean War start?", "date"),
        ("On what day was the webinar held?", "date"),
        ("In which year was the treaty signed?", "date"),
        ("Which month did the drills begin?", "date"),
        ("And when did the Americans land at Inchon?", "date"),
        ("How many bases are there?", "number"),
        ("Which anniversary was marked?", "number"),
        ("Who directed the film?", "name"),
        ("And who went with him?", "name"),
        ("What day-to-day work does the group do?", None),
        ("What is the treaty about?", None),
    ],
)
def test_the_kind_of_answer_a_question_asks_for(question: str, expected: str | None) -> None:
    kinds = {DATE: "date", NUMBER: "number", NAME: "name"}
    found = answer_type(question)
    assert (kinds[found] if found is not None else None) == expected


OPINION = (  # the lines above an op-ed, as the seeds print them
    "OPINION\n"
    "The opinion of a professor\n"
    "Published: Aug 14, 2025 10:06 PM\n"
    "The opinion was published in the Global Times of Beijing.\n"
)
WEBINAR = (
    "Webinar notes\n\n"
    "Many speakers from the peace movement joined Friends of Socialist China.\n\n"
    "The webinar on the encirclement of China took place on Saturday 24 September 2022.\n"
)


@pytest.mark.parametrize(
    ("document", "question", "quoted", "not_quoted"),
    [
        pytest.param(
            BRIEFING,
            "When was the press conference on sanctions?",
            "Regular Press Conference on February 9, 2022",
            None,
            id="a dated title line answers when",
        ),
        pytest.param(
            BRIEFING,
            "What did the spokesman say about the sanctions?",
            "The spokesman said",
            "Press Conference",
            id="and only when",
        ),
        pytest.param(
            WEBINAR,
            "On what day did Friends of Socialist China host the webinar on the encirclement?",
            "The webinar on the encirclement of China took place on Saturday 24 September 2022.",
            "Many speakers",
            id="a date question quotes the dated sentence alone",
        ),
        pytest.param(
            WEBINAR,
            "Who spoke at the webinar Friends of Socialist China hosted on the encirclement?",
            "Many speakers from the peace movement",
            None,
            id="other questions do not",
        ),
        pytest.param(
            OPINION,
            "Where was it published?",
            "The opinion was published in the Global Times of Beijing.",
            "Published: Aug 14",
            id="a dateline answers no where question",
        ),
        pytest.param(
            OPINION,
            "Where was the opinion published?",
            "The opinion was published in the Global Times of Beijing.",
            "OPINION [1]",
            id="nor does a one-word label",
        ),
    ],
)
def test_the_sentence_quoted_fits_what_the_question_asks(
    settings: Settings,
    fake_embedder: FakeEmbedder,
    document: str,
    question: str,
    quoted: str,
    not_quoted: str | None,
) -> None:
    (settings.docs / "notes.txt").write_text(document, encoding="utf-8")
    build_index(settings, embedder_factory=lambda: fake_embedder)
    answer = Engine.open(settings, embedder_factory=lambda: fake_embedder).ask(question)
    assert quoted in answer.answer
    if not_quoted is not None:
        assert not_quoted not in answer.answer


def test_a_sentence_repeated_in_the_documents_is_quoted_once(
    settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    caption = "Tourists take photos at the memorial site in Shanghai on June 5, 2025."
    text = f"Memorial\n\n{caption}\n\nThe site draws many visitors every summer.\n\n{caption}\n"
    (settings.docs / "captions.txt").write_text(text, encoding="utf-8")
    build_index(settings, embedder_factory=lambda: fake_embedder)
    engine = Engine.open(settings, embedder_factory=lambda: fake_embedder)
    answer = engine.ask("When did tourists take photos at the memorial site in Shanghai?")
    assert answer.answer == f"{caption} [1]"


def test_a_sentence_repeated_in_another_spelling_is_quoted_once_from_the_first_passage(
    settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    dotted = "Garrisoned with 73 U.S. military bases, South Korea is a frontline state."
    plain = "Garrisoned with 73 US military bases, South Korea is a frontline state."
    (settings.docs / "article.txt").write_text(f"{dotted} Many troops stay.\n", encoding="utf-8")
    (settings.docs / "quote.txt").write_text(f"{plain}\n", encoding="utf-8")
    build_index(settings, embedder_factory=lambda: fake_embedder)
    engine = Engine.open(settings, embedder_factory=lambda: fake_embedder)
    question = "How many US military bases are in South Korea?"
    _, retrieval = engine.retrieve(question)
    searcher = Searcher(engine.index)
    assert [engine.index.passages[h.row].source for h in retrieval.hits] == [
        "quote.txt",
        "article.txt",
    ]
    # The spelling in the second passage scores higher: the sentence is still cited in the first.
    rows = {searcher.sentence_text(r): r for r in range(len(engine.index.sentences))}
    scores = retrieval.sentence_scores.copy()
    scores[rows[dotted]], scores[rows[plain]] = 0.9, 0.8
    answer = compose(
        question, replace(retrieval, sentence_scores=scores), searcher, policy=Policy()
    )
    assert answer.answer == f"{plain} [1]"
    assert [p.answer_spans for p in answer.passages] == [((0, len(plain)),), ()]


def test_single_threaded_blas_covers_numpy_and_faiss_until_left() -> None:
    from threadpoolctl import threadpool_info

    def blas() -> dict[str, int]:
        return {
            i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"
        }

    before = blas()
    with single_threaded_blas():
        limited = blas()
        assert set(limited.values()) == {1}
        assert any("numpy" in path for path in limited) and any("faiss" in p for p in limited)
    assert blas() == before


@pytest.mark.parametrize(
    ("question", "subject"),
    [
        ("What is a set?", "set"),
        ("What are hooks?", "hooks"),
        ("What does --amend do?", "--amend"),
        ("What does ORIG_HEAD mean?", "orig_head"),
        ("what's the reflog", "reflog"),
        ("What is the capital city of the small country of Peru?", None),  # not a term
        ("How do I make a set?", None),
    ],
)
def test_the_subject_a_definition_question_asks_about(question: str, subject: str | None) -> None:
    assert defined_subject(question) == subject


def test_a_defining_sentence_is_told_from_one_that_mentions_the_subject() -> None:
    assert defines("set", "A set is an unordered collection with no duplicate elements.")
    assert defines("hooks", "Hooks are programs you can place in a hooks directory.")
    assert not defines("set", "Python also includes a data type for sets.")
    assert not defines("set", "The reset command is described below.")


def test_code_is_quoted_in_a_fence_longer_than_any_backticks_inside() -> None:
    assert as_code("git stash push") == "```\ngit stash push\n```"
    assert as_code("echo ````") == "`````\necho ````\n`````"


@pytest.mark.parametrize(
    ("question", "names"),
    [
        ("How do I create an index in MongoDB?", ["MongoDB"]),
        ("Who won the FIFA World Cup in Paris?", ["FIFA", "Paris"]),  # "World", "Cup" are known
        ("Can I use SELECT FOR UPDATE here?", []),  # known words and stopwords in capitals
        ("What did the Workers' Daily say?", []),
        ("Is it faster? Elsewhere it works.", []),  # a sentence's first word is no name
        ("How do I track files with Git LFS?", ["LFS"]),
        ("Does B-tree help, or Hash-Map?", ["Hash-Map"]),  # a part unknown is enough
    ],
)
def test_names_the_documents_never_use_are_found(question: str, names: list[str]) -> None:
    known = {stem(w) for w in "select update world cup workers daily git b tree hash".split()}
    assert unknown_names(question, known) == names


def test_a_refusal_says_which_names_the_documents_never_mention() -> None:
    assert never_mentioned(["MongoDB"]) == "The documents never mention “MongoDB”."
    assert never_mentioned(["Paris", "Rome", "Paris"]) == (
        "The documents never mention “Paris” or “Rome”."
    )
    assert never_mentioned(["A", "B", "C"]) == "The documents never mention “A”, “B” or “C”."


MANUAL = """<html><head><title>tool(1)</title></head><body>
<h1>tool(1) Manual Page</h1>
<h2>OPTIONS</h2>
<dl>
<dt>--frobnicate</dt>
<dd><p>Frobnicate every widget in the tree. Spinning wheels are left alone.</p></dd>
<dt>--quiet</dt>
<dd><p>Print nothing at all while working on the widgets.</p></dd>
</dl>
<h2>EXAMPLES</h2>
<p>Tidy a checkout:</p>
<pre>tool --frobnicate --tree widgets
tool --quiet</pre>
</body></html>
"""


def test_an_option_is_answered_with_its_term_and_cited_by_its_section(
    settings: Settings, fake_embedder: FakeEmbedder
) -> None:
    (settings.docs / "tool.html").write_text(MANUAL, encoding="utf-8")
    build_index(settings, embedder_factory=lambda: fake_embedder)
    engine = Engine.open(settings, embedder_factory=lambda: fake_embedder)
    answer = engine.ask("Which option frobnicates every widget in the tree?")
    top = answer.passages[0]
    assert top.heading == "tool(1) Manual Page > OPTIONS > --frobnicate"
    assert (
        top.citation
        == 'tool.html, section "tool(1) Manual Page > OPTIONS > --frobnicate", lines 1-7'
    )
    # The term with its first sentence, and the next: the first is too short to stand alone,
    # and the next shares the entry's heading, so it is close enough to the question.
    assert answer.answer == (
        "--frobnicate\n\nFrobnicate every widget in the tree. Spinning wheels are left alone. [1]"
    )
    text = document_text(engine, "tool.html")
    assert all(text[p.start : p.end] == p.text for p in answer.passages)
    code = engine.index.passages[-1]
    assert (code.heading, code.text) == (
        "tool(1) Manual Page > EXAMPLES",
        "EXAMPLES\n\nTidy a checkout:\n\ntool --frobnicate --tree widgets\ntool --quiet",
    )
