"""Property tests: the chunker on arbitrary text, document reading on arbitrary bytes.

The real word-piece tokenizer is used throughout (it is fast; the model is not loaded).
Hypothesis runs derandomized, so a failure here reproduces on every run.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import random
import time
from dataclasses import dataclass
from pathlib import Path

import docx
import pytest
from fakes import pdf_file
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from qa.errors import DocumentError
from qa.ingest.blocks import Block
from qa.ingest.chunking import ChunkParams, Chunks, chunk
from qa.ingest.documents import SUPPORTED_SUFFIXES, read_document
from qa.ingest.tokens import TokenCounter, token_counter
from qa.settings import Settings

COUNTER: TokenCounter = token_counter(Settings().model_path)
LIMIT = COUNTER.max_tokens
PROPERTY = settings(
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    database=None,
)


@dataclass(frozen=True)
class Text:
    source: str
    text: str
    blocks: tuple[Block, ...] = ()
    title: str = ""

    def page_at(self, offset: int) -> int | None:
        return None


SPECIAL = [
    "\r\n", "\n", "\n\n", "\r", "\x00", "\t", " ", "  ", "\x0b", "\x0c", "\x1c", "\x85",
    "\u2028", "\u2029", "\u200b", "\u202e", "\ufeff", "😀", "👩‍👩‍👧", "🇰🇷", "e\u0301",
    "שלום עולם", "مرحبا بالعالم", "한국어 문장", "中文句子。", "…", ".", "?!", "Dr.", "U.S.",
    "e.g.", "\"", "”", "(", ")", "-", "#", "* ", "1.", "\x7f", "\udcff"[:0],
]  # fmt: skip
WORDS = st.from_regex(r"[A-Z]?[a-z]{1,12}", fullmatch=True)
SENTENCE = st.builds(
    lambda words, end: " ".join(words) + end,
    st.lists(WORDS, min_size=1, max_size=40),
    st.sampled_from([".", "!", "?", "", ":", '."', "…"]),
)
PIECE = st.one_of(st.text(max_size=40), st.sampled_from(SPECIAL), SENTENCE)
TEXT = st.lists(PIECE, max_size=120).map("".join)
BIG_TEXT = st.tuples(TEXT, st.integers(1, 2000)).map(lambda t: (t[0] * t[1])[:100_000])
PARAMS = st.builds(
    ChunkParams,
    target_tokens=st.sampled_from([16, 64, 128, 250]),
    overlap_sentences=st.integers(0, 2),
)


def check_chunks(text: str, chunks: Chunks) -> None:
    covered = bytearray(len(text))
    for p in chunks.passages:
        assert 0 <= p.start < p.end <= len(text)
        assert text[p.start : p.end] == p.text
        assert p.lines == (text.count("\n", 0, p.start) + 1, text.count("\n", 0, p.end) + 1)
        assert COUNTER.count(p.embed_text) <= LIMIT, (p.start, p.end, p.heading)
        covered[p.start : p.end] = b"\x01" * (p.end - p.start)
    missing = [i for i, c in enumerate(text) if not c.isspace() and not covered[i]]
    assert missing == [], [repr(text[i]) for i in missing[:10]]
    for s in chunks.sentences:
        assert 0 <= s.start < s.end <= len(text)


@settings(PROPERTY, max_examples=100)
@given(text=TEXT, params=PARAMS)
@example(text="", params=ChunkParams())
@example(text="\n\n\n", params=ChunkParams())
@example(text="\x00", params=ChunkParams())
@example(text="\x00\x00 \x00.\n\n\x00", params=ChunkParams(16, 0))
@example(text="a\r\nb\r\n\r\nc", params=ChunkParams())
@example(text="Heading\n\n" * 50, params=ChunkParams(16, 1))
def test_chunker_on_arbitrary_text(text: str, params: ChunkParams) -> None:
    check_chunks(text, chunk(Text("t.txt", text), counter=COUNTER, params=params))


@settings(PROPERTY, max_examples=8)
@given(text=BIG_TEXT, params=PARAMS)
def test_chunker_on_big_arbitrary_text(text: str, params: ChunkParams) -> None:
    check_chunks(text, chunk(Text("t.txt", text), counter=COUNTER, params=params))


@settings(PROPERTY, max_examples=60)
@given(text=TEXT)
def test_chunker_is_deterministic(text: str) -> None:
    a = chunk(Text("t.txt", text), counter=COUNTER, params=ChunkParams())
    b = chunk(Text("t.txt", text), counter=COUNTER, params=ChunkParams())
    assert a == b


def mixed_text(size: int, seed: int) -> str:
    """Prose, lists, RTL, CJK, emoji, control characters and CRLFs, in random order."""
    rng = random.Random(seed)
    words = "the of korea peace treaty war history people china friendship year army".split()
    parts: list[str] = []
    total = 0
    while total < size:
        kind = rng.random()
        if kind < 0.6:
            n = rng.randint(3, 30)
            part = " ".join(rng.choice(words) for _ in range(n)).capitalize() + rng.choice(
                [". ", "! ", "? ", ".\n", "\n\n", ": "]
            )
        elif kind < 0.8:
            part = rng.choice(SPECIAL)
        else:
            ranges = [(32, 0x2FF), (0x590, 0x6FF), (0x4E00, 0x4FFF), (0x1F600, 0x1F64F), (0, 31)]
            part = "".join(chr(rng.randint(*rng.choice(ranges))) for _ in range(rng.randint(1, 20)))
        parts.append(part)
        total += len(part)
    return "".join(parts)[:size]


def test_chunker_on_one_megabyte() -> None:
    text = mixed_text(1_000_000, seed=1)
    started = time.perf_counter()
    chunks = chunk(Text("big.txt", text), counter=COUNTER, params=ChunkParams())
    seconds = time.perf_counter() - started
    check_chunks(text, chunks)
    print(f"1 MB mixed text: {len(chunks.passages)} passages in {seconds:.1f} s")
    assert seconds < 30


# --------------------------------------------------------------------------- document reading

SUFFIXES = [*sorted(SUPPORTED_SUFFIXES), ".doc", ""]
PREFIXES = [b"", b"%PDF-1.4\n", b"<html><body>", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff",
            b"\xff\xfe\x00\x00", b"PK\x03\x04", b"\x00"]  # fmt: skip


@settings(PROPERTY, max_examples=300)
@given(
    suffix=st.sampled_from(SUFFIXES),
    prefix=st.sampled_from(PREFIXES),
    data=st.binary(max_size=2000),
)
def test_reading_arbitrary_bytes_raises_only_document_error(
    tmp_path_factory: pytest.TempPathFactory, suffix: str, prefix: bytes, data: bytes
) -> None:
    root = tmp_path_factory.mktemp("bytes", numbered=True)
    path = root / f"doc{suffix}"
    raw = prefix + data
    path.write_bytes(raw)
    try:
        document = read_document(path, root=root)
    except DocumentError as exc:
        reason = str(exc)
        assert reason and "\n" not in reason and len(reason) <= 200
        return
    assert suffix in SUPPORTED_SUFFIXES
    assert document.source == f"doc{suffix}"
    assert document.size == len(raw)
    assert document.sha256 == hashlib.sha256(raw).hexdigest()
    assert "\r" not in document.text
    assert document.text.strip()
    assert list(document.pages) == sorted(document.pages)
    assert all(0 <= p <= len(document.text) for p in document.pages)
    check_chunks(
        document.text, chunk(document, counter=COUNTER, params=ChunkParams(target_tokens=64))
    )


@pytest.mark.parametrize(("suffix", "step"), [(".pdf", 7), (".docx", 61)])
def test_reading_a_file_truncated_at_every_point(tmp_path: Path, suffix: str, step: int) -> None:
    """A PDF or Word file cut short anywhere (a half-copied download) is skipped or read, never
    a crash."""
    data = _tiny_pdf() if suffix == ".pdf" else _tiny_docx()
    for cut in range(0, len(data), step):
        path = tmp_path / f"cut{cut}{suffix}"
        path.write_bytes(data[:cut])
        with contextlib.suppress(DocumentError):
            read_document(path, root=tmp_path)


def _tiny_docx() -> bytes:
    document = docx.Document()
    document.add_paragraph("Hello from a tiny Word document.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _tiny_pdf() -> bytes:
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 5 0 R "
        "/Resources << /Font << /F1 3 0 R >> >> >>",
    ]
    body = "BT /F1 12 Tf 72 720 Td (Hello from a tiny PDF.) Tj ET"
    objects.append(f"<< /Length {len(body)} >>\nstream\n{body}\nendstream")
    return pdf_file([obj.encode() for obj in objects])
