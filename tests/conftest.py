from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

from fakes import FakeEmbedder

from qa.query.engine import Engine
from qa.settings import Settings

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


@pytest.fixture
def cli_with_fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """CLI commands run with no QA_* variable of the caller's and build with FakeEmbedder."""
    import qa.index.build

    for name in list(os.environ):
        if name.startswith("QA_"):
            monkeypatch.delenv(name)
    monkeypatch.setattr(qa.index.build, "load_embedder", lambda settings: FakeEmbedder())


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Every data folder under tmp_path; documents start empty."""
    docs = tmp_path / "docs"
    docs.mkdir()
    return Settings(docs=docs, index=tmp_path / "index", cache=tmp_path / "cache")


@pytest.fixture
def seeded(settings: Settings) -> Settings:
    for path in SEEDS.iterdir():
        (settings.docs / path.name).write_bytes(path.read_bytes())
    return settings


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="session")
def real_index(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Settings:
    """The seeds indexed once per session with the real bundled model (ONNX runtime)."""
    from qa.index.build import build_index

    root = tmp_path_factory.mktemp("real")
    docs = root / "docs"
    docs.mkdir()
    for path in SEEDS.iterdir():
        (docs / path.name).write_bytes(path.read_bytes())
    settings = Settings(docs=docs, index=root / "index", cache=model_cache)
    build_index(settings)
    return settings


@pytest.fixture(scope="session")
def real_engine(real_index: Settings) -> Engine:
    from qa.query.engine import Engine

    engine = Engine.open(real_index)
    engine.warm()
    return engine
