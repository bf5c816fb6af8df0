"""Scans and images read by OCR (qa.ingest.scans, ocr, ocr_cache): what is read from them, the
page it is on, what is cached, and every way reading them is refused. Tests that run Tesseract
skip when it is missing; CI installs it."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from scans import (
    fake_tesseract,
    huge_png,
    joined,
    needs_tesseract,
    page,
    png,
    scan_pdf,
    text_pdf,
    tiff,
)

from qa.errors import DocumentError, SetupError
from qa.ingest import sandbox, scans
from qa.ingest.blocks import check_blocks
from qa.ingest.documents import Document, read_document
from qa.ingest.limits import Limits, Ocr
from qa.ingest.ocr import even_sizes, hocr_lines
from qa.ingest.pdf_lines import Line
from qa.ingest.sandbox import Reader
from qa.settings import Settings

LEASE = [
    "The harbour master Ingrid Solberg signed",
    "the lease for the old rope works in 1987.",
    "",
]
LEASE += ["Rent is paid each March."]
LEASE_TEXT = (
    "The harbour master Ingrid Solberg signed the lease for the old rope works in 1987.\n\n"
    "Rent is paid each March."
)
TAR = ["Minutes of the board, second page.", "The warehouse holds 4,200 barrels of"]
TAR += ["pine tar and 36 coils of hemp rope."]
TAR_TEXT = (
    "Minutes of the board, second page. The warehouse holds 4,200 barrels of pine tar and "
    "36 coils of hemp rope."
)
INSTALL = (
    "OCR needs Tesseract, which is not installed: apt-get install tesseract-ocr "
    "tesseract-ocr-eng (or set QA_TESSERACT to the tesseract program)"
)


def read(tmp_path: Path, name: str, data: bytes, limits: Limits | None = None) -> Document:
    (tmp_path / name).write_bytes(data)
    return read_document(tmp_path / name, root=tmp_path, limits=limits or Limits())


def refused(tmp_path: Path, name: str, data: bytes, limits: Limits | None = None) -> DocumentError:
    with pytest.raises(DocumentError) as caught:
        read(tmp_path, name, data, limits)
    return caught.value


def with_ocr(**changes: object) -> Limits:
    return Limits(ocr=Ocr(**changes))  # type: ignore[arg-type]


def check(document: Document) -> None:
    check_blocks(document.text, document.blocks)
    assert all(0 <= start <= len(document.text) for start in document.pages)


# --------------------------------------------------------------------------- what is read


@needs_tesseract
def test_a_png_is_read_as_a_document_of_one_page(tmp_path: Path) -> None:
    document = read(tmp_path, "lease.png", png(page(LEASE)))
    assert (document.text, document.pages, document.ocr_pages) == (LEASE_TEXT, (0,), (1,))
    assert document.page_at(document.text.index("1987")) == 1
    assert document.warning is None
    check(document)


@needs_tesseract
def test_a_scanned_pdf_is_read_page_by_page(tmp_path: Path) -> None:
    document = read(tmp_path, "minutes.pdf", scan_pdf([page(LEASE), page(TAR)]))
    assert document.text == LEASE_TEXT + "\n\n" + TAR_TEXT
    assert (document.pages, document.ocr_pages) == ((0, len(LEASE_TEXT) + 2), (1, 2))
    assert document.page_at(document.text.index("4,200 barrels")) == 2
    check(document)


@needs_tesseract
def test_pages_with_a_text_layer_keep_it_and_only_the_others_are_read_by_ocr(
    tmp_path: Path,
) -> None:
    mixed = joined(text_pdf("Typed cover letter about the harbour."), scan_pdf([page(TAR)]))
    document = read(tmp_path, "mixed.pdf", mixed)
    assert document.text == "Typed cover letter about the harbour.\n\n" + TAR_TEXT
    assert (document.pages, document.ocr_pages) == ((0, 39), (2,))


@needs_tesseract
def test_each_frame_of_a_tiff_is_a_page(tmp_path: Path) -> None:
    document = read(tmp_path, "fax.tif", tiff([page(LEASE), page(TAR)]))
    assert document.text == LEASE_TEXT + "\n\n" + TAR_TEXT
    assert (document.pages, document.ocr_pages) == ((0, len(LEASE_TEXT) + 2), (1, 2))


@needs_tesseract
def test_a_transparent_png_is_read_on_white(tmp_path: Path) -> None:
    """Black text on a transparent background is black on black once the alpha is dropped."""
    grey = page(LEASE)
    black = Image.new("LA", grey.size, (0, 0))
    black.putalpha(grey.point(lambda v: 255 - v))  # ink opaque, paper transparent
    assert read(tmp_path, "clear.png", png(black)).text == LEASE_TEXT


def test_a_blank_scan_has_no_text_and_tesseract_is_not_run(tmp_path: Path) -> None:
    program = fake_tesseract(tmp_path, then="exit 3")  # it would fail if it were run
    limits = with_ocr(tesseract=str(program))
    error = refused(tmp_path, "blank.png", png(page([])), limits)
    assert str(error) == "OCR found no text in the image"
    blank_pdf = scan_pdf([page([]), page([])])
    error = refused(tmp_path, "blank.pdf", blank_pdf, limits)
    assert str(error) == "PDF has no text layer, and OCR found no text on 2 scanned pages"


def test_a_pdf_of_empty_pages_is_refused_as_before(tmp_path: Path) -> None:
    """Pages that draw nothing are not rendered, let alone read by OCR."""
    error = refused(tmp_path, "empty.pdf", joined(text_pdf(""), text_pdf("")))
    assert str(error) == "PDF has no extractable text"


# --------------------------------------------------------------------------- hOCR


HOCR = """<?xml version="1.0" encoding="UTF-8"?>
<html xmlns="http://www.w3.org/1999/xhtml"><head><meta name='ocr-system' content='tesseract'/>
<meta charset="utf-8"></head><body>
<div class='ocr_page' id='page_1' title='image "-"; bbox 0 0 600 900; ppageno 0'>
 <p class='ocr_par'>
  <span class='ocr_line' title="bbox 100 200 500 250; baseline 0.001 -10; x_size 50">
   <span class='ocrx_word' title='bbox 100 200 200 240'>Fish &amp;</span>
   <span class='ocrx_word' title='bbox 210 200 300 240'><strong>chips</strong></span>
  </span>
  <span class='ocr_line' title="bbox 100 300 200 330; x_size 30">
   <span class='ocrx_word' title='bbox 100 300 200 330'> </span>
  </span>
  <span class='ocr_caption' title="bbox 60 400 300 424">
   <span class='ocrx_word' title='bbox 60 400 300 424'>&lt;Figure&gt;</span>
  </span>
 </p>
</div></body></html>"""


def test_hocr_lines_are_placed_as_a_pdfs_are() -> None:
    """PDF units from the bottom left: y is the baseline (box bottom + its offset), the size
    the type's height; a line without words is dropped; markup in words is text."""
    assert hocr_lines(HOCR, dpi=300) == [
        Line("Fish & chips", 24.0, 158.4, 12.0, False),
        Line("<Figure>", 14.4, 114.24, 5.8, False),  # no x_size: the box's height
    ]


def test_broken_hocr_reads_as_far_as_it_goes() -> None:
    assert hocr_lines(HOCR[:700], dpi=72) == [Line("Fish & chips", 100.0, 660.0, 50.0, False)]
    assert hocr_lines("<div class='ocr_line'>no page", dpi=72) == []


def test_type_heights_a_few_per_cent_apart_are_one_size() -> None:
    lines = {0: [Line("a", 0, 9, 10.3, False), Line("b", 0, 8, 9.6, False)]}
    lines[1] = [Line("c", 0, 9, 10.3, False), Line("Title", 0, 9, 14.0, False)]
    assert [[line.size for line in page] for page in even_sizes(lines).values()] == [
        [10.3, 10.3],
        [10.3, 14.0],
    ]


# --------------------------------------------------------------------------- the cache


def fake_ocr(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Tesseract replaced by a reader that sees "Page N" on page N; the pages it read."""
    read: list[int] = []

    def recognise(image: object, *, dpi: float, ocr: Ocr, page: int) -> list[Line]:
        read.append(page)
        return [Line(f"Page {page} of the scan.", 72.0, 700.0, 10.0, False)]

    monkeypatch.setattr(scans, "recognise", recognise)
    monkeypatch.setattr(scans, "tesseract_command", lambda ocr: "tesseract")  # none needed
    return read


def test_an_unchanged_scan_is_never_read_by_ocr_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read_pages = fake_ocr(monkeypatch)
    cache = tmp_path / "cache"
    limits = with_ocr(cache=str(cache))
    scan = scan_pdf([page(LEASE), page(TAR)])  # once: Pillow dates each PDF it writes
    first = read(tmp_path, "scan.pdf", scan, limits)
    assert first.text == "Page 1 of the scan.\n\nPage 2 of the scan."
    again = read(tmp_path, "copy.pdf", scan, limits)
    assert (again.text, again.ocr_pages) == (first.text, (1, 2))
    assert read_pages == [1, 2]  # the copy has the same bytes: read from the cache
    assert len(list(cache.glob("*/*.json"))) == 2
    read(tmp_path, "scan.pdf", scan_pdf([page(TAR), page(LEASE), page(TAR)]), limits)
    assert read_pages == [1, 2, 1, 2, 3]  # other bytes: read again


def test_a_damaged_cache_entry_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read_pages = fake_ocr(monkeypatch)
    limits = with_ocr(cache=str(tmp_path / "cache"))
    read(tmp_path, "one.png", png(page(LEASE)), limits)
    for entry in (tmp_path / "cache").glob("*/*.json"):
        entry.write_text('{"lines": [["", 1, 2, 3]]}')
    assert read(tmp_path, "one.png", png(page(LEASE)), limits).text == "Page 1 of the scan."
    assert read_pages == [1, 1]


def test_no_cache_folder_keeps_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    read_pages = fake_ocr(monkeypatch)
    for _ in range(2):
        read(tmp_path, "one.png", png(page(LEASE)), with_ocr(cache=""))
    assert read_pages == [1, 1]


def test_settings_put_the_cache_in_the_cache_folder(tmp_path: Path) -> None:
    settings = Settings(cache=tmp_path / "c", ocr_max_pages=7, ocr_seconds=9, tesseract="t")
    assert Limits.from_settings(settings.with_(ocr_languages="eng+deu")).ocr == Ocr(
        pages=7, seconds=9, tesseract="t", languages="eng+deu", cache=str(tmp_path / "c" / "ocr")
    )


# --------------------------------------------------------------------------- refusals


def test_tesseract_missing_from_the_path_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    error = refused(tmp_path, "lease.png", png(page(LEASE)))
    assert (type(error), str(error)) == (SetupError, INSTALL)
    error = refused(tmp_path, "minutes.pdf", scan_pdf([page(LEASE)]))
    assert (type(error), str(error)) == (SetupError, INSTALL)


def test_a_pdf_with_text_elsewhere_is_read_without_its_scans_when_tesseract_is_missing(
    tmp_path: Path,
) -> None:
    mixed = joined(text_pdf("Typed cover letter."), scan_pdf([page(TAR), page(LEASE)]))
    document = read(tmp_path, "mixed.pdf", mixed, with_ocr(tesseract="/nowhere/tesseract"))
    # The pages left out keep their place (a page start each) at the end of the text.
    assert (document.text, document.ocr_pages) == ("Typed cover letter.\n\n\n\n", ())
    assert document.pages == (0, 21, 23)
    assert document.warning == (
        "2 pages without text left out: OCR needs Tesseract, which is not installed "
        "(QA_TESSERACT is '/nowhere/tesseract'): apt-get install tesseract-ocr "
        "tesseract-ocr-eng (or set QA_TESSERACT to the tesseract program)"
    )


def test_a_language_without_data_names_the_package(tmp_path: Path) -> None:
    program = fake_tesseract(tmp_path, then="exit 1")
    limits = with_ocr(tesseract=str(program), languages="eng+fra")
    error = refused(tmp_path, "lease.png", png(page(LEASE)), limits)
    assert (type(error), str(error)) == (
        SetupError,
        "OCR needs Tesseract's fra language data: apt-get install tesseract-ocr-fra "
        "(QA_OCR_LANGUAGES is 'eng+fra')",
    )


def test_more_pages_than_the_limit_are_not_read(tmp_path: Path) -> None:
    limits = with_ocr(pages=1, tesseract=str(tmp_path / "never-run"))
    error = refused(tmp_path, "minutes.pdf", scan_pdf([page(LEASE), page(TAR)]), limits)
    assert (type(error), str(error)) == (
        SetupError,
        "2 pages to read by OCR; at most 1 are read per file (QA_OCR_MAX_PAGES)",
    )
    error = refused(tmp_path, "fax.tif", tiff([page(LEASE)] * 3), limits)
    assert str(error) == (
        "more than 2 pages to read by OCR; at most 1 are read per file (QA_OCR_MAX_PAGES)"
    )
    error = refused(tmp_path, "fax.tif", tiff([page(LEASE)] * 2), limits)
    assert str(error) == "2 pages to read by OCR; at most 1 are read per file (QA_OCR_MAX_PAGES)"
    error = refused(tmp_path, "lease.png", png(page(LEASE)), with_ocr(pages=0))
    assert str(error) == "1 page to read by OCR; at most 0 are read per file (QA_OCR_MAX_PAGES)"


def test_a_page_tesseract_takes_too_long_over_is_left_out(tmp_path: Path) -> None:
    program = fake_tesseract(tmp_path, then="exec sleep 30")
    limits = with_ocr(tesseract=str(program), seconds=1)
    error = refused(tmp_path, "lease.png", png(page(LEASE)), limits)
    assert str(error) == (
        "OCR found no text in the image "
        "(page 1: OCR of page 1 took longer than 1 s (QA_OCR_SECONDS))"
    )


# A reader process that announces two pages, reads the first in 1.5 s and is stuck on the second.
STUCK = (
    "import sys, time\n"
    "def say(line): sys.stdout.buffer.write(line + b'\\n'); sys.stdout.flush()\n"
    "say(b'{\"ready\": true}'); sys.stdin.buffer.readline()\n"
    "say(b'{\"ocr\": [0, 2]}'); time.sleep(1.5); say(b'{\"ocr\": [1, 2]}'); time.sleep(60)\n"
)


def test_each_page_read_by_ocr_gives_the_document_more_time_and_a_stuck_page_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """1 s for the document and 1 s a page: the first page's 1.5 s are within its time, the
    second page never ends and the reader process is stopped 2 s after it began."""
    monkeypatch.setattr(sandbox, "_BOOT", STUCK)
    (tmp_path / "minutes.pdf").write_bytes(b"%PDF-1.4 read by the stand-in process")
    heard: list[tuple[int, int]] = []
    limits = Limits(seconds=1, ocr=Ocr(seconds=1))
    with Reader(limits) as reader, pytest.raises(DocumentError) as caught:
        reader.read(
            tmp_path / "minutes.pdf",
            root=tmp_path,
            on_page=lambda done, total: heard.append((done, total)),
        )
    assert str(caught.value) == (
        "reading page 2 by OCR took longer than 2 s (QA_EXTRACT_SECONDS + QA_OCR_SECONDS)"
    )
    assert heard == [(0, 2), (1, 2)]


def test_a_page_tesseract_fails_on_says_what_it_said(tmp_path: Path) -> None:
    program = fake_tesseract(tmp_path, then="echo 'Error in pixReadMem' >&2; exit 1")
    pdf = joined(text_pdf("Typed cover letter."), scan_pdf([page(TAR)]))
    document = read(tmp_path, "mixed.pdf", pdf, with_ocr(tesseract=str(program)))
    assert document.warning == "page 2: Tesseract failed (exit code 1: Error in pixReadMem)"


def test_a_huge_image_is_refused_before_it_is_decoded(tmp_path: Path) -> None:
    """Each PNG says it is huge and holds a few bytes: decoding would fail or take gigabytes."""
    error = refused(tmp_path, "bomb.png", huge_png(100_000, 100_000))  # Pillow's refusal
    assert str(error) == (
        "image is more than 178,956,970 pixels; at most 89,478,485 are read (scale it down to "
        "read it)"
    )
    error = refused(tmp_path, "big.png", huge_png(10_000, 10_000))
    assert str(error) == (
        "image is 10000 × 10000 pixels; at most 89,478,485 are read (scale it down to read it)"
    )
    error = refused(tmp_path, "wide.png", huge_png(8000, 8000), Limits(memory_bytes=256 << 20))
    assert str(error) == (
        "reading it would need about 305 MB of memory (a 8000 × 8000 image); the limit is "
        "256 MB (QA_EXTRACT_MEMORY_MB)"
    )


def test_a_huge_image_is_refused_in_the_reader_process_too(tmp_path: Path) -> None:
    (tmp_path / "bomb.png").write_bytes(huge_png(9500, 9500))
    with Reader(Limits()) as reader, pytest.raises(DocumentError) as caught:
        reader.read(tmp_path / "bomb.png", root=tmp_path)
    assert str(caught.value) == (
        "image is 9500 × 9500 pixels; at most 89,478,485 are read (scale it down to read it)"
    )


def test_a_file_that_is_no_image_is_refused(tmp_path: Path) -> None:
    assert str(refused(tmp_path, "photo.jpg", b"not a picture")) == "not a PNG, JPEG or TIFF image"
    truncated = png(page(LEASE))[:400]
    limits = with_ocr(tesseract=str(fake_tesseract(tmp_path, then="exit 3")))  # never reached
    error = refused(tmp_path, "cut.png", truncated, limits)
    assert str(error) == "not a readable image (image file is truncated)"


def test_ocr_settings_are_checked() -> None:
    with pytest.raises(ValueError) as caught:
        Settings.from_env({"QA_OCR_LANGUAGES": "eng --psm 0"})
    assert str(caught.value) == (
        "QA_OCR_LANGUAGES must be Tesseract language names joined by '+' (eng+deu), "
        "not 'eng --psm 0'"
    )
    with pytest.raises(ValueError) as caught:
        Settings.from_env({"QA_OCR_MAX_PAGES": "-1"})
    assert str(caught.value) == "QA_OCR_MAX_PAGES must be at least 0, not -1"
    assert (
        Settings.from_env({"QA_OCR_SECONDS": "5", "QA_TESSERACT": "/opt/t"}).tesseract == "/opt/t"
    )
