"""Issue 24, items 2, 3, 5 and 6: every document is read within limits of bytes, memory and time.

Each finding is reproduced at a small scale through `qa index` / `qa add` (qa.cli.main.main, the
model replaced by FakeEmbedder; the reading happens in real reader processes), with the limit
set low through its QA_* variable where the default would need a big file. The last test runs
the real `qa` executable. Full-size figures: bench/extract_bombs.py.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import docx
import pytest
from fakes import FakeEmbedder, pdf_file

import qa.cli.main
import qa.index.build
from qa.errors import DocumentError
from qa.folder.add import Incoming, save_uploads
from qa.index.build import build_index
from qa.index.built import load
from qa.ingest.documents import read_document
from qa.ingest.limits import MIB, Limits
from qa.ingest.sandbox import Reader
from qa.settings import Settings

NOTE = "A short normal note about the treaty signed in 1961.\n"
RATIO = "PDF content unpacks to more than 200 times the file's size (QA_MAX_UNPACK_RATIO)"


pytestmark = pytest.mark.usefixtures("cli_with_fake_model")


def index(
    capsys: pytest.CaptureFixture[str], settings: Settings
) -> tuple[int, dict[str, object], list[str]]:
    """`qa index --json`: exit code, the JSON report, stderr lines."""
    args = ["index", "--docs", str(settings.docs), "--index", str(settings.index), "--json"]
    code = qa.cli.main.main(args)
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    return code, json.loads(lines[-1]) if lines else {}, captured.err.splitlines()


def with_note(settings: Settings, name: str, data: bytes) -> None:
    (settings.docs / name).write_bytes(data)
    (settings.docs / "note.txt").write_text(NOTE, encoding="utf-8")


def assert_only_note_indexed(settings: Settings, report: dict[str, object]) -> None:
    assert report["added"] == ["note.txt"]
    assert [d.source for d in load(settings.index).documents] == ["note.txt"]


# --------------------------------------------------------------------------- documents


def blank_stream(text: str, blank: int) -> Iterator[bytes]:
    """A page's content: one line of text, then `blank` bytes of spaces (what a bomb holds)."""
    yield f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET\n".encode()
    for left in range(blank, 0, -MIB):
        yield b" " * min(MIB, left)


def flate_pdf(page_streams: list[int], streams: list[Iterator[bytes]]) -> bytes:
    """A PDF whose page i shows stream page_streams[i], each stream Flate-compressed."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for chunks in streams:
        packer = zlib.compressobj(6)
        body = b"".join(packer.compress(chunk) for chunk in chunks) + packer.flush()
        head = f"<< /Length {len(body)} /Filter /FlateDecode >>\nstream\n".encode()
        objects.append(head + body + b"\nendstream")
    kids = []
    for stream in page_streams:
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + stream} 0 R "
            "/Resources << /Font << /F1 3 0 R >> >> >>".encode()
        )
        kids.append(f"{len(objects)} 0 R")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>".encode()
    return pdf_file(objects)


def text_pdf(*pages: str) -> bytes:
    return flate_pdf(list(range(len(pages))), [blank_stream(page, 0) for page in pages])


def slow_pdf() -> bytes:
    """30 MB of page content: seconds of parsing, with the unpack ratio raised."""
    return flate_pdf([0], [blank_stream("Slow.", 30 * MIB)])


def tiny_paragraphs_docx(paragraphs: int) -> bytes:
    """A .docx of one-letter paragraphs: little to zip, much to parse."""
    out = io.BytesIO()
    original = docx.Document()
    original.save(out)
    source = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            if info.filename != "word/document.xml":
                archive.writestr(info, source.read(info))
        with archive.open("word/document.xml", "w", force_zip64=True) as xml:
            xml.write(f'<?xml version="1.0"?><w:document xmlns:w="{w}"><w:body>'.encode())
            for start in range(0, paragraphs, 10_000):
                xml.write(b"<w:p><w:r><w:t>a</w:t></w:r></w:p>" * min(10_000, paragraphs - start))
            xml.write(b"</w:body></w:document>")
    return packed.getvalue()


# --------------------------------------------------------------------------- item 2: PDF bombs


def test_pdf_pages_each_unpacking_far_past_the_file_are_skipped(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """20 pages, each its own stream unpacking to 1 MB: the pages together pass the budget
    (here the 10 MB every file may unpack to), refused before any page is parsed."""
    streams = [blank_stream(f"Page {n}.", MIB) for n in range(20)]
    with_note(settings, "bomb.pdf", flate_pdf(list(range(20)), streams))
    started = time.perf_counter()
    code, report, err = index(capsys, settings)
    assert code == 0
    assert err == [f"warning: skipped bomb.pdf: {RATIO}"]
    assert report["skip_reasons"] == {"bomb.pdf": RATIO}
    assert_only_note_indexed(settings, report)
    assert time.perf_counter() - started < 20  # parsing the 20 MB would take minutes


def test_pdf_pages_sharing_one_stream_count_it_once_per_page(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ten pages showing one 2 MB stream: 2 MB unpacked, but 20 MB parsed (once per page)."""
    with_note(settings, "shared.pdf", flate_pdf([0] * 10, [blank_stream("Shared.", 2 * MIB)]))
    code, report, err = index(capsys, settings)
    assert (code, err) == (0, [f"warning: skipped shared.pdf: {RATIO}"])
    assert_only_note_indexed(settings, report)


def test_one_huge_stream_says_the_real_reason(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """It used to be skipped as "PDF has no extractable text" (pypdf's own limit, swallowed)."""
    with_note(settings, "huge.pdf", flate_pdf([0], [blank_stream("Huge.", 24 * MIB)]))
    code, report, err = index(capsys, settings)
    assert (code, err) == (0, [f"warning: skipped huge.pdf: {RATIO}"])
    assert_only_note_indexed(settings, report)


def test_the_unpacked_cap_names_its_setting(
    settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QA_MAX_UNPACKED_MB", "5")
    with_note(settings, "big.pdf", flate_pdf([0], [blank_stream("Big.", 8 * MIB)]))
    code, _, err = index(capsys, settings)
    assert (code, err) == (
        0,
        ["warning: skipped big.pdf: PDF content unpacks to more than 5 MB (QA_MAX_UNPACKED_MB)"],
    )


def test_a_read_past_the_time_limit_is_killed_and_the_next_file_read(
    settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """30 MB of content within the (raised) unpack budget, which pypdf parses for seconds."""
    monkeypatch.setenv("QA_EXTRACT_SECONDS", "1")
    monkeypatch.setenv("QA_MAX_UNPACK_RATIO", "100000")
    with_note(settings, "a-slow.pdf", slow_pdf())
    (settings.docs / "b-fine.pdf").write_bytes(text_pdf("A normal page about the treaty."))
    started = time.perf_counter()
    code, report, err = index(capsys, settings)
    assert code == 0
    assert err == [
        "warning: skipped a-slow.pdf: reading it took longer than 1 s (QA_EXTRACT_SECONDS)"
    ]
    assert report["added"] == ["b-fine.pdf", "note.txt"]  # read by a new reader process
    assert time.perf_counter() - started < 15


# --------------------------------------------------------------------------- item 3: .docx


def test_docx_whose_xml_needs_more_memory_than_allowed_is_refused_before_parsing(
    settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 1.2 MB .docx of 400 MB XML, at a tenth of the scale with a quarter of the memory."""
    monkeypatch.setenv("QA_EXTRACT_MEMORY_MB", "256")
    with_note(settings, "bomb.docx", tiny_paragraphs_docx(1_200_000))  # 39 MB of XML
    code, report, err = index(capsys, settings)
    reason = (
        "reading it would need about 311 MB of memory (38.9 MB of XML); the limit is 256 MB "
        "(QA_EXTRACT_MEMORY_MB)"
    )
    assert (code, err) == (0, [f"warning: skipped bomb.docx: {reason}"])
    assert_only_note_indexed(settings, report)


def test_docx_past_the_memory_limit_while_parsing_says_so(
    settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """XML that passes the estimate but not the reader's memory limit: lxml's failure used to
    read "not a readable Word document (unknown error)" after taking gigabytes."""
    monkeypatch.setenv("QA_EXTRACT_MEMORY_MB", "512")
    monkeypatch.setenv("QA_MAX_UNPACK_RATIO", "100000")
    with_note(settings, "dense.docx", tiny_paragraphs_docx(1_500_000))  # 50 MB of XML
    code, report, err = index(capsys, settings)
    assert (code, err) == (
        0,
        [
            "warning: skipped dense.docx: reading it needed more than 512 MB of memory "
            "(QA_EXTRACT_MEMORY_MB)"
        ],
    )
    assert_only_note_indexed(settings, report)


def test_docx_unpacking_far_past_its_size_is_refused(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    with_note(settings, "packed.docx", tiny_paragraphs_docx(700_000))  # 25 MB from 100 KB
    code, _, err = index(capsys, settings)
    assert (code, err) == (
        0,
        [
            "warning: skipped packed.docx: Word document unpacks to more than 200 times the "
            "file's size (QA_MAX_UNPACK_RATIO)"
        ],
    )


# --------------------------------------------------------------------------- item 6: size, HTML


def test_file_over_the_size_limit_is_skipped_with_the_setting_named(
    settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QA_MAX_FILE_MB", "1")
    with_note(settings, "huge.txt", b"A line of text.\n" * (3 * MIB // 32))  # 1.5 MB
    code, report, err = index(capsys, settings)
    reason = "file is 1.5 MB; the limit is 1 MB (QA_MAX_FILE_MB)"
    assert (code, err) == (0, [f"warning: skipped huge.txt: {reason}"])
    assert_only_note_indexed(settings, report)


def test_qa_add_refuses_a_file_over_the_size_limit(
    settings: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QA_MAX_FILE_MB", "1")
    big = tmp_path / "big.txt"
    big.write_bytes(b"A line of text.\n" * (3 * MIB // 32))
    args = ["add", str(big), "--docs", str(settings.docs), "--index", str(settings.index)]
    assert qa.cli.main.main(args) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"Not added: {big}: cannot be indexed: file is 1.5 MB; the limit is 1 MB (QA_MAX_FILE_MB)"
    ]
    assert list(settings.docs.iterdir()) == []


def test_html_whose_tags_need_more_memory_than_allowed_is_refused(
    settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 20 MB page of 2.5 million <b>a</b> (3.3 GB to parse), at an eighth of the scale."""
    monkeypatch.setenv("QA_EXTRACT_MEMORY_MB", "256")
    with_note(settings, "page.html", b"<html><body>" + b"<b>a</b>" * 300_000 + b"</body></html>")
    code, report, err = index(capsys, settings)
    reason = (
        "reading it would need about 292 MB of memory (600,004 tags); the limit is 256 MB "
        "(QA_EXTRACT_MEMORY_MB)"
    )
    assert (code, err) == (0, [f"warning: skipped page.html: {reason}"])
    assert_only_note_indexed(settings, report)


def test_large_files_are_named_in_the_progress(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(qa.index.build, "LARGE_FILE_BYTES", 50_000)  # 4 MB, as far as reading goes
    (settings.docs / "big.txt").write_bytes(b"A line of text in a big file.\n" * 2000)
    (settings.docs / "note.txt").write_text(NOTE, encoding="utf-8")
    seen: list[tuple[str, int, int]] = []
    report = build_index(
        settings, embedder_factory=FakeEmbedder, progress=lambda *s: seen.append(s)
    )
    assert report.added == ["big.txt", "note.txt"]
    reading = [s for s in seen if s[0].startswith("Reading")]
    assert reading == [
        ("Reading big.txt (0.1 MB)", 0, 0),
        ("Reading documents", 1, 2),
        ("Reading documents", 2, 2),
    ]
    assert 0 < report.read_seconds < report.seconds


# --------------------------------------------------------------------------- item 5: pypdf logs


def test_pypdf_log_lines_become_the_files_warning(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """A font reference to an object that is not there: pypdf logs "Object 9 0 not defined."
    (which reached stderr without a file name); now it is odd.pdf's warning, once."""
    pdf = text_pdf("First page.", "Second page.").replace(b"/F1 3 0 R", b"/F1 9 0 R")
    with_note(settings, "odd.pdf", pdf)
    code, report, err = index(capsys, settings)
    assert code == 0
    assert err == ["warning: odd.pdf: pypdf: Object 9 0 not defined."]
    assert report["warnings"] == ["odd.pdf: pypdf: Object 9 0 not defined."]
    assert report["added"] == ["note.txt", "odd.pdf"]


# --------------------------------------------------------------------------- uploads, reader


def test_upload_check_is_bounded_too(settings: Settings, tmp_path: Path) -> None:
    """The page's upload check reads the file as the build would: in a reader process, within
    the limits, so a bomb is refused quickly and costs the server process nothing."""
    bomb = tmp_path / "upload.bin"
    bomb.write_bytes(flate_pdf([0] * 10, [blank_stream("Shared.", 2 * MIB)]))
    files = [Incoming("bomb.pdf", bomb), Incoming("fine.pdf", tmp_path / "fine.pdf")]
    (tmp_path / "fine.pdf").write_bytes(text_pdf("A fine page."))
    result = save_uploads(settings.docs, files, max_bytes=50 * MIB, limits=Limits())
    assert result.refused == [("bomb.pdf", f"cannot be indexed: {RATIO}")]
    assert result.added == ["fine.pdf"]


def test_reader_process_gives_what_reading_in_process_gives(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_heading("Treaty", level=1)
    document.add_paragraph("Signed on 11 July 1961.\nStill in force.")
    packed = io.BytesIO()
    document.save(packed)
    files = {
        "a.pdf": text_pdf("Page one.", "Page two \u00e9\u4e2d."),
        "b.docx": packed.getvalue(),
        "c.html": "<p>Caf\u00e9 <b>\U0001f600</b></p><p>Two</p>".encode(),
        "d.txt": ("Big text \u2013 line\r\n" * 300_000).encode(),  # > 4 MB: the reader's
    }
    with Reader(Limits()) as reader:
        for name, data in files.items():
            (tmp_path / name).write_bytes(data)
            expected = read_document(tmp_path / name, root=tmp_path)
            assert reader.read(tmp_path / name, root=tmp_path) == expected


def test_reader_refuses_before_reading(tmp_path: Path) -> None:
    with Reader(Limits(file_bytes=MIB)) as reader:
        with pytest.raises(DocumentError) as caught:
            reader.read(tmp_path / "gone.pdf", root=tmp_path)
        assert str(caught.value) == "cannot read: No such file or directory"
        (tmp_path / "big.md").write_bytes(b"x" * (MIB + 1))
        with pytest.raises(DocumentError) as caught:
            reader.read(tmp_path / "big.md", root=tmp_path)
        assert str(caught.value) == "file is 1.1 MB; the limit is 1 MB (QA_MAX_FILE_MB)"


# --------------------------------------------------------------------------- the real thing


@pytest.mark.integration
def test_real_qa_index_skips_the_bombs_and_indexes_the_rest(settings: Settings) -> None:
    with_note(settings, "bomb.pdf", flate_pdf([0] * 10, [blank_stream("Shared.", 2 * MIB)]))
    (settings.docs / "page.html").write_bytes(b"<b>a</b>" * 300_000)
    qa_exe = shutil.which("qa", path=str(Path(sys.executable).parent))
    assert qa_exe
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("QA_")},
        "HF_HUB_OFFLINE": "1",
        "QA_CACHE": str(settings.cache),
        "QA_EXTRACT_MEMORY_MB": "256",
    }
    args = [qa_exe, "index", "--docs", str(settings.docs), "--index", str(settings.index)]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [  # (a fresh cache also prints the model's one-time ONNX export)
        f"warning: skipped bomb.pdf: {RATIO}",
        "warning: skipped page.html: reading it would need about 292 MB of memory (600,000 "
        "tags); the limit is 256 MB (QA_EXTRACT_MEMORY_MB)",
    ]
    assert [d.source for d in load(settings.index).documents] == ["note.txt"]


def test_a_reader_killed_from_outside_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "a.pdf").write_bytes(text_pdf("First."))
    (tmp_path / "b.pdf").write_bytes(text_pdf("Second."))
    with Reader(Limits()) as reader:
        assert reader.read(tmp_path / "a.pdf", root=tmp_path).text == "First."
        child = reader._child
        assert child is not None
        child._proc.kill()  # idle: the next file is not blamed
        child._proc.wait()
        assert reader.read(tmp_path / "b.pdf", root=tmp_path).text == "Second."
        assert reader._child is not child


def test_a_reader_dying_mid_read_skips_that_file_only(tmp_path: Path) -> None:
    (tmp_path / "slow.pdf").write_bytes(slow_pdf())
    (tmp_path / "fine.pdf").write_bytes(text_pdf("Fine."))
    with Reader(Limits(unpack_ratio=100_000)) as reader:
        reader.read(tmp_path / "fine.pdf", root=tmp_path)
        child = reader._child
        assert child is not None
        killer = threading.Timer(0.5, child._proc.kill)
        killer.start()
        with pytest.raises(DocumentError) as caught:
            reader.read(tmp_path / "slow.pdf", root=tmp_path)
        killer.join()
        assert str(caught.value) == "the reader process failed (killed by SIGKILL: no message)"
        assert reader.read(tmp_path / "fine.pdf", root=tmp_path).text == "Fine."


def test_an_interrupted_read_kills_the_reader_at_once(tmp_path: Path) -> None:
    """Ctrl-C (or a cancelled build) while a document is read: the child is killed, not waited
    for, and none is left behind."""
    (tmp_path / "slow.pdf").write_bytes(slow_pdf())
    reader = Reader(Limits(unpack_ratio=100_000))
    (tmp_path / "fine.pdf").write_bytes(text_pdf("Fine."))
    reader.read(tmp_path / "fine.pdf", root=tmp_path)
    child = reader._child
    assert child is not None
    interrupt = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    interrupt.start()
    started = time.perf_counter()
    with pytest.raises(KeyboardInterrupt), reader:
        reader.read(tmp_path / "slow.pdf", root=tmp_path)
    interrupt.join()
    assert time.perf_counter() - started < 2  # the read takes several seconds
    assert child._proc.returncode == -signal.SIGKILL
