"""The model's own word-piece tokenizer, used to keep every passage inside the model's input."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from tokenizers import Tokenizer

from qa.errors import ModelError

SPECIAL_TOKENS = 2  # [CLS] and [SEP] wrap every input
COUNT_BATCH = 1024


class TokenCounter:
    def __init__(self, model_path: Path) -> None:
        try:
            self._tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
        except Exception as exc:
            raise ModelError(
                f"Cannot load the tokenizer from {model_path}: {exc}. "
                "Set QA_MODEL to a sentence-transformers model folder with a tokenizer.json."
            ) from exc
        # tokenizer.json ships a 128-token truncation; counting must see the whole text
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self.max_tokens = max_seq_length(model_path)

    def count(self, text: str) -> int:
        """Word pieces the model sees for `text`, [CLS] and [SEP] included."""
        return len(self._tokenizer.encode(text).ids)

    def count_many(self, texts: Sequence[str]) -> list[int]:
        """Word pieces of each text without the special tokens (so counts of parts add up)."""
        counts: list[int] = []
        # Encodings carry offsets and ids for every piece; a batch at a time keeps a 50 MB
        # document's sentences from being held as encodings all at once.
        for start in range(0, len(texts), COUNT_BATCH):
            batch = list(texts[start : start + COUNT_BATCH])
            counts.extend(
                len(e.ids) for e in self._tokenizer.encode_batch(batch, add_special_tokens=False)
            )
        return counts

    def offsets(self, text: str) -> list[tuple[int, int]]:
        """Character span of each word piece, for cutting text that has no spaces to cut at."""
        return list(self._tokenizer.encode(text, add_special_tokens=False).offsets)


def max_seq_length(model_path: Path) -> int:
    config = model_path / "sentence_bert_config.json"
    if config.exists():
        return int(json.loads(config.read_text(encoding="utf-8")).get("max_seq_length", 256))
    return 256


@lru_cache(maxsize=4)
def token_counter(model_path: Path) -> TokenCounter:
    return TokenCounter(model_path)
