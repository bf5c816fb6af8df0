"""Tests for qa.index.keyword: BM25 scores and the share of a question's terms a passage holds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qa.index.keyword import QUESTION_WORDS, KeywordIndex, terms

TEXTS = [
    "The treaty was signed in Beijing in 1961.",
    "The treaty treaty treaty is still in force.",
    "Cinemas in Britain showed the film.",
]


def test_terms_are_stemmed_without_stopwords() -> None:
    assert terms("The treaties were signed, according to the 1961 records.") == [
        "treati",
        "sign",
        "accord",
        "1961",
        "record",
    ]
    assert {"accord", "mani", "much", "say", "said", "year"} <= QUESTION_WORDS


def test_bm25_ranks_the_passage_holding_more_of_the_question_first() -> None:
    index = KeywordIndex.build(TEXTS)
    scores = index.scores("Where was the treaty signed?")
    assert list(np.argsort(-scores)) == [0, 1, 2]
    assert scores[2] == 0.0


def test_coverage_is_the_idf_weighted_share_of_content_terms() -> None:
    index = KeywordIndex.build(TEXTS)
    # "when" and "year" ask for the kind of answer; they need not be in the passage.
    query = [(t, 1.0) for t in terms("In which year was the treaty signed in Beijing?")]
    coverage, in_corpus = index.coverage(query)
    idf = {t: index.idf(t) for t in ("treati", "sign", "beij")}
    assert idf["treati"] == pytest.approx(math.log(1 + 1.5 / 2.5))
    total = sum(idf.values())
    assert coverage.tolist() == pytest.approx([1.0, idf["treati"] / total, 0.0])
    assert in_corpus == pytest.approx(1.0)


def test_coverage_counts_a_repeated_term_once_at_its_largest_weight() -> None:
    index = KeywordIndex.build(TEXTS)
    coverage, in_corpus = index.coverage([("treati", 0.5), ("film", 1.0), ("treati", 1.0)])
    total = index.idf("treati") + index.idf("film")
    assert coverage.tolist() == pytest.approx(
        [index.idf("treati") / total, index.idf("treati") / total, index.idf("film") / total]
    )
    assert in_corpus == pytest.approx(1.0)


def test_coverage_of_terms_no_passage_has_nor_any_content() -> None:
    index = KeywordIndex.build(TEXTS)
    coverage, in_corpus = index.coverage([("volcano", 1.0), ("treati", 1.0)])
    assert in_corpus == pytest.approx(
        index.idf("treati") / (index.idf("treati") + index.idf("volcano"))
    )
    assert coverage[2] == 0.0
    empty, nothing = index.coverage([("mani", 1.0)])
    assert empty.tolist() == [0.0, 0.0, 0.0] and nothing == 0.0


def test_content_shares_leave_out_question_words_and_sum_to_one() -> None:
    index = KeywordIndex.build(TEXTS)
    shares = index.content_shares([(t, 1.0) for t in terms("Which year was the film shown?")])
    idf = {t: index.idf(t) for t in ("film", "shown")}
    assert shares == pytest.approx({t: v / sum(idf.values()) for t, v in idf.items()})
    assert index.content_shares([("year", 1.0), ("mani", 1.0)]) == {}


def test_a_stand_in_gives_its_credit_of_a_missing_terms_share() -> None:
    index = KeywordIndex.build(TEXTS)
    # "pact" is in no passage; "treati" and "film" stand in for it at credits 0.24 and 0.2.
    stand_ins = {"pact": [("treati", 0.24), ("film", 0.2), ("volcano", 0.3)]}
    query = [("pact", 1.0), ("beij", 1.0)]
    coverage, in_corpus = index.coverage(query, stand_ins=stand_ins)
    total = index.idf("pact") + index.idf("beij")
    pact, beijing = index.idf("pact") / total, index.idf("beij") / total
    assert coverage.tolist() == pytest.approx([beijing + 0.24 * pact, 0.24 * pact, 0.2 * pact])
    assert in_corpus == pytest.approx(beijing)  # stand-ins never make the corpus look on topic
    # A term the passages do hold keeps its full share and ignores stand-ins.
    held, _ = index.coverage([("film", 1.0)], stand_ins={"film": [("treati", 0.3)]})
    assert held.tolist() == pytest.approx([0.0, 0.0, 1.0])
