"""Tests for qa.ingest.discover and qa.ingest.documents with its readers: discovery, text
extraction and offsets, all on files under tmp_path."""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from pathlib import Path
from typing import Any

import docx
import pytest
from docx.enum.style import WD_STYLE_TYPE
from fakes import pdf_file
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader, PdfWriter

from qa.errors import DocsFolderError, DocumentError
from qa.ingest import docx as word
from qa.ingest.blocks import check_blocks
from qa.ingest.discover import discover, hash_file
from qa.ingest.documents import SUPPORTED_SUFFIXES, Document, Skipped, read_document
from qa.ingest.limits import Limits


def write(root: Path, relative: str, data: bytes | str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_bytes(data.encode("utf-8"))
    else:
        path.write_bytes(data)
    return path


def read(root: Path, relative: str, data: bytes | str) -> Document:
    return read_document(write(root, relative, data), root=root)


def reason(root: Path, relative: str, data: bytes | str) -> str:
    with pytest.raises(DocumentError) as caught:
        read(root, relative, data)
    return str(caught.value)


def make_pdf(pages: list[str]) -> bytes:
    """A minimal valid PDF: one Helvetica text line per page (empty string: a page without text)."""
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    kids = []
    for text in pages:
        body = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET" if text else ""
        objects.append(f"<< /Length {len(body)} >>\nstream\n{body}\nendstream")
        contents = len(objects)
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {contents} 0 R "
            "/Resources << /Font << /F1 3 0 R >> >> >>"
        )
        kids.append(f"{len(objects)} 0 R")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>"
    return pdf_file([obj.encode() for obj in objects])


def encrypt(pdf: bytes, *, user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    # RC4 needs no optional crypto dependency in pypdf.
    writer.encrypt(user_password, owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --------------------------------------------------------------------------- plain text


def test_supported_suffixes() -> None:
    assert (
        frozenset(
            {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx"}
            | {".png", ".jpg", ".jpeg", ".tif", ".tiff"}
        )
        == SUPPORTED_SUFFIXES
    )


def test_txt_exact_text_and_metadata(tmp_path: Path) -> None:
    data = "  Title\n\nBody  with   inner   spaces.\n\tTabbed line\n\n\n"
    doc = read(tmp_path, "sub/a.txt", data)
    assert doc == Document(
        source="sub/a.txt",
        text="  Title\n\nBody  with   inner   spaces.\n\tTabbed line\n\n\n",
        sha256=hashlib.sha256(data.encode()).hexdigest(),
        size=53,
        pages=(),
        warning=None,
    )
    assert doc.page_at(0) is None


def test_md_read_as_its_reader_sees_it(tmp_path: Path) -> None:
    # Markdown is rendered (issue 26): its markup is not text; tests/test_markdown.py has more.
    doc = read(tmp_path, "notes.MD", "# Heading\n\n* item *one*\n* `code`\n")
    assert doc.source == "notes.MD"
    assert doc.text == "Heading\n\nitem one\ncode"


def test_newlines_normalised(tmp_path: Path) -> None:
    doc = read(tmp_path, "crlf.txt", b"one\r\ntwo\rthree\n\r\nfour\r")
    assert doc.text == "one\ntwo\nthree\n\nfour\n"
    assert doc.size == 22


def test_utf8_bom_stripped(tmp_path: Path) -> None:
    doc = read(tmp_path, "bom.txt", b"\xef\xbb\xbfcaf\xc3\xa9\n")
    assert doc.text == "café\n"
    assert doc.warning is None


def test_cp1252_decoded_with_warning(tmp_path: Path) -> None:
    doc = read(tmp_path, "legacy.txt", "“Café” – 5 €\r\n".encode("cp1252"))
    assert doc.text == "“Café” – 5 €\n"
    assert doc.warning == "not UTF-8; decoded as cp1252"


def test_bytes_undefined_in_cp1252_fall_back_to_latin1(tmp_path: Path) -> None:
    doc = read(tmp_path, "odd.txt", b"a\x81b\xe9")
    assert doc.text == "a\x81bé"
    assert doc.warning == "not UTF-8; decoded as latin-1"


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_with_bom_decoded_with_warning(tmp_path: Path, codec: str) -> None:
    bom = b"\xff\xfe" if codec == "utf-16-le" else b"\xfe\xff"
    doc = read(tmp_path, "wide.txt", bom + "Grüße\r\nzwei\n".encode(codec))
    assert doc.text == "Grüße\nzwei\n"
    assert doc.warning == "not UTF-8; decoded as UTF-16"


def test_utf32_with_bom_decoded_with_warning(tmp_path: Path) -> None:
    doc = read(tmp_path, "wider.txt", "x y\n".encode("utf-32"))
    assert doc.text == "x y\n"
    assert doc.warning == "not UTF-8; decoded as UTF-32"


def test_truncated_utf16_is_reported(tmp_path: Path) -> None:
    assert reason(tmp_path, "bad.txt", b"\xff\xfea\x00b") == "invalid UTF-16 text"


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("nul.txt", b"text\x00more", "binary file"),
        ("image.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
        ("nul.html", b"<p>a</p>\x00", "binary file"),
        ("empty.txt", b"", "empty file"),
        ("blank.md", b" \n\t\r\n  ", "empty file"),
        ("bom-only.txt", b"\xef\xbb\xbf", "empty file"),
        ("blank-utf16.txt", b"\xff\xfe \x00\n\x00", "empty file"),
        ("empty.pdf", b"", "empty file"),
        ("report.doc", b"\xd0\xcf\x11\xe0", "unsupported type .doc"),
        ("archive.TAR", b"data", "unsupported type .tar"),
        ("Makefile", b"all:\n", "unsupported type (no extension)"),
        (
            "scripts.html",
            b"<script>alert(1)</script><style>p{}</style>",
            "HTML has no visible text",
        ),
    ],
)
def test_skip_reasons(tmp_path: Path, name: str, data: bytes, expected: str) -> None:
    assert reason(tmp_path, name, data) == expected


def test_unreadable_path_reports_strerror(tmp_path: Path) -> None:
    (tmp_path / "folder.txt").mkdir()
    with pytest.raises(DocumentError) as caught:
        read_document(tmp_path / "folder.txt", root=tmp_path)
    assert str(caught.value) == "cannot read: Is a directory"


def test_missing_file_reports_strerror(tmp_path: Path) -> None:
    with pytest.raises(DocumentError) as caught:
        read_document(tmp_path / "gone.txt", root=tmp_path)
    assert str(caught.value) == "cannot read: No such file or directory"


def test_source_with_relative_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "docs/x/y.txt", "hello")
    monkeypatch.chdir(tmp_path)
    assert read_document(tmp_path / "docs/x/y.txt", root=Path("docs")).source == "x/y.txt"
    assert read_document(Path("docs/x/y.txt"), root=Path("docs")).source == "x/y.txt"


def test_large_text_file(tmp_path: Path) -> None:
    line = "0123456789 abcdefghij\r\n"  # 23 bytes, 22 chars once normalised
    count = 400_000  # ~9 MB: large enough to expose quadratic behaviour, small enough to stay fast
    doc = read(tmp_path, "big.txt", line * count)
    assert doc.size == 23 * count
    assert len(doc.text) == 22 * count
    assert doc.text[:22] == "0123456789 abcdefghij\n"
    assert "\r" not in doc.text


def test_repr_leaves_out_text(tmp_path: Path) -> None:
    doc = read(tmp_path, "a.txt", "secret body")
    assert "secret body" not in repr(doc)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))))
def test_utf8_text_is_faithful_apart_from_newlines(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, "p.txt", text)
    expected = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not text.removeprefix("\ufeff") or text.removeprefix("\ufeff").isspace():
        with pytest.raises(DocumentError):
            read_document(path, root=tmp_path)
    else:
        assert read_document(path, root=tmp_path).text == expected


# --------------------------------------------------------------------------- HTML

PAGE = """<!DOCTYPE html>
<html><head><title>Page title</title><style>p {color: red}</style>
<script>var x = "<p>not text</p>";</script></head>
<body>
<h1>Main   heading</h1>
<p>First &amp; <b>bold</b>
paragraph &lt;b&gt;.</p>
<!-- a comment -->
<div>Second paragraph<br>with a break.</div>
<ul><li>one</li><li>two</li></ul>
<noscript>Enable JS</noscript>
<template><p>hidden template</p></template>
<p hidden>hidden para</p><p style="display: none">gone</p>
<pre>
  code line 1
    code line 2
</pre>
<table><tr><th>a</th><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>
Tail&nbsp;text<br><br>after
</body></html>
"""


def test_html_visible_text_with_paragraph_breaks(tmp_path: Path) -> None:
    doc = read(tmp_path, "page.html", PAGE.replace("\n", "\r\n"))
    assert doc.text == (
        "Main heading\n\n"
        "First & bold paragraph <b>.\n\n"
        "Second paragraph\nwith a break.\n\n"
        "one\ntwo\n\n"
        "  code line 1\n    code line 2\n\n"
        "a b\nc d\n\n"
        "Tail text\n\nafter"
    )
    assert doc.warning is None
    assert doc.pages == ()


def test_htm_fragment_without_body(tmp_path: Path) -> None:
    doc = read(tmp_path, "frag.htm", "<p>One</p><p>Two <i>three</i></p>plain")
    assert doc.text == "One\n\nTwo three\n\nplain"


def test_html_declared_charset_needs_no_warning(tmp_path: Path) -> None:
    data = '<meta charset="iso-8859-1"><p>café</p>'.encode("latin-1")
    doc = read(tmp_path, "latin.html", data)
    assert doc.text == "café"
    assert doc.warning is None


def test_html_undeclared_legacy_encoding_warns(tmp_path: Path) -> None:
    # Short cp1252 bytes that a statistical guesser read as Chinese ("田af髞").
    doc = read(tmp_path, "legacy.html", "<p>“café”</p>".encode("cp1252"))
    assert doc.text == "“café”"
    assert doc.warning == "not UTF-8; decoded as cp1252"


@pytest.mark.parametrize(
    ("name", "data", "text", "warning"),
    [
        # Labelled Latin-1, read as cp1252 as browsers do: 0x93/0x94 are curly quotes.
        ("latin1.html", b'<meta charset="ISO-8859-1"><p>\x93caf\xe9\x94</p>', "“café”", None),
        ("wrong.html", '<meta charset="utf-8"><p>café</p>'.encode("cp1252"), "café",
         "not UTF-8; decoded as cp1252"),
        ("unknown.html", '<meta charset="x-nonsense"><p>café</p>'.encode(), "café", None),
        ("bom.html", "\ufeff<meta charset=cp1252><p>café</p>".encode(), "café", None),
        ("utf16.html", "<p>café</p>".encode("utf-16"), "café", "not UTF-8; decoded as UTF-16"),
        ("sjis.html", '<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">'
         "<p>日本</p>".encode("shift_jis"), "日本", None),
    ],
)  # fmt: skip
def test_html_encoding_from_bom_then_declaration_then_utf8_then_cp1252(
    tmp_path: Path, name: str, data: bytes, text: str, warning: str | None
) -> None:
    doc = read(tmp_path, name, data)
    assert (doc.text, doc.warning) == (text, warning)


def test_html_deep_nesting_does_not_recurse(tmp_path: Path) -> None:
    doc = read(tmp_path, "deep.html", "<span>" * 3000 + "deep" + "</span>" * 3000)
    assert doc.text == "deep"


# --------------------------------------------------------------------------- PDF


def test_pdf_pages_and_offsets(tmp_path: Path) -> None:
    pdf = make_pdf(["Hello page one", "Second page text"])
    doc = read(tmp_path, "docs/two.pdf", pdf)
    assert doc.text == "Hello page one\n\nSecond page text"
    assert doc.pages == (0, 16)
    assert doc.sha256 == hashlib.sha256(pdf).hexdigest()
    assert doc.size == len(pdf)
    assert doc.warning is None
    assert [doc.page_at(offset) for offset in (0, 13, 14, 15, 16, 31, 32)] == [1, 1, 1, 1, 2, 2, 2]


def test_pdf_page_without_text_keeps_its_offset(tmp_path: Path) -> None:
    doc = read(tmp_path, "gap.pdf", make_pdf(["Alpha", "", "Gamma"]))
    assert doc.text == "Alpha\n\n\n\nGamma"
    assert doc.pages == (0, 7, 9)
    assert doc.page_at(9) == 3
    assert doc.page_at(8) == 2


def test_page_at_rejects_offsets_outside_text(tmp_path: Path) -> None:
    doc = read(tmp_path, "two.pdf", make_pdf(["Hello page one", "Second page text"]))
    with pytest.raises(ValueError):
        doc.page_at(-1)
    with pytest.raises(ValueError):
        doc.page_at(33)


def test_pdf_without_text(tmp_path: Path) -> None:
    assert reason(tmp_path, "scan.pdf", make_pdf(["", ""])) == "PDF has no extractable text"


def test_pdf_with_password(tmp_path: Path) -> None:
    pdf = encrypt(make_pdf(["Secret"]), user_password="secret")
    assert reason(tmp_path, "locked.pdf", pdf) == "cannot read PDF: password protected"


def test_pdf_encrypted_with_empty_password_is_read(tmp_path: Path) -> None:
    doc = read(tmp_path, "open.pdf", encrypt(make_pdf(["Open text"]), user_password=""))
    assert doc.text == "Open text"
    assert doc.pages == (0,)


def test_broken_pdf(tmp_path: Path) -> None:
    assert reason(tmp_path, "broken.pdf", b"%PDF-1.4 garbage") == (
        "cannot read PDF: Stream has ended unexpectedly"
    )


# --------------------------------------------------------------------------- Word


def make_docx() -> bytes:
    """A heading, a paragraph with a line break, a table with a merged cell, an empty paragraph
    and a page header (which is not body text)."""
    document = docx.Document()
    document.add_heading("Treaty of Friendship", level=1)
    document.add_paragraph("The treaty was signed on 11 July 1961.\nIt is still in force.")
    table = document.add_table(rows=3, cols=3)
    for row, values in enumerate([("Year", "Event", "Place"), ("1961", "Signed", "Beijing")]):
        for column, value in enumerate(values):
            table.cell(row, column).text = value
    table.cell(2, 0).merge(table.cell(2, 1)).text = "Merged  cell"
    table.cell(2, 2).text = "x"
    document.add_paragraph("")
    document.add_paragraph("Closing paragraph.")
    document.sections[0].header.paragraphs[0].text = "PAGE HEADER"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_docx_body_text_in_reading_order(tmp_path: Path) -> None:
    doc = read(tmp_path, "treaty.docx", make_docx())
    assert doc.text == (
        "Treaty of Friendship\n\n"
        "The treaty was signed on 11 July 1961.\nIt is still in force.\n\n"
        "Year\tEvent\tPlace\n1961\tSigned\tBeijing\nMerged cell\tx\n\n"
        "Closing paragraph."
    )
    assert (doc.pages, doc.warning) == ((), None)


def spans(document: Document) -> list[tuple[str, int, str]]:
    check_blocks(document.text, document.blocks)
    return [(b.kind, b.level, document.text[b.start : b.end]) for b in document.blocks]


def test_docx_blocks_heading_paragraphs_and_rows(tmp_path: Path) -> None:
    assert spans(read(tmp_path, "treaty.docx", make_docx())) == [
        ("heading", 2, "Treaty of Friendship"),  # Heading 1: under a Title, were there one
        ("paragraph", 0, "The treaty was signed on 11 July 1961.\nIt is still in force."),
        ("row", 0, "Year\tEvent\tPlace"),
        ("row", 0, "1961\tSigned\tBeijing"),
        ("row", 0, "Merged cell\tx"),
        ("paragraph", 0, "Closing paragraph."),
    ]


def numbered(paragraph: Any, number_id: int) -> None:
    """Numbering set on the paragraph itself (numId 0: a style's numbering taken off)."""
    paragraph._p.get_or_add_pPr().get_or_add_numPr().get_or_add_numId().val = number_id


def make_styled_docx() -> bytes:
    document = docx.Document()
    styles = document.styles
    document.add_heading("Handbook", level=0)  # Title
    document.add_heading("Scope", level=2)
    document.add_heading("Fine print", level=9)
    chapter = styles.add_style("Chapter", WD_STYLE_TYPE.PARAGRAPH)
    chapter.base_style = styles["Heading 1"]
    document.add_paragraph("Custom heading", style="Chapter")
    outlined = document.add_paragraph("Outlined")
    outlined._p.get_or_add_pPr().get_or_add_outlineLvl().val = 2  # Word's outline level 3
    document.add_paragraph("First bullet", style="List Bullet")
    document.add_paragraph("Step one", style="List Number")
    numbered(document.add_paragraph("Numbered by hand"), 1)
    numbered(document.add_paragraph("Bullet taken off", style="List Bullet"), 0)
    document.add_paragraph("Indented, no number", style="List Paragraph")
    document.add_paragraph("  padded  ")
    loop_a = styles.add_style("Loop A", WD_STYLE_TYPE.PARAGRAPH)
    loop_b = styles.add_style("Loop B", WD_STYLE_TYPE.PARAGRAPH)
    loop_a.base_style, loop_b.base_style = loop_b, loop_a
    document.add_paragraph("Looping style", style="Loop A")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_docx_headings_and_list_items_by_style_numbering_and_outline(tmp_path: Path) -> None:
    document = read(tmp_path, "styled.docx", make_styled_docx())
    assert spans(document) == [
        ("heading", 1, "Handbook"),
        ("heading", 3, "Scope"),
        ("heading", 6, "Fine print"),  # Heading 9, as deep as blocks go
        ("heading", 2, "Custom heading"),  # a style based on Heading 1
        ("heading", 4, "Outlined"),
        ("item", 0, "First bullet"),
        ("item", 0, "Step one"),
        ("item", 0, "Numbered by hand"),
        ("paragraph", 0, "Bullet taken off"),
        ("paragraph", 0, "Indented, no number"),
        ("paragraph", 0, "padded"),
        ("paragraph", 0, "Looping style"),
    ]
    assert "\n\n  padded  \n\n" in document.text


def test_docx_without_text(tmp_path: Path) -> None:
    out = io.BytesIO()
    docx.Document().save(out)
    assert reason(tmp_path, "blank.docx", out.getvalue()) == "Word document has no text"


def test_docx_that_is_not_a_word_file(tmp_path: Path) -> None:
    assert reason(tmp_path, "renamed.docx", b"plain text, not a zip") == (
        "not a readable Word document (not a .docx zip file)"
    )
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("other.xml", "<x/>")
    assert reason(tmp_path, "zip.docx", archive.getvalue()) == (
        "not a readable Word document (no word/document.xml inside)"
    )


def test_docx_that_unpacks_too_large_is_refused_before_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = docx.Document()
    document.add_paragraph("again " * 200_000)  # 1.2 MB of XML, a few KB zipped
    out = io.BytesIO()
    document.save(out)
    assert len(out.getvalue()) < 100_000

    def parse(*args: object) -> None:
        raise AssertionError("parsed")

    monkeypatch.setattr(word.docx, "Document", parse)
    path = write(tmp_path, "bomb.docx", out.getvalue())
    with pytest.raises(DocumentError) as caught:
        read_document(path, root=tmp_path, limits=Limits(unpacked_bytes=1024 * 1024))
    assert str(caught.value) == "Word document unpacks to more than 1 MB (QA_MAX_UNPACKED_MB)"


# --------------------------------------------------------------------------- hashing


def test_hash_file_streams_large_files(tmp_path: Path) -> None:
    data = os.urandom(3 * (1 << 20) + 17)
    path = write(tmp_path, "blob.bin", data)
    assert hash_file(path) == hashlib.sha256(data).hexdigest()


def test_hash_file_missing_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        hash_file(tmp_path / "nope.txt")


# --------------------------------------------------------------------------- discover


def relative(paths: list[Path], root: Path) -> list[str]:
    return [path.relative_to(root).as_posix() for path in paths]


def test_discover_nested_sorted_hidden_ignored(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    for name in ["b.txt", "a/z.md", "a/b/c.pdf", "A.html", "report.docx", ".hidden.txt",
                 ".git/config.txt", "a/.cache/x.txt", "a/b/.x.md"]:  # fmt: skip
        write(root, name, "x")
    found = discover(root)
    assert relative(found, root) == ["A.html", "a/b/c.pdf", "a/z.md", "b.txt", "report.docx"]
    assert found[0] == root / "A.html"


def test_discover_does_not_follow_links_outside(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    write(root, "inside.txt", "x")
    outside = write(tmp_path, "outside/secret.txt", "x")
    (root / "file-link.txt").symlink_to(outside)
    (root / "dir-link").symlink_to(outside.parent, target_is_directory=True)
    (root / "relative-link.txt").symlink_to("../outside/secret.txt")
    (root / "inner-link.txt").symlink_to(root / "inside.txt")
    (root / "dangling.txt").symlink_to(root / "missing.txt")
    assert relative(discover(root), root) == ["inner-link.txt", "inside.txt"]


def test_discover_link_loops_terminate(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    write(root, "sub/a.txt", "x")
    (root / "sub" / "up").symlink_to("..", target_is_directory=True)
    (root / "sub" / "self").symlink_to(root / "sub", target_is_directory=True)
    (root / "loop.txt").symlink_to(root / "loop.txt")
    (root / "ping").symlink_to(root / "pong")
    (root / "pong").symlink_to(root / "ping")
    assert relative(discover(root), root) == ["sub/a.txt"]


def test_discover_link_into_tree_lists_files_once_under_real_path(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    write(root, "z/real/a.txt", "x")
    write(root, ".shared/b.txt", "x")
    (root / "a-link").symlink_to(root / "z" / "real", target_is_directory=True)
    (root / "shared").symlink_to(root / ".shared", target_is_directory=True)
    assert relative(discover(root), root) == ["shared/b.txt", "z/real/a.txt"]


def test_discover_root_may_be_a_link(tmp_path: Path) -> None:
    write(tmp_path, "real/a.txt", "x")
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    assert discover(tmp_path / "alias") == [tmp_path / "alias" / "a.txt"]


def test_discover_missing_folder(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(DocsFolderError) as caught:
        discover(missing)
    assert str(caught.value) == (
        f"Documents folder {missing} does not exist. Create it and put .txt, .md, .html, .pdf, "
        ".docx, .png, .jpg or .tif files in it, or pass --docs DIR."
    )


def test_discover_file_instead_of_folder(tmp_path: Path) -> None:
    path = write(tmp_path, "file.txt", "x")
    with pytest.raises(DocsFolderError) as caught:
        discover(path)
    assert str(caught.value).startswith(f"Documents folder {path} does not exist.")


def test_discover_then_read_reports_skips(tmp_path: Path) -> None:
    write(tmp_path, "ok.txt", "fine")
    write(tmp_path, "old.doc", "x")
    write(tmp_path, "sub/empty.md", "")
    docs: list[Document] = []
    skipped: list[Skipped] = []
    for path in discover(tmp_path):
        try:
            docs.append(read_document(path, root=tmp_path))
        except DocumentError as exc:
            skipped.append(Skipped(path.relative_to(tmp_path).as_posix(), str(exc)))
    assert [doc.source for doc in docs] == ["ok.txt"]
    assert skipped == [
        Skipped("old.doc", "unsupported type .doc"),
        Skipped("sub/empty.md", "empty file"),
    ]
