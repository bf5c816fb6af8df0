"""Turn a sentence-transformers model into an ONNX graph: the one step that needs torch.

The graph holds the transformer only (token embeddings, before pooling); pooling and
normalisation run in numpy (qa.embed.onnx). torch is imported inside the functions, never at
module level, so importing this module stays cheap.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["INPUT_NAMES", "OPSET", "export_onnx", "temp_beside"]

OPSET = 17
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")


def export_onnx(model_path: Path, out_path: Path) -> None:
    """Export the transformer (token embeddings, before pooling) to `out_path`, atomically."""
    import warnings

    with warnings.catch_warnings():
        # Tracer and loader warnings are about code paths checked by _check_export below.
        warnings.simplefilter("ignore")
        wrapper = _load_for_export(model_path)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        with temp_beside(out_path) as tmp:
            _trace(wrapper, tmp)
            _check_export(tmp, wrapper)
            tmp.chmod(0o644)  # mkstemp makes it 0600; a shared cache must stay readable
            os.replace(tmp, out_path)


def _trace(wrapper: Any, onnx_path: Path) -> None:
    """Write the traced graph of `wrapper`, with batch and sequence length left free."""
    import torch

    # Padding in the dummy batch keeps the mask arithmetic in the graph instead of folded away.
    input_ids = torch.tensor([[101, 7592, 2088, 2003, 2204, 102], [101, 7592, 102, 0, 0, 0]])
    dummy = (input_ids, (input_ids != 0).long(), torch.zeros_like(input_ids))
    dynamic = {0: "batch", 1: "sequence"}
    with torch.inference_mode():
        torch.onnx.export(
            wrapper,
            dummy,
            str(onnx_path),
            input_names=list(INPUT_NAMES),
            output_names=["last_hidden_state"],
            dynamic_axes={**dict.fromkeys(INPUT_NAMES, dynamic), "last_hidden_state": dynamic},
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


def _load_for_export(model_path: Path) -> Any:
    """The bare transformer as a module taking (input_ids, attention_mask, token_type_ids)."""
    import torch

    transformer: Any = _load_quietly(model_path)[0].auto_model
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


def _load_quietly(model_path: Path) -> Any:
    """The sentence-transformers model, with eager attention and no progress bar."""
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    # The user sees our one "Exporting" line, not a weight-loading progress bar.
    bar_was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        # Eager attention: the SDPA path branches on mask contents in Python, which tracing freezes.
        return SentenceTransformer(
            str(model_path),
            device="cpu",
            local_files_only=True,
            model_kwargs={"attn_implementation": "eager"},
        )
    finally:
        if bar_was_on:
            hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]


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
def temp_beside(path: Path) -> Iterator[Path]:
    """A temp file beside `path` (same filesystem: os.replace is atomic), removed on error."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)  # already renamed away on success
