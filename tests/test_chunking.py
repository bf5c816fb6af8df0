"""Tests for qa.ingest.chunking with the real word-piece tokenizer (fast: the model is not
loaded)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass, replace
from itertools import groupby, pairwise
from pathlib import Path

import pytest

from qa.ingest.blocks import Block
from qa.ingest.chunking import ChunkParams, Chunks, Passage, chunk
from qa.ingest.documents import Document, read_document
from qa.ingest.tokens import TokenCounter, token_counter
from qa.settings import Settings

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
SEED_NAMES = sorted(p.name for p in SEEDS.iterdir())
MODEL_LIMIT = 256


@dataclass(frozen=True)
class Text:
    """A minimal chunking source: what a Document offers, for hand-written text."""

    source: str
    text: str
    blocks: tuple[Block, ...] = ()
    title: str = ""

    def page_at(self, offset: int) -> int | None:
        return None


@pytest.fixture(scope="module")
def counter() -> TokenCounter:
    return token_counter(Settings().model_path)


def seed(name: str) -> Document:
    return read_document(SEEDS / name, root=SEEDS)


def split(source: Text | Document, counter: TokenCounter, tokens: int = 128) -> Chunks:
    return chunk(source, counter=counter, params=ChunkParams(target_tokens=tokens))


def assert_offsets_exact(text: str, passages: list[Passage]) -> None:
    for p in passages:
        assert text[p.start : p.end] == p.text
        assert p.lines == (text.count("\n", 0, p.start) + 1, text.count("\n", 0, p.end) + 1)


def assert_within_limit(counter: TokenCounter, passages: list[Passage]) -> None:
    over = [(p.start, counter.count(p.embed_text)) for p in passages]
    assert [(start, n) for start, n in over if n > MODEL_LIMIT] == []


def test_seed_files_are_the_three_expected() -> None:
    assert len(SEED_NAMES) == 3


def test_model_limit_is_256(counter: TokenCounter) -> None:
    assert counter.max_tokens == MODEL_LIMIT
    assert counter.count("") == 2  # [CLS] [SEP]


@pytest.mark.parametrize("tokens", [64, 128, 250])
@pytest.mark.parametrize("name", SEED_NAMES)
def test_seed_offsets_lines_and_limit(counter: TokenCounter, name: str, tokens: int) -> None:
    document = seed(name)
    chunks = split(document, counter, tokens)
    assert chunks.passages
    assert_offsets_exact(document.text, chunks.passages)
    assert_within_limit(counter, chunks.passages)
    for p in chunks.passages:
        assert p.source == name
        assert p.page is None
        assert p.text == p.text.strip() and p.text
    starts = [p.start for p in chunks.passages]
    assert starts == sorted(starts)
    for s in chunks.sentences:
        assert 0 <= s.start < s.end <= len(document.text)


@pytest.mark.parametrize("name", SEED_NAMES)
def test_seed_passages_cover_every_word(counter: TokenCounter, name: str) -> None:
    document = seed(name)
    covered = bytearray(len(document.text))
    for p in split(document, counter).passages:
        covered[p.start : p.end] = b"\x01" * (p.end - p.start)
    missing = [i for i, c in enumerate(document.text) if not c.isspace() and not covered[i]]
    assert missing == []


def test_seed_sections_keep_their_heading(counter: TokenCounter) -> None:
    document = seed("001_e71676ddd8f87f03.txt")
    passages = split(document, counter).passages
    headed = [p for p in passages if p.heading]
    assert len({p.heading for p in headed}) >= 5
    for heading, group in groupby(headed, key=lambda p: p.heading):
        first, *rest = list(group)
        # The section's first passage starts with its heading: the "Continue reading ..." line
        # above a title closes the article before it.
        assert first.text.startswith(f"{heading}\n\n")
        for p in rest:
            assert not p.text.startswith(heading)
            assert p.embed_text == f"{heading}\n{p.text}"


FRUIT = " ".join(
    f"Sentence number {i} talks about apples and oranges in the market." for i in range(12)
)
FRUIT_DOC = f"Fruit Market\n\n{FRUIT}\n\n{FRUIT}\n\nSecond Heading\n\nShort tail paragraph."


def test_heading_starts_first_passage_and_labels_the_rest(counter: TokenCounter) -> None:
    passages = split(Text("fruit.txt", FRUIT_DOC), counter, 64).passages
    assert [p.heading for p in passages] == ["Fruit Market"] * 8 + ["Second Heading"]
    assert passages[0].text.startswith("Fruit Market\n\nSentence number 0 ")
    assert passages[0].embed_text == passages[0].text
    for p in passages[1:8]:
        assert p.text.startswith("Sentence number ")
        assert p.embed_text == "Fruit Market\n" + p.text
    assert passages[8].text == "Second Heading\n\nShort tail paragraph."
    assert passages[8].embed_text == passages[8].text
    assert_offsets_exact(FRUIT_DOC, passages)


GUIDE = (
    "Getting Started\n\n"
    "Install the tool with pip. Then run it once to check the setup works.\n\n"
    "Usage\n\n"
    "Ask a question in plain words. Dr. Smith wrote the answer engine. "
    "It cites every passage it quotes. Answers come with line numbers.\n"
    "A second line of the same paragraph.\n"
)


def test_small_document_exact_passages(counter: TokenCounter) -> None:
    chunks = split(Text("guide.md", GUIDE), counter, 128)
    got = [(p.start, p.end, p.lines, p.heading) for p in chunks.passages]
    assert got == [(0, 86, (1, 3), "Getting Started"), (88, 263, (5, 8), "Usage")]
    assert chunks.passages[0].text == (
        "Getting Started\n\nInstall the tool with pip. Then run it once to check the setup works."
    )
    assert chunks.passages[1].text == GUIDE[88:].rstrip("\n")
    # Sentence units: headings, sentences ("Dr." does not end one), and each line.
    assert [(s.start, s.end) for s in chunks.sentences] == [
        (0, 15), (17, 43), (44, 86), (88, 93), (95, 125), (126, 160), (161, 194), (195, 226),
        (227, 263),
    ]  # fmt: skip
    assert GUIDE[126:160] == "Dr. Smith wrote the answer engine."


def test_small_document_exact_passages_small_budget(counter: TokenCounter) -> None:
    """16 word pieces: paragraphs are cut between sentences, one sentence carried over; the
    heading does not count against the budget (room for it is kept aside)."""
    passages = split(Text("guide.md", GUIDE), counter, 16).passages
    assert [(p.start, p.end, p.lines, p.heading) for p in passages] == [
        (0, 86, (1, 3), "Getting Started"),
        (88, 160, (5, 7), "Usage"),
        (126, 194, (7, 7), "Usage"),
        (161, 226, (7, 7), "Usage"),
        (195, 263, (7, 8), "Usage"),
    ]
    assert [p.text for p in passages] == [
        "Getting Started\n\nInstall the tool with pip. Then run it once to check the setup works.",
        "Usage\n\nAsk a question in plain words. Dr. Smith wrote the answer engine.",
        "Dr. Smith wrote the answer engine. It cites every passage it quotes.",
        "It cites every passage it quotes. Answers come with line numbers.",
        "Answers come with line numbers.\nA second line of the same paragraph.",
    ]
    assert passages[1].embed_text == passages[1].text
    assert passages[2].embed_text == "Usage\n" + passages[2].text


def test_passage_id_is_a_digest_of_source_span_and_text(counter: TokenCounter) -> None:
    for p in split(Text("guide.md", GUIDE), counter, 16).passages:
        key = f"guide.md\0{p.start}\0{p.end}\0{p.text}".encode()
        assert p.id == hashlib.sha256(key).hexdigest()[:16]


_IDS_SCRIPT = """
import json, sys
from pathlib import Path
from qa.ingest.chunking import ChunkParams, chunk
from qa.ingest.documents import read_document
from qa.settings import Settings
from qa.ingest.tokens import token_counter
seeds = Path(sys.argv[1])
counter = token_counter(Settings().model_path)
print(json.dumps({
    p.name: [x.id for x in chunk(read_document(p, root=seeds), counter=counter,
                                 params=ChunkParams(target_tokens=128)).passages]
    for p in sorted(seeds.iterdir())
}))
"""


def test_ids_stable_across_runs(counter: TokenCounter) -> None:
    here = {name: [p.id for p in split(seed(name), counter).passages] for name in SEED_NAMES}
    assert here == {
        name: [p.id for p in split(seed(name), counter).passages] for name in SEED_NAMES
    }
    env = {**os.environ, "PYTHONHASHSEED": "12345", "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", _IDS_SCRIPT, str(SEEDS)],
        env=env, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert json.loads(out.stdout) == here


def test_appending_text_keeps_earlier_ids(counter: TokenCounter) -> None:
    document = seed("001_e71676ddd8f87f03.txt")
    before = split(document, counter).passages
    grown = replace(
        document, text=document.text + "\n\nA brand new closing paragraph. It ends here."
    )
    after = split(grown, counter).passages
    assert [p.id for p in after[: len(before) - 1]] == [p.id for p in before[:-1]]


@pytest.mark.parametrize("tokens", [16, 128, 250])
def test_long_paragraph_without_punctuation(counter: TokenCounter, tokens: int) -> None:
    words = [f"word{i % 97} token{i % 13}" if i % 5 == 0 else "plain" for i in range(5000)]
    text = "Heading Of The Long Part\n\n" + " ".join(words)
    passages = split(Text("long.txt", text), counter, tokens).passages
    assert len(passages) > 5000 // 250
    assert_offsets_exact(text, passages)
    assert_within_limit(counter, passages)
    assert all(p.heading == "Heading Of The Long Part" for p in passages)
    covered = sorted((p.start, p.end) for p in passages)
    assert covered[0][0] == 0 and covered[-1][1] == len(text)
    for (_, end), (start, _) in pairwise(covered):
        assert start <= end + 1  # consecutive passages touch or overlap (a space between)


@pytest.mark.parametrize("tokens", [16, 128, 250])
@pytest.mark.parametrize(
    "blob",
    [
        "x" * 3000,
        "".join(chr(0x4E00 + i % 500) for i in range(3000)),  # CJK: one word piece per char
        ("abcdefghij0123456789" * 150),
        "😀" * 3000,
    ],
    ids=["x", "cjk", "alnum", "emoji"],
)
def test_string_without_spaces_is_cut(counter: TokenCounter, tokens: int, blob: str) -> None:
    passages = split(Text("blob.txt", blob), counter, tokens).passages
    assert_offsets_exact(blob, passages)
    assert_within_limit(counter, passages)
    covered = bytearray(len(blob))
    for p in passages:
        covered[p.start : p.end] = b"\x01" * (p.end - p.start)
    assert all(covered)


def test_sentence_just_under_budget_with_heading_stays_under_limit(counter: TokenCounter) -> None:
    # 8-piece heading, a single sentence of 246 word pieces, chunk_tokens=250:
    # passage embed_text = heading + "\n" + sentence = 2 + 8 + 1 + 247 = 257 pieces.
    text = "Background and Context of the Long Report Section\n\n" + " ".join(["alpha"] * 246) + "."
    passages = split(Text("a.txt", text), counter, 250).passages
    assert_within_limit(counter, passages)


def test_heading_is_never_a_passage_of_its_own(counter: TokenCounter) -> None:
    text = "Background and Context of the Long Report Section\n\n" + " ".join(["alpha"] * 240) + "."
    passages = split(Text("a.txt", text), counter, 250).passages
    assert [p.text for p in passages if p.text == p.heading] == []


# --------------------------------------------------------------------------- work per character
#
# A 50 MB text file must chunk in time proportional to its size. Wall-clock limits are flaky on
# a shared machine, so these count the work instead: characters copied by slicing the document
# text, and word-piece offsets scanned while cutting over-long sentences.


class CountingText(str):
    """The document text, counting every character that slicing copies out of it."""

    copied = 0

    def __getitem__(self, key: object) -> str:  # type: ignore[override]
        out = str.__getitem__(self, key)  # type: ignore[index]
        if isinstance(key, slice):
            type(self).copied += len(out)
        return out


class CountingOffsets(list[tuple[int, int]]):
    scanned = 0

    def __iter__(self):  # type: ignore[no-untyped-def]
        for item in list.__iter__(self):
            type(self).scanned += 1
            yield item


class CountingCounter:
    def __init__(self, inner: TokenCounter) -> None:
        self.inner, self.max_tokens = inner, inner.max_tokens
        self.count, self.count_many = inner.count, inner.count_many

    def offsets(self, text: str) -> list[tuple[int, int]]:
        return CountingOffsets(self.inner.offsets(text))


def test_short_lines_chunk_in_linear_work(counter: TokenCounter) -> None:
    lines = "\n".join(f"item {i} of the inventory list" for i in range(4000))
    text = CountingText(lines)
    CountingText.copied = 0
    passages = split(Text("list.txt", text), counter, 128).passages
    assert_offsets_exact(lines, passages)
    assert CountingText.copied <= 20 * len(lines)


def test_long_sentence_cut_in_linear_work(counter: TokenCounter) -> None:
    text = " ".join(["alpha", "beta", "gamma", "delta"] * 2500)  # 10,000 one-piece words
    CountingOffsets.scanned = 0
    passages = chunk(
        Text("run.txt", text), counter=CountingCounter(counter), params=ChunkParams(128)
    ).passages
    assert_offsets_exact(text, passages)
    assert CountingOffsets.scanned <= 3 * 10_000


BLOG = (
    "First Article\n\n"
    "The first article has one paragraph of body text.\n\n"
    "Continue reading First Article\n\n"
    "Second Article\n\n"
    "The second article starts here. It has two sentences.\n\n"
    "Speakers include:\n\n"
    "Alice Smith and Bob Jones, both of them.\n"
)


def test_lines_stacked_above_a_heading_close_the_section_before(counter: TokenCounter) -> None:
    """A blog page: each article ends with a 'Continue reading' line, then the next title.
    Only the last of the stacked short lines heads what follows; a line ending in ':' leads
    into its list and heads nothing."""
    chunks = split(Text("blog.txt", BLOG), counter, 128)
    cut = BLOG.index("Second Article")
    got = [(p.start, p.end, p.heading) for p in chunks.passages]
    assert got == [(0, cut - 2, "First Article"), (cut, len(BLOG) - 1, "Second Article")]
    assert BLOG[: cut - 2].endswith("body text.\n\nContinue reading First Article")
    # Title-like lines are never quoted as answers, whether or not they head a section.
    assert [BLOG[s.start : s.end] for s in chunks.sentences if s.is_heading] == [
        "First Article",
        "Continue reading First Article",
        "Second Article",
    ]


def test_markdown_headings_stacked_after_text_all_head(counter: TokenCounter) -> None:
    text = "# Guide\n\nIntro text here.\n\n# Chapter Two\n\n## Part A\n\nBody of part A.\n"
    passages = split(Text("guide.md", text), counter, 128).passages
    assert [(p.text, p.heading) for p in passages] == [
        ("# Guide\n\nIntro text here.", "# Guide"),
        ("# Chapter Two\n\n## Part A\n\nBody of part A.", "## Part A"),
    ]
