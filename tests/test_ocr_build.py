"""Scans in builds, answers, uploads and the document view: the page cited, OCR's progress from
the reader process, the cache across builds and uploads, Tesseract missing, and the OCR pages
carried through the index. Most tests run a stand-in tesseract (a shell script answering with
fixed hOCR) so that they need no Tesseract; the answer tests need the real one."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from fakes import FakeEmbedder
from scans import fake_tesseract, joined, needs_tesseract, page, png, scan_pdf, text_pdf

import qa.cli.main
import qa.index.build
from qa.folder.add import Incoming, add_files
from qa.index.build import build_index
from qa.index.built import DocumentEntry, _document, load
from qa.ingest.documents import Skipped
from qa.ingest.limits import Limits
from qa.ingest.sandbox import Reader
from qa.query.engine import Engine
from qa.settings import Settings
from qa.web.render import document_page
from qa.web.view import document_view

INSTALL = (
    "OCR needs Tesseract, which is not installed: apt-get install tesseract-ocr "
    "tesseract-ocr-eng (or set QA_TESSERACT to the tesseract program)"
)
LEASE = ["The harbour master Ingrid Solberg signed", "the lease for the old rope works in 1987."]
# A page 1 long enough to fill a passage: the passage after it starts on page 2.
LONG_LEASE = [
    *LEASE,
    "The lease runs for twenty years and may be renewed",
    "twice, each time for ten more years, by a letter",
    "sent to the harbour office before the first of May.",
    "",
    "The tenant keeps the roof, the walls and the quay",
    "in good repair and pays for any damage that ships",
    "moored at the quay cause to the buildings or to the",
    "stone steps that lead down to the water.",
    "",
    "The harbour office may inspect the works once a",
    "year, after giving notice in writing two weeks before",
    "the visit, and may ask for repairs to be made within",
    "three months of the inspection report.",
    "",
    "Rent is paid each quarter into the account of the",
    "harbour office; a quarter paid late costs interest",
    "at the rate the central bank sets plus two per cent.",
    "",
    "Either side may end the lease with a year of notice",
    "if the other side fails to keep these terms after a",
    "written warning, or by agreement at any time.",
]
TAR = [
    "Minutes of the board, second page.",
    "",
    "The warehouse on the north quay now holds 4,200",
    "barrels of pine tar and 36 coils of hemp rope for",
    "the ships that are fitted out there this winter.",
]
FERRY = ["Invoice 77: the ferry Nordlys was repainted", "in Bergen for 12,500 kroner."]
# What the stand-in tesseract reads on every page: one line, its words the page's own checksum.
HOCR = (
    "<div class='ocr_page' title='bbox 0 0 1000 1000'><span class='ocr_line' "
    "title='bbox 100 100 900 140; x_size 40'><span class='ocrx_word'>Scanned</span> "
    "<span class='ocrx_word'>page</span> <span class='ocrx_word'>$sum</span></span></div>"
)


def build(settings: Settings, **options: object) -> qa.index.build.BuildReport:
    return build_index(settings, embedder_factory=FakeEmbedder, **options)  # type: ignore[arg-type]


def stand_in(settings: Settings, folder: Path) -> tuple[Settings, Path]:
    """Settings whose tesseract is the stand-in, and the file it logs each page read to."""
    log = folder / "pages-read.log"
    then = f'echo page >> {log}; sum=$(md5sum | cut -c1-6); echo "{HOCR}"'
    return settings.with_(tesseract=str(fake_tesseract(folder, then=then))), log


def runs(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


# --------------------------------------------------------------------------- answers


@needs_tesseract
def test_a_fact_on_page_two_of_a_scan_is_cited_on_page_two(settings: Settings) -> None:
    """With the default passages, one runs over the page break: the answer cites the page its
    quoted sentence is printed on, not the page the passage starts on."""
    (settings.docs / "minutes.pdf").write_bytes(scan_pdf([page(LONG_LEASE), page(TAR)]))
    (settings.docs / "invoice.png").write_bytes(png(page(FERRY)))
    report = build(settings)
    assert (report.added, report.skipped, report.warnings) == (
        ["invoice.png", "minutes.pdf"],
        [],
        [],
    )
    engine = Engine.open(settings, embedder_factory=FakeEmbedder)
    for question, source, page_number, fact in [
        ("How many barrels of pine tar are in the warehouse?", "minutes.pdf", 2, "4,200 barrels"),
        ("Who signed the lease for the rope works?", "minutes.pdf", 1, "Ingrid Solberg"),
        ("Where was the ferry Nordlys repainted?", "invoice.png", 1, "in Bergen"),
    ]:
        answer = engine.ask(question)
        top = answer.passages[0]
        assert not answer.abstained, question
        assert (top.source, top.page, top.citation) == (
            source,
            page_number,
            f"{source}, page {page_number}",
        )
        entry = engine.index.document(source)
        assert entry is not None and entry.text[top.start : top.end] == top.text
        assert fact in top.text
        assert entry.page_at(top.answer_spans[0][0]) == page_number
    # The pine tar passage starts on page 1 and runs over the break.
    tar = engine.ask("How many barrels of pine tar are in the warehouse?").passages[0]
    entry = engine.index.document("minutes.pdf")
    assert entry is not None and entry.page_at(tar.start) == 1


# --------------------------------------------------------------------------- progress


def test_ocr_reports_each_page_from_the_reader_process(settings: Settings, tmp_path: Path) -> None:
    settings, log = stand_in(settings, tmp_path)
    (settings.docs / "minutes.pdf").write_bytes(scan_pdf([page(LEASE), page(TAR)]))
    heard: list[tuple[int, int]] = []
    with Reader(Limits.from_settings(settings)) as reader:
        document = reader.read(
            settings.docs / "minutes.pdf",
            root=settings.docs,
            on_page=lambda done, total: heard.append((done, total)),
        )
    assert heard == [(0, 2), (1, 2), (2, 2)]
    assert (document.ocr_pages, runs(log)) == ((1, 2), 2)
    first, second = document.text.split("\n\n")
    assert first.startswith("Scanned page ") and second.startswith("Scanned page ")


def test_a_build_names_the_scan_and_counts_its_pages(settings: Settings, tmp_path: Path) -> None:
    settings, _ = stand_in(settings, tmp_path)
    (settings.docs / "notes.txt").write_text("Plain notes about the harbour.")
    (settings.docs / "minutes.pdf").write_bytes(scan_pdf([page(LEASE), page(TAR)]))
    heard: list[tuple[str, int, int]] = []
    build(settings, progress=lambda stage, done, total: heard.append((stage, done, total)))
    ocr = [step for step in heard if "minutes.pdf" in step[0]]
    assert ocr == [
        ("Reading minutes.pdf by OCR (2 pages)", 0, 0),
        ("OCR of minutes.pdf", 0, 2),
        ("OCR of minutes.pdf", 1, 2),
        ("OCR of minutes.pdf", 2, 2),
    ]


# --------------------------------------------------------------------------- the cache


def test_a_scan_checked_on_upload_is_not_read_by_ocr_again_by_builds(
    settings: Settings, tmp_path: Path
) -> None:
    settings, log = stand_in(settings, tmp_path)
    upload = tmp_path / "upload.pdf"
    upload.write_bytes(scan_pdf([page(LEASE), page(TAR)]))
    added = add_files(
        settings.docs,
        [Incoming("minutes.pdf", upload)],
        max_bytes=1 << 30,
        limits=Limits.from_settings(settings),
    )
    assert (added.added, added.refused, runs(log)) == (["minutes.pdf"], [], 2)
    build(settings)
    shutil.rmtree(settings.index)  # a build from nothing reads every file again ...
    build(settings)
    assert runs(log) == 2  # ... but no page by OCR again
    assert load(settings.index).document("minutes.pdf").ocr_pages == (1, 2)  # type: ignore[union-attr]


# --------------------------------------------------------------------------- Tesseract missing


def test_without_tesseract_scans_are_skipped_and_tried_again_by_the_next_build(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = os.environ["PATH"]
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    (settings.docs / "notes.txt").write_text("Plain notes about the harbour.")
    (settings.docs / "minutes.pdf").write_bytes(scan_pdf([page(LEASE), page(TAR)]))
    (settings.docs / "invoice.png").write_bytes(png(page(FERRY)))
    skips = [Skipped(name, INSTALL, retry=True) for name in ("invoice.png", "minutes.pdf")]
    first = build(settings)
    assert (first.added, first.skipped) == (["notes.txt"], skips)
    assert load(settings.index).manifest["skipped"] == [
        {"source": name, "reason": INSTALL, "sha256": ""} for name in ("invoice.png", "minutes.pdf")
    ]
    again = build(settings)  # a skip for want of Tesseract is not remembered
    assert (again.built, again.skipped) == (True, skips)
    monkeypatch.setenv("PATH", path)  # the stand-in's shell needs md5sum
    settings, _ = stand_in(settings, tmp_path)  # "installed"
    installed = build(settings)
    assert (installed.added, installed.skipped) == (["invoice.png", "minutes.pdf"], [])


def test_qa_index_says_how_to_install_tesseract_in_one_line(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    cli_with_fake_model: None,
) -> None:
    (settings.docs / "notes.txt").write_text("Plain notes about the harbour.")
    (settings.docs / "lease.png").write_bytes(png(page(LEASE)))
    monkeypatch.setenv("QA_TESSERACT", str(tmp_path / "no-tesseract"))
    args = ["index", "--docs", settings.docs, "--index", settings.index]
    monkeypatch.setenv("QA_CACHE", str(settings.cache))
    code = qa.cli.main.main([str(a) for a in args])
    err = capsys.readouterr().err.splitlines()
    assert code == 0
    assert [line for line in err if "lease.png" in line] == [
        "warning: skipped lease.png: OCR needs Tesseract, which is not installed "
        f"(QA_TESSERACT is '{tmp_path / 'no-tesseract'}'): apt-get install tesseract-ocr "
        "tesseract-ocr-eng (or set QA_TESSERACT to the tesseract program)"
    ]


# --------------------------------------------------------------------------- the view


def test_the_document_view_says_which_pages_ocr_read(settings: Settings, tmp_path: Path) -> None:
    settings, _ = stand_in(settings, tmp_path)
    mixed = joined(text_pdf("Typed cover letter about the harbour."), scan_pdf([page(TAR)]))
    (settings.docs / "mixed.pdf").write_bytes(mixed)
    build(settings)
    index = load(settings.index)
    entry = index.document("mixed.pdf")
    assert entry is not None and (entry.pages, entry.ocr_pages) == ((0, 39), (2,))
    view = document_view(index, "mixed.pdf", 39, len(entry.text), digest=None)
    assert (view.where, view.ocr_pages) == ("page 2", (2,))
    html = document_page(
        view.source,
        view.text,
        start=39,
        end=len(entry.text),
        spans=[],
        where=view.where,
        pages=view.pages,
        ocr_pages=view.ocr_pages,
    )
    assert (
        '<p class="ocr">Text of page 2 read by OCR from an image of the page: a word may be '
        in html
    )
    assert '<div class="text"><span class="page">page 1</span>Typed cover' in html
    assert '<span class="page">page 2 · text read by OCR</span>' in html


def test_index_rows_written_before_ocr_still_load() -> None:
    """documents.jsonl rows of format 4 have no ocr_pages; rows of a document without OCR
    pages still have none."""
    entry = DocumentEntry("a.pdf", "00", 3, "abc", (0,), "2026-01-01", None, (0, 1), (0, 1))
    row = entry.record(with_text=True)
    assert "ocr_pages" not in row
    assert _document(row) == entry
    scanned = DocumentEntry(**{**entry.__dict__, "ocr_pages": (1,)})
    assert scanned.record(with_text=True)["ocr_pages"] == [1]
    assert _document(scanned.record(with_text=True)) == scanned
