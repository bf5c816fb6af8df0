"""A deterministic stand-in for the model: hashed bag of stemmed words, L2-normalised."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import numpy as np

from qa.index.keyword import terms

DIMENSION = 384


class FakeEmbedder:
    model_name = "fake-hashing-embedder"
    dimension = DIMENSION

    def __init__(self) -> None:
        self.calls: list[int] = []  # number of texts per embed() call, for incremental tests

    def embed(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 32,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        self.calls.append(len(texts))
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        for row, text in enumerate(texts):
            for term in terms(text) or ["<empty>"]:
                digest = hashlib.blake2b(term.encode(), digest_size=8).digest()
                out[row, int.from_bytes(digest[:4], "little") % DIMENSION] += 1.0
            out[row] /= np.linalg.norm(out[row])
        if progress is not None:
            progress(len(texts))
        return out


def pdf_file(objects: list[bytes]) -> bytes:
    """A PDF of `objects` (object 1 the catalog), with the cross-reference table readers need."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, obj)
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)
