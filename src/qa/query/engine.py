"""The query path: question (+ history, + document filter) -> Answer.

Everything it needs is loaded when the engine opens; a question costs one embedding (cached)
and in-memory search. `swap` installs a freshly built index without stopping queries.
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

from qa.embed.base import Embedder, model_name
from qa.embed.embedder import load_embedder
from qa.errors import IndexCorruptError, UnknownSourceError
from qa.index.built import Index, load
from qa.index.neighbours import missing_words, near_match_notes
from qa.index.store import RUN_QA_INDEX
from qa.ingest.tokens import SPECIAL_TOKENS, TokenCounter, token_counter
from qa.query.answer import EMPTY_QUESTION, Answer, Policy, answerability, compose
from qa.query.calibration import Calibration, cached_calibration, calibrate
from qa.query.lru import Lru
from qa.query.search import Query, Retrieval, Searcher, Weights, keyword_query
from qa.query.sources import unknown_sources_message
from qa.settings import Settings

CACHE_SIZE = 1024
HISTORY_WEIGHT = 0.5  # how much the previous question steers a follow-up
ANSWER_WEIGHT = 0.5  # how much the previous answer steers a short follow-up ("Where?")
SHORT_FOLLOW_UP = 0  # content words at most in a follow-up steered by the previous answer
FOLLOW_CHAIN = 4  # questions back that a chain of short follow-ups ("Who?" "Where?") reaches
_CONTINUES = re.compile(r"\s*(?:and|so|but|then|also|what about|how about)\b", re.IGNORECASE)
_MARKER = re.compile(r"\s*\[\d+\]")
_FOLLOW_UP = re.compile(
    r"\b(it|its|he|him|his|she|her|hers|they|them|their|theirs|this|that|these|those|there|"
    r"then|the same|the film|the book|the article|the author)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _Loaded:
    index: Index
    searcher: Searcher
    sources: frozenset[str]

    @classmethod
    def of(cls, index: Index, weights: Weights) -> _Loaded:
        sources = frozenset(d.source for d in index.documents)
        return cls(index, Searcher(index, weights=weights), sources)


class Engine:
    def __init__(
        self,
        settings: Settings,
        index: Index,
        *,
        embedder_factory: Callable[[], Embedder] | None = None,
        policy: Policy | None = None,
        weights: Weights | None = None,
    ) -> None:
        self.settings = settings
        self.policy = policy or Policy()
        self.weights = weights or Weights()
        self._factory = embedder_factory or (lambda: load_embedder(settings))
        self._embedder: Embedder | None = None
        self._embedder_lock = threading.Lock()
        self._counter = token_counter(settings.model_path)
        self._loaded = _Loaded.of(index, self.weights)
        self._answers: Lru[Answer] = Lru(CACHE_SIZE)
        self._vectors: Lru[np.ndarray] = Lru(CACHE_SIZE)
        self._calibration_lock = threading.Lock()
        self._calibration: tuple[_Loaded, Calibration] | None = None

    @classmethod
    def open(
        cls, settings: Settings, *, embedder_factory: Callable[[], Embedder] | None = None
    ) -> Engine:
        index = load(settings.index)
        check_model(index, settings)
        return cls(settings, index, embedder_factory=embedder_factory)

    @property
    def index(self) -> Index:
        return self._loaded.index

    def swap(self, index: Index) -> None:
        """Serve a new index; questions already running finish on the old one."""
        check_model(index, self.settings)
        self._loaded = _Loaded.of(index, self.weights)
        self._answers.clear()

    def clear_caches(self) -> None:
        """Forget cached answers and query vectors (benchmarks measure the real work)."""
        self._answers.clear()
        self._vectors.clear()

    def retrieve(self, question: str, history: Sequence[str] = ()) -> tuple[Query, Retrieval]:
        """The query and ranked hits behind an answer, for tuning and inspection."""
        text, _ = clean_question(question, self._counter)
        k = self.settings.top_k
        query = self._query(text, *self._steering(text, tuple(history[-FOLLOW_CHAIN:]), None, k))
        return query, self._loaded.searcher.search(query, k=k)

    def warm(self) -> None:
        """Load the model and measure the bar for answering now, not on the first question."""
        self._embed(["warm up"])
        self._policy(self._loaded)

    def ask(
        self,
        question: str,
        *,
        history: Sequence[str] = (),
        sources: Collection[str] | None = None,
        top_k: int | None = None,
    ) -> Answer:
        """UnknownSourceError when `sources` names a document the index does not hold."""
        self.check_sources(sources)
        k = top_k or self.settings.top_k
        recent = tuple(history[-FOLLOW_CHAIN:])
        key = (question, recent, tuple(sorted(sources)) if sources is not None else None, k)
        cached = self._answers.get(key)
        if cached is not None:
            return cached
        answer = self._ask(question, recent, sources, k)
        self._answers.put(key, answer)
        return answer

    def check_sources(self, sources: Collection[str] | None) -> None:
        """UnknownSourceError naming the documents of `sources` not in the index, and the
        indexed names closest to the first: a filter naming none is the user's typo, and
        answering "not found" would hide it."""
        known = self._loaded.sources
        unknown = [s for s in dict.fromkeys(sources or ()) if s not in known]
        if unknown:
            raise UnknownSourceError(unknown_sources_message(unknown, sorted(known)))

    def _ask(
        self, question: str, history: tuple[str, ...], sources: Collection[str] | None, k: int
    ) -> Answer:
        text, notes = clean_question(question, self._counter)
        if not text:
            return Answer(question, EMPTY_QUESTION, True, (), notes)
        loaded = self._loaded
        query = self._query(text, *self._steering(text, history, sources, k))
        allowed = loaded.searcher.rows_of(set(sources)) if sources is not None else None
        retrieval = loaded.searcher.search(query, k=k, allowed=allowed)
        # A follow-up leaning on an earlier question stays on its subject: the calibrated bar
        # guards fresh questions against other subjects, the policy's floor guards follow-ups.
        leaning = bool(history) and (is_follow_up(text) or _CONTINUES.match(text) is not None)
        policy = self.policy if leaning else self._policy(loaded)
        answer = compose(question, retrieval, loaded.searcher, policy=policy, notes=notes)
        quoted = [p.text for p in answer.passages if p.answer_spans]
        near = near_match_notes(text, query.stand_ins, quoted)
        return replace(answer, notes=(*answer.notes, *near)) if near else answer

    def _policy(self, loaded: _Loaded) -> Policy:
        """The policy with its bar for answering measured on this index (once per index)."""
        if not self.policy.calibrated:
            return self.policy
        with self._calibration_lock:
            if self._calibration is None or self._calibration[0] is not loaded:
                measure = functools.partial(calibrate, functools.partial(self._probe, loaded))
                folder = self.settings.cache / "calibration"
                found = cached_calibration(folder, loaded.index.manifest, measure)
                self._calibration = (loaded, found)
            bar = self._calibration[1].abstain_below(self.policy.abstain_below)
        return replace(self.policy, abstain_below=bar)

    def _probe(self, loaded: _Loaded, question: str) -> float:
        retrieval = loaded.searcher.search(self._query(question), k=self.settings.top_k)
        return answerability(retrieval.hits[0], retrieval) if retrieval.hits else 0.0

    def _steering(
        self, text: str, history: tuple[str, ...], sources: Collection[str] | None, k: int
    ) -> tuple[str, str]:
        """What steers a follow-up: the previous question, and for a short one ("Where?") also
        the first quote of its answer (the question asked again as it was, with the questions
        before it: cached in a conversation, and the same for the page, the API and the CLI,
        which send only questions). Only the first quote: a runner-up sentence steered "When
        was that?" away from the film's premiere on the seeds."""
        if not history or not is_follow_up(text):
            return "", ""
        previous = clean_question(history[-1], self._counter)[0]
        if not is_short_follow_up(text):
            return previous, ""
        said = self.ask(history[-1], history=history[:-1], sources=sources, top_k=k)
        return previous, "" if said.abstained else _MARKER.split(said.answer, maxsplit=1)[0]

    def _query(self, text: str, previous: str = "", said: str = "") -> Query:
        index = self._loaded.index
        vector = self._embed([text])[0]
        # The words go in a call of their own: a text's vector must not depend on its batch.
        missing = missing_words(text, index.backend.passage_counts())
        word_vectors = self._embed(missing) if missing else []
        weighted = keyword_query(text)
        steering = [
            (t, weight) for t, weight in ((previous, HISTORY_WEIGHT), (said, ANSWER_WEIGHT)) if t
        ]
        for steer, weight in steering:
            vector = vector + weight * self._embed([steer])[0]
            weighted += keyword_query(steer, weight=weight)
        if steering:
            vector = vector / np.linalg.norm(vector)
        stand_ins = index.term_vectors.stand_ins(missing, np.array(word_vectors))
        return Query(vector.astype(np.float32), weighted, stand_ins)

    def _embed(self, texts: list[str]) -> list[np.ndarray]:
        """Vectors of the texts, the uncached ones in one call to the model."""
        found = {t: v for t in texts if (v := self._vectors.get(t)) is not None}
        todo = list(dict.fromkeys(t for t in texts if t not in found))
        if todo:
            for text, vector in zip(todo, self._model().embed(todo), strict=True):
                self._vectors.put(text, vector)
                found[text] = vector
        return [found[t] for t in texts]

    def _model(self) -> Embedder:
        with self._embedder_lock:
            if self._embedder is None:
                self._embedder = self._factory()
            return self._embedder


def single_threaded_blas() -> Any:
    """Run the BLAS of numpy and FAISS on the calling thread only, from now on in this process;
    returns the limiter (a context manager: leaving it restores the previous threads).

    A question's matrix work is a few small products: BLAS worker threads add nothing there,
    but they spin after each product on the cores the model runtime needs next (see
    bench/query_latency.py). The edges (CLI, app) call this; a program using qa as a library
    decides for its own process.
    """
    return ThreadpoolController().limit(limits=1, user_api="blas")


def check_model(index: Index, settings: Settings) -> None:
    expected = model_name(settings.model_path)
    if index.model_name != expected:
        raise IndexCorruptError(
            f"The index in {settings.index} was built with the model {index.model_name!r}, "
            f"but the configured model is {expected!r}. {RUN_QA_INDEX}"
        )


def is_follow_up(question: str) -> bool:
    """Leans on the previous question: a pronoun, or too few words to stand alone."""
    return bool(_FOLLOW_UP.search(question)) or len(keyword_query(question)) <= 2


def is_short_follow_up(question: str) -> bool:
    """Too short to say what it is about ("Where?", "Who was it?"): the previous answer does."""
    return len(keyword_query(question)) <= SHORT_FOLLOW_UP


def clean_question(question: str, counter: TokenCounter) -> tuple[str, tuple[str, ...]]:
    """Printable text cut to what the model reads, with a note when something was cut."""
    text = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in question)
    text = " ".join(text.split())
    limit = counter.max_tokens - SPECIAL_TOKENS
    offsets = counter.offsets(text[: limit * 40])  # no word piece is longer than 40 chars
    if len(offsets) <= limit:
        return text, ()
    cut = offsets[limit - 1][1]
    note = (
        f"Your question is long: only its first {cut} characters "
        f"({limit} word pieces, what the model reads) were used."
    )
    return text[:cut], (note,)
