"""Chunking by a reader's structure (qa.ingest.structure): heading paths, terms, code kept
whole, text outside blocks still indexed. Real word-piece tokenizer; the model is not loaded."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from qa.ingest.blocks import Block, BlockKind, blocks_from_rows, check_blocks
from qa.ingest.chunking import ChunkParams, Chunks, chunk
from qa.ingest.tokens import TokenCounter, token_counter
from qa.settings import Settings


@dataclass(frozen=True)
class Structured:
    source: str
    text: str
    blocks: tuple[Block, ...]
    title: str = ""

    def page_at(self, offset: int) -> int | None:
        return None


def document(*parts: tuple[BlockKind, int, str] | str, title: str = "") -> Structured:
    """Text from parts joined by blank lines; a (kind, level, text) part is also a block."""
    text, blocks = "", []
    for part in parts:
        if text:
            text += "\n\n"
        kind, level, body = part if isinstance(part, tuple) else ("", 0, part)
        if kind:
            blocks.append(Block(len(text), len(text) + len(body), kind, level))
        text += body
    check_blocks(text, blocks)
    return Structured("doc.html", text, tuple(blocks), title)


@pytest.fixture(scope="module")
def counter() -> TokenCounter:
    return token_counter(Settings().model_path)


def split(source: Structured, counter: TokenCounter, tokens: int = 250) -> Chunks:
    return chunk(source, counter=counter, params=ChunkParams(target_tokens=tokens))


def test_each_passage_has_the_path_of_headings_above_it(counter: TokenCounter) -> None:
    doc = document(
        ("heading", 1, "Guide"),
        ("heading", 2, "Install"),
        ("paragraph", 0, "Download the archive."),
        ("heading", 3, "On Linux"),
        ("paragraph", 0, "Use the package manager."),
        ("heading", 2, "Use"),
        ("paragraph", 0, "Run it."),
    )
    passages = split(doc, counter).passages
    assert [(p.heading, p.text) for p in passages] == [
        ("Guide > Install", "Guide\n\nInstall\n\nDownload the archive."),
        ("Guide > Install > On Linux", "On Linux\n\nUse the package manager."),
        ("Guide > Use", "Use\n\nRun it."),
    ]
    assert (
        passages[1].embed_text == "Guide > Install > On Linux\nOn Linux\n\nUse the package manager."
    )


def test_a_term_heads_its_description_and_stacked_terms_name_it_together(
    counter: TokenCounter,
) -> None:
    doc = document(
        ("heading", 2, "OPTIONS"),
        ("term", 0, "-a"),
        ("term", 0, "--all"),
        ("paragraph", 0, "Stage all modified files."),
        ("term", 0, "--amend"),
        ("paragraph", 0, "Replace the tip of the branch."),
        ("heading", 2, "EXAMPLES"),
        ("paragraph", 0, "See below."),
    )
    chunks = split(doc, counter)
    assert [p.heading for p in chunks.passages] == [
        "OPTIONS > -a, --all",
        "OPTIONS > --amend",
        "EXAMPLES",
    ]
    terms = [doc.text[s.start : s.end] for s in chunks.sentences if s.is_term]
    assert terms == ["-a", "--all", "--amend"]


def test_a_code_block_is_one_unit_never_cut_at_its_full_stops(counter: TokenCounter) -> None:
    code = "x = 1. y = 2.\nprint(x)\n\nprint(y)"
    doc = document(("paragraph", 0, "Run this. Then look."), ("code", 0, code))
    sentences = split(doc, counter).sentences
    assert [(doc.text[s.start : s.end], s.is_code) for s in sentences] == [
        ("Run this.", False),
        ("Then look.", False),
        (code, True),
    ]


def test_a_code_block_over_the_budget_is_cut_into_code_pieces(counter: TokenCounter) -> None:
    code = "\n".join(f"value_{i} = compute({i})" for i in range(60))
    doc = document(("code", 0, code))
    chunks = split(doc, counter, tokens=64)
    assert len(chunks.sentences) > 1
    assert all(s.is_code for s in chunks.sentences)
    assert "".join(doc.text[s.start : s.end] for s in chunks.sentences).replace(" ", "").replace(
        "\n", ""
    ) == code.replace(" ", "").replace("\n", "")


def test_text_outside_every_block_is_still_indexed(counter: TokenCounter) -> None:
    doc = document(("heading", 1, "Title"), "Loose text a reader left out.", "More of it.")
    passages = split(doc, counter).passages
    assert [(p.heading, p.text) for p in passages] == [
        ("Title", "Title\n\nLoose text a reader left out.\n\nMore of it.")
    ]


def test_a_heading_longer_than_half_the_budget_is_read_as_a_paragraph(
    counter: TokenCounter,
) -> None:
    long = " ".join(["word"] * 40)
    doc = document(("heading", 1, long), ("paragraph", 0, "Body."))
    chunks = split(doc, counter, tokens=64)
    assert [p.heading for p in chunks.passages] == [""]
    assert not any(s.is_heading for s in chunks.sentences)


def test_blocks_travel_as_json_rows_and_bad_rows_are_refused() -> None:
    blocks = (Block(0, 5, "heading", 2), Block(7, 9, "code"))
    assert blocks_from_rows([b.as_row() for b in blocks]) == blocks
    with pytest.raises(ValueError, match="unknown block kind 'script'"):
        blocks_from_rows([[0, 1, "script", 0]])


def test_the_title_roots_paths_whose_first_heading_does_not_name_it(counter: TokenCounter) -> None:
    # PostgreSQL's reference pages: every heading an h2, the command's name only in <title>.
    doc = document(
        ("heading", 2, "VACUUM"),
        ("paragraph", 0, "VACUUM — garbage-collect a database."),
        ("heading", 2, "Description"),
        ("paragraph", 0, "VACUUM reclaims storage."),
        title="VACUUM",
    )
    assert [p.heading for p in split(doc, counter).passages] == ["VACUUM", "VACUUM > Description"]
    git = document(("heading", 1, "git-commit(1) Manual Page"), "Record.", title="git-commit(1)")
    assert [p.heading for p in split(git, counter).passages] == ["git-commit(1) Manual Page"]
