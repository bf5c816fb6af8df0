"""Tests for qa.index.neighbours: stand-ins for question words the documents never use."""

from __future__ import annotations

import numpy as np
import pytest

from qa.index import neighbours
from qa.index.keyword import KeywordIndex
from qa.index.neighbours import (
    TermVectors,
    build_term_vectors,
    missing_words,
    near_match_notes,
    spellings,
)


def unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_missing_words_are_content_words_no_passage_holds() -> None:
    vocabulary = {"work": 0, "cost": 1}
    question = (
        "According to the op-ed, where does the writer work and how many writers left in 2021?"
    )
    # Stopwords, question words ("accord", "mani"), words under three letters, numbers and the
    # words the documents use are left out; "writer" and "writers" are one term.
    assert missing_words(question, vocabulary) == ["writer", "left"]


def at(degrees: float) -> np.ndarray:
    """A unit vector in the first plane, `degrees` away from the first axis."""
    return unit(np.cos(np.radians(degrees)), np.sin(np.radians(degrees)), 0)


def test_stand_ins_are_the_nearest_terms_above_the_bar_with_their_credit() -> None:
    # Cosines to the word: author 0.985, scribe 0.940, editor 0.866, paper 0.707, tiger 0.
    terms = ("author", "editor", "tiger", "paper", "scribe")
    vectors = np.stack([at(10), at(30), unit(0, 0, 1), at(45), at(20)])
    found = TermVectors(terms, vectors).stand_ins(["writers", "zebra"], np.stack([at(0), at(-90)]))
    assert list(found) == ["writer"]  # keyed by term; nothing is near "zebra"
    kept = [("author", 10), ("scribe", 20), ("editor", 30)]  # "paper" clears the bar, 4th
    assert [t for t, _ in found["writer"]] == [t for t, _ in kept]
    assert [c for _, c in found["writer"]] == pytest.approx(
        [neighbours.CREDIT * np.cos(np.radians(d)) for _, d in kept]
    )
    assert TermVectors.empty(3).stand_ins(["writer"], at(0)[None, :]) == {}


def test_notes_name_the_stand_ins_the_quoted_passages_hold() -> None:
    stand_ins = {
        "writer": [("author", 0.29), ("editor", 0.26)],
        "cost": [("expens", 0.22)],
        "pact": [("treati", 0.21)],
    }
    quoted = ["The editors and the Author agree.", "Its expenses grew."]
    question = "Did the writers and the writer say what the pact cost?"
    assert near_match_notes(question, stand_ins, quoted) == [
        'The documents never use "writers"; "author" and "editors" were read as near matches.',
        'The documents never use "cost"; "expenses" was read as a near match.',
    ]  # one note per word, in question order; nothing quoted holds a stand-in for "pact"
    assert near_match_notes(question, {}, quoted) == []


def test_spellings_pick_the_commonest_form_of_each_wanted_term() -> None:
    texts = ["Economies grow; the economy shrank.", "Economies and ECONOMIES. Fine 2021."]
    assert spellings(texts, {"economi", "fine"}) == {"economi": "economies", "fine": "fine"}
    # "other" is a stopword, so the term "other" can only come from "others".
    assert spellings(["The other one and the other two; others."], {"other"}) == {"other": "others"}


def test_term_vectors_keep_previous_rows_and_embed_only_new_terms(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    texts = ["Treaty talks in Beijing.", "Treaty signed.", "Film shown in 1961 in Beijing."]
    keywords = KeywordIndex.build(texts)
    asked: list[list[str]] = []

    def embed(words: list[str]) -> np.ndarray:
        asked.append(words)
        return np.stack([unit(len(w), 1, 0) for w in words])

    previous = TermVectors(("beij", "treati", "gone"), np.stack([unit(1, 0, 0)] * 3))
    made = build_term_vectors(
        keywords.passage_counts(), lambda: texts, embed, previous=previous, dimension=3
    )
    assert made.terms == ("beij", "film", "shown", "sign", "talk", "treati")
    assert asked == [["film", "shown", "signed", "talks"]]  # commonest spelling of each
    np.testing.assert_array_equal(made.vectors[0], unit(1, 0, 0))  # kept as it was
    np.testing.assert_array_equal(made.vectors[1], unit(4, 1, 0))  # "film"
    # The commonest terms only, by how many passages hold them.
    monkeypatch.setattr(neighbours, "MAX_TERMS", 2)
    capped = build_term_vectors(
        keywords.passage_counts(), lambda: texts, embed, previous=None, dimension=3
    )
    assert capped.terms == ("beij", "treati")
