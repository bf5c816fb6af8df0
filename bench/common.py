"""Shared set-up for the benchmarks: a temporary copy of a documents folder (seeds/ unless told
otherwise) indexed with the real model, and the options naming a corpus and its labelled sets."""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
from pathlib import Path

from qa.index.build import build_index
from qa.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# The development and blind sets of seeds/; eval/README.md says what each is.
SEEDS_SETS = ("seeds.jsonl", "heldout.jsonl", "literal.jsonl")


def machine() -> str:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{platform.machine()}, {cpus} cores, Python {platform.python_version()}"


def seeds_index(backend: str = "onnx") -> Settings:
    """Index seeds/ in a temporary folder (the ONNX export cache stays the user's)."""
    return corpus_index(ROOT / "seeds", backend=backend)


def corpus_index(docs: Path, *, backend: str = "onnx") -> Settings:
    """Index a copy of `docs` in a temporary folder, so the bench never writes next to it."""
    root = Path(tempfile.mkdtemp(prefix="qa-bench-"))
    shutil.copytree(docs, root / "docs")
    settings = Settings.from_env(docs=root / "docs", index=root / "index", backend=backend)
    build_index(settings)
    return settings


def shown(path: Path) -> str:
    """A set's path as the user would type it from the repository root."""
    resolved = path.resolve()
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else str(path)


def add_corpus_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--docs", type=Path, help="documents folder (default: seeds/ with its three sets)"
    )
    parser.add_argument(
        "--set",
        dest="sets",
        type=Path,
        action="append",
        help="labelled JSONL set over --docs; repeat for several (needs --docs)",
    )
    parser.add_argument(
        "--index", type=Path, help="an index already built from --docs (default: build one)"
    )


def corpus_from(args: argparse.Namespace) -> tuple[Settings, list[Path]]:
    """Settings of the index to measure and the sets to measure it on, from the options above."""
    if args.docs is None:
        if args.sets or args.index:
            raise SystemExit("--set and --index need --docs (the folder the set was written on)")
        return seeds_index(), [ROOT / "eval" / name for name in SEEDS_SETS]
    if not args.sets:
        raise SystemExit("--docs needs at least one --set")
    if args.index is None:
        return corpus_index(args.docs), list(args.sets)
    return Settings.from_env(docs=args.docs, index=args.index), list(args.sets)
