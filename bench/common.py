"""Shared set-up for the benchmarks: a temporary copy of seeds/ indexed with the real model."""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
from pathlib import Path

from qa.build import build_index
from qa.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def machine() -> str:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{platform.machine()}, {cpus} cores, Python {platform.python_version()}"


def seeds_index(backend: str = "onnx") -> Settings:
    """Index seeds/ in a temporary folder (the ONNX export cache stays the user's)."""
    root = Path(tempfile.mkdtemp(prefix="qa-bench-"))
    shutil.copytree(ROOT / "seeds", root / "docs")
    settings = Settings.from_env(docs=root / "docs", index=root / "index", backend=backend)
    build_index(settings)
    return settings
