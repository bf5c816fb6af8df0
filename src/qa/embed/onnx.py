"""ONNX Runtime embedding backend: same vectors as `TorchEmbedder`, a fraction of the start-up cost.

The transformer is exported once (with torch) into a cache folder; afterwards only onnxruntime,
tokenizers and numpy are imported, so nothing here may import torch at module level.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.embed.embedder import Progress, length_sorted_batches, model_name
from qa.errors import ModelError

if TYPE_CHECKING:
    from qa.settings import Settings

# Bump when the exported graph or export.json changes meaning: old cache folders are then ignored.
EXPORT_FORMAT = 1
OPSET = 17
ONNX_FILE = "model.onnx"
META_FILE = "export.json"
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
DEFAULT_MAX_SEQ_LENGTH = 256
EXPORT_ESTIMATE_S = 10  # measured ~8 s on 2 CPU cores, most of it loading torch


# bench/embed_backends.py, 2 CPUs, quiet: batch 16 embeds 5,785 tok/s, 32 5,147, 64 4,938
# (length-sorted batches: a smaller one pads less and keeps its activations in cache).
ONNX_BATCH = 16


# --------------------------------------------------------------------------- export (needs torch)


def export_onnx(model_path: Path, out_path: Path) -> None:
    """Export the transformer (token embeddings, before pooling) to `out_path`, atomically."""
    import warnings

    import torch

    with warnings.catch_warnings():
        # Tracer and loader warnings are about code paths checked by _check_export below.
        warnings.simplefilter("ignore")
        wrapper = _load_for_export(model_path)
        # Padding in the dummy batch keeps the mask arithmetic in the graph instead of folded away.
        input_ids = torch.tensor([[101, 7592, 2088, 2003, 2204, 102], [101, 7592, 102, 0, 0, 0]])
        dummy = (input_ids, (input_ids != 0).long(), torch.zeros_like(input_ids))
        dynamic = {0: "batch", 1: "sequence"}
        out_path.parent.mkdir(parents=True, exist_ok=True)
        with _temp_beside(out_path) as tmp:
            with torch.inference_mode():
                torch.onnx.export(
                    wrapper,
                    dummy,
                    str(tmp),
                    input_names=list(INPUT_NAMES),
                    output_names=["last_hidden_state"],
                    dynamic_axes={
                        **dict.fromkeys(INPUT_NAMES, dynamic),
                        "last_hidden_state": dynamic,
                    },
                    opset_version=OPSET,
                    do_constant_folding=True,
                    dynamo=False,
                )
            _check_export(tmp, wrapper)
            tmp.chmod(0o644)  # mkstemp makes it 0600; a shared cache must stay readable
            os.replace(tmp, out_path)


def _load_for_export(model_path: Path) -> Any:
    """The bare transformer as a module taking (input_ids, attention_mask, token_type_ids)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    # The user sees our one "Exporting" line, not a weight-loading progress bar.
    bar_was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        # Eager attention: the SDPA path branches on mask contents in Python, which tracing freezes.
        st_model = SentenceTransformer(
            str(model_path),
            device="cpu",
            local_files_only=True,
            model_kwargs={"attn_implementation": "eager"},
        )
    finally:
        if bar_was_on:
            hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]
    transformer: Any = st_model[0].auto_model
    transformer.config._attn_implementation = "eager"

    class LastHiddenState(torch.nn.Module):
        # A positional signature pins the ONNX input order and drops the dict output.
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor,
        ) -> torch.Tensor:
            out = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state  # type: ignore[no-any-return]

    return LastHiddenState(transformer.eval()).eval()


def _check_export(onnx_path: Path, wrapper: Any) -> None:
    """Fail the export if the trace froze a shape: compare with torch on another batch/length."""
    import onnxruntime as ort
    import torch

    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(1000, 20000, (3, 23), generator=generator)
    input_ids[:, 0], input_ids[0, 9:] = 101, 0  # one padded row, two full ones
    attention_mask = (input_ids != 0).long()
    token_type_ids = torch.zeros_like(input_ids)
    with torch.inference_mode():
        expected = wrapper(input_ids, attention_mask, token_type_ids).numpy()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    feeds = {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "token_type_ids": token_type_ids,
    }
    names = {i.name for i in session.get_inputs()}
    (actual,) = session.run(None, {k: v.numpy() for k, v in feeds.items() if k in names})
    valid = attention_mask.numpy().astype(bool)  # padded positions are free to differ
    error = float(np.abs(actual[valid] - expected[valid]).max())
    if error > 1e-3:
        raise RuntimeError(f"the exported graph does not generalise (max abs error {error:.2g})")


@contextlib.contextmanager
def _temp_beside(path: Path) -> Iterator[Path]:
    """A temp file beside `path` (same filesystem: os.replace is atomic), removed on error."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)  # already renamed away on success


def _write_atomic(path: Path, text: str) -> None:
    with _temp_beside(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
        tmp.chmod(0o644)
        os.replace(tmp, path)


# --------------------------------------------------------------------------- the export cache


@dataclass(frozen=True)
class ModelInfo:
    """What the embedder needs from a sentence-transformers folder, read without torch."""

    path: Path
    weights: Path
    max_seq_length: int
    dimension: int

    @classmethod
    def read(cls, model_path: Path) -> ModelInfo:
        hint = (
            "Set QA_MODEL to a local sentence-transformers model folder "
            "(or unset it to use the bundled all-MiniLM-L6-v2)."
        )
        if not model_path.is_dir():
            raise ModelError(f"Embedding model folder {model_path} does not exist. {hint}")
        missing = [n for n in ("config.json", "tokenizer.json") if not (model_path / n).is_file()]
        weights = next((model_path / n for n in WEIGHT_FILES if (model_path / n).is_file()), None)
        if weights is None:
            missing.append(" or ".join(WEIGHT_FILES))
        if missing or weights is None:
            raise ModelError(
                f"Embedding model folder {model_path} lacks {', '.join(missing)}. {hint}"
            )
        st_config = _read_json(model_path / "sentence_bert_config.json")
        pooling = _read_json(model_path / "1_Pooling" / "config.json")
        # Only mean pooling is implemented; using it for a CLS-pooled model gives wrong vectors.
        if pooling and not pooling.get("pooling_mode_mean_tokens", False):
            raise ModelError(
                f"{model_path} uses a pooling mode other than mean tokens, which the ONNX backend "
                "does not implement. Use QA_BACKEND=torch for this model."
            )
        dimension = pooling.get("word_embedding_dimension") or _read_json(
            model_path / "config.json"
        ).get("hidden_size")
        if not isinstance(dimension, int):
            raise ModelError(f"Cannot tell the embedding size of {model_path}. {hint}")
        max_len = st_config.get("max_seq_length", DEFAULT_MAX_SEQ_LENGTH)
        return cls(model_path, weights, int(max_len), dimension)

    def cache_key(self) -> str:
        """Identity of the model folder, cheap: config bytes + the weights file's size and mtime."""
        stat = self.weights.stat()
        digest = hashlib.sha256()
        digest.update((self.path / "config.json").read_bytes())
        digest.update(f"|{self.weights.name}|{stat.st_size}|{stat.st_mtime_ns}".encode())
        digest.update(f"|format={EXPORT_FORMAT}|opset={OPSET}".encode())
        return f"{model_name(self.path)}-{digest.hexdigest()[:16]}"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ModelError(f"Cannot read {path}: {exc}") from exc
    return data if isinstance(data, dict) else {}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _export_ok(folder: Path, *, full: bool) -> bool:
    """Size+mtime against export.json on the hot path (a full sha256 costs ~0.23 s here, half the
    measured 0.5 s start); `full` adds the sha256 for verify() and after a failed load."""
    meta = _load_meta(folder)
    onnx_path = folder / ONNX_FILE
    try:
        stat = onnx_path.stat()
    except OSError:
        return False
    cheap = (
        meta.get("format") == EXPORT_FORMAT
        and meta.get("size") == stat.st_size
        and meta.get("mtime_ns") == stat.st_mtime_ns
        and isinstance(meta.get("sha256"), str)
    )
    return cheap and (not full or sha256_file(onnx_path) == meta["sha256"])


def _load_meta(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _export_into(info: ModelInfo, folder: Path) -> None:
    name = model_name(info.path)
    print(
        f"Exporting {name} to ONNX (one time, ~{EXPORT_ESTIMATE_S} s)...",
        file=sys.stderr,
        flush=True,
    )
    # A stale export.json must never vouch for a new model.onnx, even for a moment.
    (folder / META_FILE).unlink(missing_ok=True)
    started = time.perf_counter()
    onnx_path = folder / ONNX_FILE
    export_onnx(info.path, onnx_path)
    import onnx
    import torch

    stat = onnx_path.stat()
    meta = {
        "format": EXPORT_FORMAT,
        "model_name": name,
        "source": str(info.path.resolve()),
        "weights": info.weights.name,
        "max_seq_length": info.max_seq_length,
        "opset": OPSET,
        "sha256": sha256_file(onnx_path),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "export_seconds": round(time.perf_counter() - started, 1),
    }
    _write_atomic(folder / META_FILE, json.dumps(meta, indent=2) + "\n")


def ensure_export(info: ModelInfo, cache: Path, *, full_check: bool = False) -> Path:
    """The folder holding a checked model.onnx for this model, exporting it first if needed."""
    folder = cache / "onnx" / info.cache_key()
    if _export_ok(folder, full=full_check):
        return folder
    from filelock import FileLock  # 50 ms to import: only on the cold path

    try:
        folder.mkdir(parents=True, exist_ok=True)
        # Serialise exporters across processes; the loser then finds the winner's export ready.
        with FileLock(folder.parent / f"{folder.name}.lock"):
            # Another process may have finished the export while we waited for the lock.
            if not _export_ok(folder, full=full_check):
                _export_into(info, folder)
    except ModelError:
        raise
    except Exception as exc:  # torch/onnx raise anything; the user needs one actionable line
        raise ModelError(
            f"Exporting {info.path} to ONNX in {folder} failed: {exc}. "
            "Check the cache folder is writable (QA_CACHE), or use QA_BACKEND=torch."
        ) from exc
    return folder


# --------------------------------------------------------------------------- the embedder


class OnnxEmbedder:
    """sentence-transformers mean pooling + normalisation on onnxruntime; no torch at run time."""

    def __init__(
        self, model_path: Path, onnx_folder: Path, *, intra_op_threads: int | None = None
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        info = ModelInfo.read(model_path)
        self.model_name = model_name(model_path)
        self.dimension = info.dimension
        self.onnx_folder = onnx_folder

        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads or _usable_cpus()
        options.inter_op_num_threads = 1  # the graph is one chain; a second pool only adds wake-ups
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # keep ORT's optimiser chatter off the user's terminal
        # Idle ORT threads would spin on the cores the numpy work after each call needs.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(
                str(onnx_folder / ONNX_FILE), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise ModelError(
                f"Cannot load {onnx_folder / ONNX_FILE}: {exc}. Delete that folder to re-export."
            ) from exc
        self._inputs = {i.name for i in self._session.get_inputs()}

        tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
        # tokenizer.json ships with truncation at 128 and fixed padding to 128: override both
        # to match sentence-transformers (truncate at max_seq_length, pad to the batch's longest).
        tokenizer.enable_truncation(max_length=info.max_seq_length)
        pad_id = tokenizer.token_to_id("[PAD]")
        self._pad_id = 0 if pad_id is None else int(pad_id)
        tokenizer.enable_padding(pad_id=self._pad_id, pad_token="[PAD]")
        self._tokenizer = tokenizer

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
        return _export_ok(self.onnx_folder, full=True)

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
