"""ONNX Runtime embedding backend: same vectors as `TorchEmbedder`, a fraction of the start-up cost.

The transformer is exported once (with torch, qa.embed.export) into a cache folder
(qa.embed.cache); afterwards only onnxruntime, tokenizers and numpy are imported, so nothing here
may import torch at module level. This module is the run time: the session, tokenising, pooling.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.embed.base import Progress, length_sorted_batches, model_name
from qa.embed.cache import ONNX_FILE, ModelInfo, ensure_export, export_ok
from qa.errors import ModelError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

    from qa.settings import Settings

__all__ = ["ONNX_BATCH", "OnnxEmbedder"]

# bench/embed_backends.py, 2 CPUs, quiet: batch 16 embeds 5,785 tok/s, 32 5,147, 64 4,938
# (length-sorted batches: a smaller one pads less and keeps its activations in cache).
ONNX_BATCH = 16


class OnnxEmbedder:
    """sentence-transformers mean pooling + normalisation on onnxruntime; no torch at run time."""

    def __init__(
        self, model_path: Path, onnx_folder: Path, *, intra_op_threads: int | None = None
    ) -> None:
        info = ModelInfo.read(model_path)
        self.model_name = model_name(model_path)
        self.dimension = info.dimension
        self.onnx_folder = onnx_folder
        self._session = _session(onnx_folder / ONNX_FILE, intra_op_threads or _usable_cpus())
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._tokenizer, self._pad_id = _tokenizer(model_path, info.max_seq_length)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, verify: bool = False, intra_op_threads: int | None = None
    ) -> OnnxEmbedder:
        """Load the cached export, exporting first if it is missing or fails its check.

        `verify=True` checks the full sha256 (~0.25 s) instead of size+mtime only.
        """
        info = ModelInfo.read(settings.model_path)
        folder = ensure_export(info, settings.cache, full_check=verify)
        try:
            return cls(settings.model_path, folder, intra_op_threads=intra_op_threads)
        except ModelError:
            if verify:
                raise
        # The cheap check passed but the file would not load: damaged in place, so check it
        # fully (re-exporting if the checksum disagrees) and try once more.
        folder = ensure_export(info, settings.cache, full_check=True)
        return cls(settings.model_path, folder, intra_op_threads=intra_op_threads)

    def verify(self) -> bool:
        """Whether model.onnx still matches the sha256 recorded at export (~0.25 s)."""
        return export_ok(self.onnx_folder, full=True)

    def embed(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = ONNX_BATCH,
        progress: Progress | None = None,
    ) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for batch in length_sorted_batches(texts, batch_size):
            out[batch] = self._embed_batch([texts[i] for i in batch])
            if progress is not None:
                progress(len(batch))
        return out

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        attention_mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": attention_mask,
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        # Constant folding may drop an input the graph ignores; feeding it anyway would raise.
        feeds = {k: v for k, v in feeds.items() if k in self._inputs}
        (hidden,) = self._session.run(["last_hidden_state"], feeds)
        return _mean_pool_normalise(np.asarray(hidden, dtype=np.float32), attention_mask)


def _session(onnx_path: Path, threads: int) -> Any:
    """An onnxruntime session on the CPU; ModelError when the file will not load."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1  # the graph is one chain; a second pool only adds wake-ups
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # keep ORT's optimiser chatter off the user's terminal
    # Idle ORT threads would spin on the cores the numpy work after each call needs.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ModelError(
            f"Cannot load {onnx_path}: {exc}. Delete that folder to re-export."
        ) from exc


def _tokenizer(model_path: Path, max_seq_length: int) -> tuple[Tokenizer, int]:
    """The model's tokenizer set up as sentence-transformers uses it, and its padding id."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
    # tokenizer.json ships with truncation at 128 and fixed padding to 128: override both
    # to match sentence-transformers (truncate at max_seq_length, pad to the batch's longest).
    tokenizer.enable_truncation(max_length=max_seq_length)
    found = tokenizer.token_to_id("[PAD]")
    pad_id = 0 if found is None else int(found)
    tokenizer.enable_padding(pad_id=pad_id, pad_token="[PAD]")
    return tokenizer, pad_id


def _usable_cpus() -> int:
    # Affinity, not os.cpu_count(): a container pinned to 2 of 64 host CPUs must not start 64.
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _mean_pool_normalise(hidden: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
    """sentence-transformers' Pooling(mean) + Normalize, in float32 like the torch path."""
    mask = attention_mask.astype(np.float32)[:, :, None]
    summed = (hidden * mask).sum(axis=1)
    pooled = summed / np.clip(mask.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    normalised: np.ndarray = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
    return normalised
