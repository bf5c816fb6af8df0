"""The torch backend (the reference) and `load_embedder`, which picks the backend the settings name.

Backends sit behind `Embedder` (qa.embed.base); torch and onnxruntime are imported lazily.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qa.embed.base import Embedder, Progress, length_sorted_batches, model_name
from qa.errors import ModelError

if TYPE_CHECKING:
    from qa.settings import Settings


class TorchEmbedder:
    """The reference implementation: sentence-transformers on torch."""

    def __init__(self, model_path: Path) -> None:
        try:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(model_path), device="cpu", local_files_only=True)
        except Exception as exc:  # a broken folder raises anything from OSError to KeyError
            raise ModelError(
                f"Cannot load the embedding model from {model_path}: {exc}. "
                "Set QA_MODEL to a local sentence-transformers model folder."
            ) from exc
        self.model_name = model_name(model_path)
        dimension = self._model.get_embedding_dimension()
        assert dimension is not None
        self.dimension = int(dimension)

    def embed(
        self, texts: Sequence[str], *, batch_size: int = 32, progress: Progress | None = None
    ) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for batch in length_sorted_batches(texts, batch_size):
            vectors = self._model.encode(
                [texts[i] for i in batch], batch_size=len(batch), normalize_embeddings=True
            )
            out[batch] = vectors
            if progress is not None:
                progress(len(batch))
        return out


def load_embedder(settings: Settings) -> Embedder:
    if settings.backend == "torch":
        return TorchEmbedder(settings.model_path)
    from qa.embed.onnx import OnnxEmbedder

    return OnnxEmbedder.from_settings(settings)


class SharedEmbedder:
    """One model for builds and questions, created on first use (once, even when raced)."""

    def __init__(self, factory: Callable[[], Embedder]) -> None:
        self._factory = factory
        self._embedder: Embedder | None = None
        self._lock = threading.Lock()

    def __call__(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = self._factory()
            return self._embedder
