"""The ONNX backend against the torch reference, on the real bundled model (exported once)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from qa.embed import cache as export_cache
from qa.embed.base import model_name
from qa.embed.cache import META_FILE, ONNX_FILE, ModelInfo, ensure_export
from qa.embed.embedder import TorchEmbedder
from qa.embed.onnx import OnnxEmbedder
from qa.errors import ModelError
from qa.settings import Settings, bundled_model_path

pytestmark = pytest.mark.integration

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
SRC = Path(__file__).resolve().parents[1] / "src"
QUESTIONS = [
    "Who directed The Battle at Lake Changjin?",
    "When was the Korean Provisional Government founded?",
    "what year?",
    "Kim Gu",
    "",
    "   ",
    "Ünïcödé — “quotes” and émojis 🙂?",
]


def passages() -> list[str]:
    """Each blank-line-separated chunk of the seeds, plus joined neighbours well over 256 tokens."""
    chunks: list[str] = []
    for path in sorted(SEEDS.glob("*.txt")):
        parts = re.split(r"\n\s*\n", path.read_text(encoding="utf-8"))
        chunks.extend(p.strip() for p in parts if p.strip())
    joined = [" ".join(chunks[i : i + 6]) for i in range(0, len(chunks), 15)]
    return chunks + joined


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # Rows are already unit length; dividing anyway keeps a broken norm from hiding a mismatch.
    dots = (a.astype(np.float64) * b).sum(axis=1)
    return dots / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("qa-cache")


@pytest.fixture(scope="module")
def settings(cache: Path) -> Settings:
    return Settings(cache=cache, backend="onnx")


@pytest.fixture(scope="module")
def onnx(settings: Settings) -> OnnxEmbedder:
    return OnnxEmbedder.from_settings(settings)  # exports into the fresh cache: once per module


@pytest.fixture(scope="module")
def torch_embedder() -> TorchEmbedder:
    return TorchEmbedder(bundled_model_path())


def test_export_records_its_provenance(onnx: OnnxEmbedder) -> None:
    meta = json.loads((onnx.onnx_folder / META_FILE).read_text())
    assert meta["size"] == (onnx.onnx_folder / ONNX_FILE).stat().st_size
    assert meta["source"] == str(bundled_model_path().resolve())
    assert {"sha256", "torch", "onnx", "opset"} <= meta.keys()
    assert onnx.verify()


def test_matches_torch_on_every_seed_passage(
    onnx: OnnxEmbedder, torch_embedder: TorchEmbedder
) -> None:
    texts = passages() + QUESTIONS
    assert sum(len(t.split()) > 256 for t in texts) >= 5  # truncation at max_seq_length exercised
    expected = torch_embedder.embed(texts, batch_size=16)
    actual = onnx.embed(texts, batch_size=16)
    assert actual.dtype == np.float32 and actual.shape == (len(texts), 384)
    np.testing.assert_allclose(np.linalg.norm(actual, axis=1), 1.0, atol=1e-5)
    worst = cosines(actual, expected).min()
    assert worst >= 0.9999, f"worst cosine {worst:.6f}"
    assert onnx.model_name == torch_embedder.model_name == model_name(bundled_model_path())
    assert onnx.dimension == torch_embedder.dimension


def test_batching_does_not_change_vectors(onnx: OnnxEmbedder) -> None:
    chunks = sorted(passages(), key=len)
    texts = chunks[-3:] + chunks[::20] + QUESTIONS  # one batch padded to 256: mostly padding
    batched = onnx.embed(texts, batch_size=len(texts))
    single = np.vstack([onnx.embed([t]) for t in texts])
    assert cosines(batched, single).min() >= 0.99999


def test_progress_and_empty_input(onnx: OnnxEmbedder) -> None:
    seen: list[int] = []
    onnx.embed(QUESTIONS, batch_size=3, progress=seen.append)
    assert seen == [3, 3, 1]
    assert onnx.embed([]).shape == (0, 384)


def test_existing_export_runs_without_torch(onnx: OnnxEmbedder, cache: Path) -> None:
    script = textwrap.dedent(
        """
        import json, sys, time
        from pathlib import Path
        from qa.embed.onnx import OnnxEmbedder
        from qa.settings import Settings
        embedder = OnnxEmbedder.from_settings(Settings(cache=Path(sys.argv[1])))
        vector = embedder.embed(["how long does start-up take?"])
        heavy = [m for m in ("torch", "transformers", "sentence_transformers") if m in sys.modules]
        print(json.dumps({"heavy": heavy, "shape": list(vector.shape)}))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(SRC), "HF_HUB_OFFLINE": "1"}
    started = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-c", script, str(cache)], env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result == {"heavy": [], "shape": [1, 384]}
    assert "Exporting" not in run.stderr
    assert elapsed < 3.0  # ~0.6 s on 2 cores; generous for a loaded CI box


def copy_cache(cache: Path, dest: Path) -> Path:
    """A private copy of the export (mtimes kept), so tests that damage it don't race the others."""
    shutil.copytree(cache / "onnx", dest / "onnx", ignore=shutil.ignore_patterns("*.lock"))
    return dest


def flip_bytes_in_place(path: Path, *, keep_mtime: bool) -> None:
    stat = path.stat()
    with open(path, "r+b") as handle:  # middle of the file: inside an initializer's raw weights
        handle.seek(stat.st_size // 2)
        chunk = handle.read(64)
        handle.seek(stat.st_size // 2)
        handle.write(bytes(b ^ 0xFF for b in chunk))
    if keep_mtime:
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size


def test_corruption_behind_the_hot_path_is_caught_by_verify(
    onnx: OnnxEmbedder, cache: Path, tmp_path: Path
) -> None:
    settings = Settings(cache=copy_cache(cache, tmp_path))
    damaged = OnnxEmbedder.from_settings(settings)
    flip_bytes_in_place(damaged.onnx_folder / ONNX_FILE, keep_mtime=True)
    assert not damaged.verify()  # size and mtime match, so only the sha256 can tell

    repaired = OnnxEmbedder.from_settings(settings, verify=True)  # re-exports for real
    assert repaired.verify()
    probe = [*QUESTIONS[:2], passages()[0]]
    assert cosines(repaired.embed(probe), onnx.embed(probe)).min() >= 0.99999


def test_changed_file_is_reexported_on_the_hot_path(
    onnx: OnnxEmbedder, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(cache=copy_cache(cache, tmp_path))
    target = tmp_path / "onnx" / onnx.onnx_folder.name / ONNX_FILE
    flip_bytes_in_place(target, keep_mtime=False)
    good = onnx.onnx_folder / ONNX_FILE
    exports: list[Path] = []

    def fake_export(model_path: Path, out_path: Path) -> None:
        exports.append(out_path)  # the real export is covered above; this test is about when
        shutil.copyfile(good, out_path)

    monkeypatch.setattr(export_cache, "export_onnx", fake_export)
    assert OnnxEmbedder.from_settings(settings).verify()
    assert exports == [target]


def test_concurrent_exports_run_once(
    onnx: OnnxEmbedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exports: list[Path] = []

    def slow_export(model_path: Path, out_path: Path) -> None:
        exports.append(out_path)
        time.sleep(0.3)  # long enough for the other thread to reach the lock
        shutil.copyfile(onnx.onnx_folder / ONNX_FILE, out_path)

    monkeypatch.setattr(export_cache, "export_onnx", slow_export)
    info = ModelInfo.read(bundled_model_path())
    folders: list[Path] = []
    threads = [
        threading.Thread(target=lambda: folders.append(ensure_export(info, tmp_path)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(exports) == 1 and len(folders) == 2 and folders[0] == folders[1]


def test_missing_model_folder_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="QA_MODEL"):
        OnnxEmbedder.from_settings(Settings(model=tmp_path / "nope", cache=tmp_path))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match=r"lacks .*model\.safetensors"):
        OnnxEmbedder.from_settings(Settings(model=tmp_path / "empty", cache=tmp_path))
