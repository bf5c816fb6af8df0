"""The export cache: one checked model.onnx per model folder, exported once and reused.

A cache folder is named after the model's identity (config bytes, the weights file's size and
mtime, the export format); export.json beside model.onnx vouches for it. Exporters in several
processes are serialised by a file lock, so a model is exported once.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qa.embed.base import model_name
from qa.embed.export import OPSET, export_onnx, temp_beside
from qa.errors import ModelError

__all__ = [
    "META_FILE",
    "ONNX_FILE",
    "ModelInfo",
    "ensure_export",
    "export_ok",
    "sha256_file",
]

# Bump when the exported graph or export.json changes meaning: old cache folders are then ignored.
EXPORT_FORMAT = 1
ONNX_FILE = "model.onnx"
META_FILE = "export.json"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
DEFAULT_MAX_SEQ_LENGTH = 256
EXPORT_ESTIMATE_S = 10  # measured ~8 s on 2 CPU cores, most of it loading torch


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


def export_ok(folder: Path, *, full: bool) -> bool:
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
    meta = _meta(info, onnx_path, seconds=time.perf_counter() - started)
    _write_atomic(folder / META_FILE, json.dumps(meta, indent=2) + "\n")


def _meta(info: ModelInfo, onnx_path: Path, *, seconds: float) -> dict[str, Any]:
    """export.json: what vouches for model.onnx (sha256, size, mtime) and how it was made."""
    import onnx
    import torch

    stat = onnx_path.stat()
    return {
        "format": EXPORT_FORMAT,
        "model_name": model_name(info.path),
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
        "export_seconds": round(seconds, 1),
    }


def ensure_export(info: ModelInfo, cache: Path, *, full_check: bool = False) -> Path:
    """The folder holding a checked model.onnx for this model, exporting it first if needed."""
    folder = cache / "onnx" / info.cache_key()
    if export_ok(folder, full=full_check):
        return folder
    from filelock import FileLock  # 50 ms to import: only on the cold path

    try:
        folder.mkdir(parents=True, exist_ok=True)
        # Serialise exporters across processes; the loser then finds the winner's export ready.
        with FileLock(folder.parent / f"{folder.name}.lock"):
            # Another process may have finished the export while we waited for the lock.
            if not export_ok(folder, full=full_check):
                _export_into(info, folder)
    except ModelError:
        raise
    except Exception as exc:  # torch/onnx raise anything; the user needs one actionable line
        raise ModelError(
            f"Exporting {info.path} to ONNX in {folder} failed: {exc}. "
            "Check the cache folder is writable (QA_CACHE), or use QA_BACKEND=torch."
        ) from exc
    return folder


def _write_atomic(path: Path, text: str) -> None:
    with temp_beside(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
        tmp.chmod(0o644)
        os.replace(tmp, path)
