"""What reading one document may cost: bytes on disk, bytes unpacked, memory and time.

A document is untrusted input: a 70 KB PDF can unpack to gigabytes and a 20 MB web page can
need gigabytes to parse. Each limit is a setting (QA_*), and every refusal names the limit and
the setting, so a user with a real document that large knows what to raise.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from qa.errors import DocumentError

if TYPE_CHECKING:
    from qa.settings import Settings

MIB = 1024 * 1024
# Below this, any unpacking ratio is accepted: a small file of repetitive text can pack 500:1,
# and the work it unpacks to is small anyway.
RATIO_FLOOR_BYTES = 10 * MIB


@dataclass(frozen=True)
class Ocr:
    """How pages without text (scans, images) are read: by Tesseract, at most `pages` of them
    per file, each page within `seconds`, what was read kept in the `cache` folder ("": none).
    Reading a document may take its QA_EXTRACT_SECONDS plus `seconds` per page read by OCR."""

    pages: int = 50  # QA_OCR_MAX_PAGES
    seconds: int = 60  # QA_OCR_SECONDS
    tesseract: str = "tesseract"  # QA_TESSERACT: the program, by name on PATH or by path
    languages: str = "eng"  # QA_OCR_LANGUAGES: Tesseract's, joined by "+"
    cache: str = ""  # QA_CACHE/ocr

    def too_slow(self, page: int) -> str:
        return f"OCR of page {page} took longer than {self.seconds} s (QA_OCR_SECONDS)"

    def too_many(self, count: str) -> str:
        """`count` ("80", "more than 50") pages to read: over the limit."""
        pages = "page" if count == "1" else "pages"
        return (
            f"{count} {pages} to read by OCR; at most {self.pages} are read per file "
            "(QA_OCR_MAX_PAGES)"
        )


@dataclass(frozen=True)
class Limits:
    """Per document; the defaults are Settings' defaults."""

    file_bytes: int = 50 * MIB  # QA_MAX_FILE_MB
    seconds: int = 60  # QA_EXTRACT_SECONDS
    memory_bytes: int = 1024 * MIB  # QA_EXTRACT_MEMORY_MB
    unpacked_bytes: int = 500 * MIB  # QA_MAX_UNPACKED_MB
    unpack_ratio: int = 200  # QA_MAX_UNPACK_RATIO
    ocr: Ocr = Ocr()

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            file_bytes=settings.max_file_mb * MIB,
            seconds=settings.extract_seconds,
            memory_bytes=settings.extract_memory_mb * MIB,
            unpacked_bytes=settings.max_unpacked_mb * MIB,
            unpack_ratio=settings.max_unpack_ratio,
            ocr=Ocr(
                pages=settings.ocr_max_pages,
                seconds=settings.ocr_seconds,
                tesseract=settings.tesseract,
                languages=settings.ocr_languages,
                cache=str(settings.cache / "ocr"),
            ),
        )

    def as_dict(self) -> dict[str, Any]:
        """For the reader process (JSON); from_dict makes the Limits again."""
        return asdict(self)

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> Limits:
        return cls(**{**row, "ocr": Ocr(**row["ocr"])})

    # ------------------------------------------------------------------ budgets

    def unpack_budget(self, size: int) -> int:
        """Bytes a file of `size` bytes may unpack to (PDF content streams, a .docx's XML)."""
        return min(self.unpacked_bytes, max(self.unpack_ratio * size, RATIO_FLOOR_BYTES))

    def check_size(self, size: int) -> None:
        if size > self.file_bytes:
            # Rounded up: a file just over 50 MB must not read "50.0 MB; the limit is 50 MB".
            shown = math.ceil(size * 10 / MIB) / 10
            raise DocumentError(
                f"file is {shown:.1f} MB; the limit is {self.file_bytes // MIB} MB (QA_MAX_FILE_MB)"
            )

    def check_unpacked(self, what: str, unpacked: int, size: int) -> None:
        """DocumentError when `what` ("PDF content", say) unpacks past the file's budget."""
        if unpacked > self.unpack_budget(size):
            raise DocumentError(self.unpacked_message(what, unpacked))

    def unpacked_message(self, what: str, unpacked: int) -> str:
        if unpacked > self.unpacked_bytes:
            limit = self.unpacked_bytes // MIB
            return f"{what} unpacks to more than {limit} MB (QA_MAX_UNPACKED_MB)"
        return (
            f"{what} unpacks to more than {self.unpack_ratio} times the file's size "
            "(QA_MAX_UNPACK_RATIO)"
        )

    def check_memory_estimate(self, needed: int, what: str) -> None:
        """Refuse before parsing what surely needs more memory than the limit allows."""
        if needed > self.memory_bytes:
            raise DocumentError(
                f"reading it would need about {needed // MIB} MB of memory ({what}); the limit "
                f"is {self.memory_bytes // MIB} MB (QA_EXTRACT_MEMORY_MB)"
            )

    # ------------------------------------------------------------------ breaches

    def too_slow(self) -> str:
        return f"reading it took longer than {self.seconds} s (QA_EXTRACT_SECONDS)"

    def page_too_slow(self, page: int) -> str:
        """The reader process killed while reading `page` by OCR (Tesseract is killed sooner:
        Ocr.too_slow; this is a page pdfium or the process itself got stuck on)."""
        return (
            f"reading page {page} by OCR took longer than {self.seconds + self.ocr.seconds} s "
            "(QA_EXTRACT_SECONDS + QA_OCR_SECONDS)"
        )

    def too_big(self) -> str:
        return (
            f"reading it needed more than {self.memory_bytes // MIB} MB of memory "
            "(QA_EXTRACT_MEMORY_MB)"
        )


DEFAULT_LIMITS = Limits()


def mb(size: int) -> str:
    return f"{size / MIB:.1f} MB"
