"""The app performs a rebuild when the index on disk is damaged, instead of crashing."""

from __future__ import annotations

import pytest
from fakes import FakeEmbedder

from qa.index.build import build_index
from qa.index.store import current_build_path
from qa.settings import Settings
from qa.web.service import Service


@pytest.mark.parametrize("damage", ["truncate", "zero", "replace"])
def test_damaged_index_is_rebuilt_at_start(
    seeded: Settings, fake_embedder: FakeEmbedder, damage: str
) -> None:
    build_index(seeded, embedder_factory=lambda: fake_embedder)
    vectors = current_build_path(seeded.index) / "passage_vectors.npy"
    data = vectors.read_bytes()
    damaged = {
        "truncate": data[: len(data) // 2],
        "zero": bytes(len(data)),
        "replace": data[:-8] + b"12345678",
    }[damage]
    vectors.write_bytes(damaged)

    service = Service(seeded, embedder_factory=lambda: fake_embedder)
    service.start()
    assert service.wait_started(timeout=60)

    answer = service.ask("Who directed The Battle at Lake Changjin?")
    assert answer.passages[0].source == "001_e71676ddd8f87f03.txt"
    assert current_build_path(seeded.index).name != vectors.parent.name
