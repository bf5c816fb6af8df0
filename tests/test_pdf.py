"""PDF text laid out from its printed lines (issue 26): qa.ingest.pdf with pdf_lines, pdf_marks
and pdf_layout. The PDFs are written here, line by line at known places, in the standard fonts
(Helvetica for prose, Courier for code); outlines are added with pypdf's writer."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from fakes import pdf_file
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader, PdfWriter
from pypdf.generic import Fit

import qa.ingest.pdf
from qa.ingest.blocks import check_blocks
from qa.ingest.documents import Document, read_document
from qa.ingest.limits import Limits
from qa.ingest.pdf import pdf_text
from qa.ingest.pdf_layout import lay_out
from qa.ingest.pdf_lines import Line
from qa.ingest.pdf_marks import Heading, shape

CORPUS = Path(__file__).resolve().parent.parent / "eval" / "corpora" / "r-data" / "docs"
FONTS = {"F1": "Helvetica", "F2": "Courier", "F3": "Helvetica-Bold"}

# A printed line: left edge, baseline, font (F1 prose, F2 code, F3 bold), size, text.
Run = tuple[float, float, str, float, str]


def body(lines: list[str], *, top: float, x: float = 72, step: float = 14) -> list[Run]:
    """Lines of 11 pt Helvetica one under the other; a line starting with ">" is set in by 18."""
    runs: list[Run] = []
    for number, text in enumerate(lines):
        indent = 18 if text.startswith(">") else 0
        runs.append((x + indent, top - number * step, "F1", 11, text.lstrip(">")))
    return runs


def make_pdf(pages: list[list[Run]], *, rotated: bool = False) -> bytes:
    """A PDF with one content stream per page showing each run where it says (WinAnsi text);
    rotated: every run turned a quarter (no layout can be read from it)."""
    fonts = " ".join(f"/{key} {3 + n} 0 R" for n, key in enumerate(FONTS))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    objects += [
        f"<< /Type /Font /Subtype /Type1 /BaseFont /{name} /Encoding /WinAnsiEncoding >>".encode()
        for name in FONTS.values()
    ]
    kids = []
    for runs in pages:
        shown = []
        for x, y, font, size, text in runs:
            escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            where = f"0 1 -1 0 {x} {y} Tm" if rotated else f"{x} {y} Td"
            shown.append(f"BT /{font} {size} Tf {where} ({escaped}) Tj ET")
        stream = "\n".join(shown).encode("cp1252")
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {len(objects)} 0 R "
            f"/Resources << /Font << {fonts} >> >> >>".encode()
        )
        kids.append(f"{len(objects)} 0 R")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>".encode()
    return pdf_file(objects)


def with_outline(pdf: bytes, entries: list[tuple[str, int, float, int]]) -> bytes:
    """`pdf` with outline entries (title, 0-based page, top, depth), in order; an entry of
    depth d goes under the last entry of depth d - 1."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    parents: dict[int, object] = {}
    for title, page, top, depth in entries:
        parent = parents.get(depth - 1)
        item = writer.add_outline_item(
            title=title, page_number=page, parent=parent, fit=Fit.xyz(72, top)
        )
        parents[depth] = item
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def read(tmp_path: Path, data: bytes) -> Document:
    path = tmp_path / "guide.pdf"
    path.write_bytes(data)
    document = read_document(path, root=tmp_path)
    check_blocks(document.text, document.blocks)
    return document


def spans(document: Document) -> list[tuple[str, int, str]]:
    return [(b.kind, b.level, document.text[b.start : b.end]) for b in document.blocks]


# --------------------------------------------------------------------------- the crafted guide

HEAD = 760  # running heads' baseline
FOOT = 40  # page numbers'

PAGE_1 = [
    (72, HEAD, "F1", 9, "Chapter 1: Treaties 1"),
    (72, 720, "F3", 16, "1 Treaties"),
    *body(
        [
            "The treaty was signed in Vienna on 18 April 1961 after long and",
            "careful negotiations between the parties, and it entered into",
            "force three years later.",
            ">It sets out the rules of diplomatic law and the con-",
            "ditional privileges of envoys. Disputes about cross-",
            "border matters go to a court; each cross-border claim is heard",
            "within a year of the date on which it was brought by a state.",
            ">Every state keeps its own archives, which are inviolable at any",
            "time and wherever they may be, and its couriers are protected",
            "by the receiving state in the performance of their functions,",
            "and the parties agreed that every dispute shall be settled by the",
        ],
        top=690,
    ),
    (300, FOOT, "F1", 9, "1"),
]
PAGE_2 = [
    (72, HEAD, "F1", 9, "Chapter 1: Treaties 2"),
    *body(["court in The Hague, whose rulings are final."], top=720),
    (72, 690, "F3", 13, "1.1 Archives"),
    *body(["To index the archives and ask about them:"], top=666),
    (90, 646, "F2", 10, "qa index docs/"),
    (90, 634, "F2", 10, 'qa ask "When was it signed?"'),
    *body(["A state may:"], top=610),
    *body(
        [
            "• close a mission;",
            "• declare a member of the mission unwelcome at any time, and it",
            ">need not explain its decision.",
        ],
        top=592,
    ),
    (300, FOOT, "F1", 9, "2"),
]
PAGE_3 = [
    (72, HEAD, "F1", 9, "Chapter 2: Courts 3"),
    (72, 720, "F3", 16, "2 Courts"),
    *body(["The court sits in The Hague."], top=690),
    (300, FOOT, "F1", 9, "iii"),
]
GUIDE = [PAGE_1, PAGE_2, PAGE_3]
OUTLINE = [("Treaties", 0, 736, 1), ("Archives", 1, 705, 2), ("Courts", 2, 736, 1)]

TEXT_1 = (
    "1 Treaties\n\n"
    "The treaty was signed in Vienna on 18 April 1961 after long and careful negotiations "
    "between the parties, and it entered into force three years later.\n\n"
    "It sets out the rules of diplomatic law and the conditional privileges of envoys. Disputes "
    "about cross-border matters go to a court; each cross-border claim is heard within a year of "
    "the date on which it was brought by a state.\n\n"
    "Every state keeps its own archives, which are inviolable at any time and wherever they may "
    "be, and its couriers are protected by the receiving state in the performance of their "
    "functions, and the parties agreed that every dispute shall be settled by the "
)
TEXT_2 = (
    "court in The Hague, whose rulings are final.\n\n"
    "1.1 Archives\n\n"
    "To index the archives and ask about them:\n\n"
    'qa index docs/\nqa ask "When was it signed?"\n\n'
    "A state may:\n\n"
    "• close a mission;\n"
    "• declare a member of the mission unwelcome at any time, and it need not explain its decision."
)
TEXT_3 = "2 Courts\n\nThe court sits in The Hague."


def test_lines_become_paragraphs_without_heads_numbers_or_hyphens(tmp_path: Path) -> None:
    document = read(tmp_path, make_pdf(GUIDE))
    assert document.text == TEXT_1 + TEXT_2 + "\n\n" + TEXT_3
    assert document.warning is None


def test_page_starts_are_where_each_page_text_begins(tmp_path: Path) -> None:
    """Page 2 starts mid-sentence: the sentence runs on from page 1 with a space."""
    document = read(tmp_path, make_pdf(GUIDE))
    second = len(TEXT_1)
    third = second + len(TEXT_2) + 2
    assert document.pages == (0, second, third)
    assert document.text[second:].startswith("court in The Hague")
    assert document.text[third:].startswith("2 Courts")
    offsets = [0, second - 1, second, document.text.index("1.1 Archives"), third - 1, third]
    assert [document.page_at(offset) for offset in offsets] == [1, 1, 2, 2, 2, 3]
    assert document.page_at(len(document.text)) == 3


def test_outline_titles_are_headings_with_their_depth(tmp_path: Path) -> None:
    document = read(tmp_path, with_outline(make_pdf(GUIDE), OUTLINE))
    assert document.text == TEXT_1 + TEXT_2 + "\n\n" + TEXT_3
    assert spans(document) == [
        ("heading", 1, "1 Treaties"),
        ("paragraph", 0, TEXT_1.split("\n\n")[1]),
        ("paragraph", 0, TEXT_1.split("\n\n")[2]),
        ("paragraph", 0, TEXT_1.split("\n\n")[3] + TEXT_2.split("\n\n")[0]),
        ("heading", 2, "1.1 Archives"),
        ("paragraph", 0, "To index the archives and ask about them:"),
        ("code", 0, 'qa index docs/\nqa ask "When was it signed?"'),
        ("paragraph", 0, "A state may:"),
        ("item", 0, "• close a mission;"),
        (
            "item",
            0,
            "• declare a member of the mission unwelcome at any time, and it need not explain its "
            "decision.",
        ),
        ("heading", 1, "2 Courts"),
        ("paragraph", 0, "The court sits in The Hague."),
    ]


def test_without_an_outline_no_heading_is_guessed(tmp_path: Path) -> None:
    document = read(tmp_path, make_pdf(GUIDE))
    kinds = [kind for kind, _, _ in spans(document)]
    assert "heading" not in kinds
    assert spans(document)[0] == ("paragraph", 0, "1 Treaties")


def test_rotated_text_keeps_its_line_breaks(tmp_path: Path) -> None:
    """No layout can be read from text turned a quarter: its printed lines stay lines."""
    runs = [
        (300, 100, "F1", 11, "The treaty was signed in Vienna on 18"),
        (286, 100, "F1", 11, "April 1961."),
    ]
    document = read(tmp_path, make_pdf([runs], rotated=True))
    assert document.text == "The treaty was signed in Vienna on 18\nApril 1961."
    assert spans(document) == [("paragraph", 0, document.text)]


def test_a_line_break_inside_shown_text_stays(tmp_path: Path) -> None:
    """A carriage return in a shown string ends a line pypdf gives no position for: kept."""
    runs = [(72, 700, "F1", 11, "Signed in Vienna on 18 April 1961, and in\rforce since 1964.")]
    document = read(tmp_path, make_pdf([runs]))
    assert document.text == "Signed in Vienna on 18 April 1961, and in\nforce since 1964."


# --------------------------------------------------------------------------- joining lines


def lines(*texts: str, top: float = 700, x: float = 72, size: float = 11) -> list[Line]:
    return [Line(text, x, top - n * 14, size, False) for n, text in enumerate(texts)]


def laid_out(*pages: list[Line], headings: list[Heading] | None = None) -> str:
    text, _, blocks = lay_out(list(pages), headings or [])
    check_blocks(text, blocks)
    return text


@pytest.mark.parametrize(
    ("before", "after", "elsewhere", "joined"),
    [
        ("privileges are con-", "ditional on it", "", "privileges are conditional on it"),
        ("use the command-", "line tool", "or a command-line option", "use the command-line tool"),
        (
            "the machine-",
            "dependent values",
            "on a machine, compiler-dependent",
            "the machine-dependent values",
        ),
        ("in UTF-", "8 text", "", "in UTF-8 text"),
        ("an ELE-", "MENT type", "each ELEMENT", "an ELEMENT type"),
        ("to cut-and-", "paste it", "", "to cut-and-paste it"),
        ("by Springer-", "Verlag in Berlin", "", "by Springer-Verlag in Berlin"),
        ("privileges are con\u00ad", "ditional", "", "privileges are conditional"),
        ("the dash -", "and more", "", "the dash - and more"),
        (
            "see https://example.org/",
            "docs/page here",
            "",
            "see https://example.org/docs/page here",
        ),
        ("条约于一九六一年", "签署。", "", "条约于一九六一年签署。"),
    ],
)
def test_a_line_end_in_a_paragraph(before: str, after: str, elsewhere: str, joined: str) -> None:
    page = lines(before, after) + (lines(elsewhere, top=600) if elsewhere else [])
    assert laid_out(page) == joined + (f"\n\n{elsewhere}" if elsewhere else "")


def test_a_sentence_runs_on_to_the_next_page_or_column() -> None:
    full = "and the parties agreed that every dispute shall be settled by the"
    # Next page: starts lowercase after a full line: one sentence; uppercase: a new paragraph.
    assert laid_out(lines(full), lines("court in The Hague.")) == f"{full} court in The Hague."
    assert laid_out(lines(full), lines("Courts sit.")) == f"{full}\n\nCourts sit."
    # A second column: the next line is higher on the page.
    column = lines(full, top=100) + lines("court in The Hague.", top=700, x=320)
    assert laid_out(column) == f"{full} court in The Hague."


def test_a_short_line_keeps_its_break() -> None:
    """Lines whose next word would have fitted were ended on purpose: after a sentence, a new
    paragraph; else a line break (an address, a verse)."""
    full = [f"Line {n} of the treaty text, long enough to fill a printed line." for n in range(8)]
    page = lines(*full, "Signed in Vienna.", "Embassy of Austria", "Vienna", "More text.")
    assert laid_out(page) == (
        " ".join(full) + " Signed in Vienna.\n\nEmbassy of Austria\nVienna\nMore text."
    )


# --------------------------------------------------------------------------- heads and numbers


def test_running_heads_go_by_repetition_at_the_same_height() -> None:
    """Heads match with their numbers as '#'; the one head of chapter 7 goes as it is printed
    where the others are; lone numbers, roman too, go from the foot."""
    pages = [
        lines("Chapter 6: Bash Features 100", top=760, size=9)
        + lines("Text of page one.")
        + lines("100", top=40, size=9),
        lines("Chapter 6: Bash Features 101", top=760, size=9)
        + lines("Text of page two.")
        + lines("ci", top=40, size=9),
        lines("Chapter 7: Job Control 102", top=760, size=9)
        + lines("Text of page three.")
        + lines("102", top=40, size=9),
    ]
    assert laid_out(*pages) == "Text of page one.\n\nText of page two.\n\nText of page three."


def test_lines_that_only_look_like_heads_stay() -> None:
    # Same shape, different heights: two sections' first lines, not a head.
    sections = [
        lines("Section 1", top=760) + lines("One."),
        lines("Section 2") + lines("Two.", top=660),
    ]
    assert laid_out(*sections) == "Section 1\n\nOne.\n\nSection 2\n\nTwo."
    # A page of one line is text, whatever it repeats.
    assert laid_out(lines("Page 1"), lines("Page 2")) == "Page 1\n\nPage 2"


@pytest.mark.parametrize(
    ("text", "shaped"),
    [
        ("Chapter 6: Bash Features 100", "chapter #: bash features #"),
        ("Chapter  6:  Bash Features 101 ", "chapter #: bash features #"),
        ("xii", "#"),
        ("XIV", "#"),
        ("civil", "civil"),
        ("Page 3 of 10", "page # of #"),
    ],
)
def test_shape(text: str, shaped: str) -> None:
    assert shape(text) == shaped


# --------------------------------------------------------------------------- outline


def test_outline_titles_not_printed_on_their_page_make_no_heading(tmp_path: Path) -> None:
    entries = [*OUTLINE, ("Nowhere", 2, 700, 1), ("", 1, 700, 1), ("Courts", 0, 700, 2)]
    document = read(tmp_path, with_outline(make_pdf(GUIDE), entries))
    headings = [(level, text) for kind, level, text in spans(document) if kind == "heading"]
    assert headings == [(1, "1 Treaties"), (2, "1.1 Archives"), (1, "2 Courts")]


def test_a_title_is_its_own_lines_only() -> None:
    """Of the runs of lines printing a title, the fewest: "K 0.7651" above "11.7.2 Maximum
    likelihood" could be read as a numbering, and is nearer the outline's top."""
    page = lines("K 0.7651", "11.7.2 Maximum likelihood", top=700) + lines(
        "Of the two titles, a wrapped", "one takes both lines.", top=600
    )
    wrapped = Heading("Of the two titles, a wrapped one takes both lines.", 2, 0, 610)
    text, _, blocks = lay_out([page], [Heading("Maximum likelihood", 3, 0, 710), wrapped])
    assert [(b.kind, b.level, text[b.start : b.end]) for b in blocks] == [
        ("paragraph", 0, "K 0.7651"),
        ("heading", 3, "11.7.2 Maximum likelihood"),
        ("heading", 2, "Of the two titles, a wrapped one takes both lines."),
    ]


def test_an_outline_past_its_limit_is_left_out_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(qa.ingest.pdf._OUTLINE_LIMITS, "outline_maximum_entries", 2)
    document = read(tmp_path, with_outline(make_pdf(GUIDE), OUTLINE))
    assert document.text == TEXT_1 + TEXT_2 + "\n\n" + TEXT_3
    assert "heading" not in [kind for kind, _, _ in spans(document)]
    assert document.warning == (
        "pypdf: outline left out: Maximum outline entry limit reached: 3 > 2."
    )


def test_deep_outline_levels_stop_at_6(tmp_path: Path) -> None:
    pdf = make_pdf([[(72, 700 - 20 * n, "F1", 11, f"Level {n}") for n in range(1, 9)]])
    entries = [(f"Level {n}", 0, 710 - 20 * n, n) for n in range(1, 9)]
    document = read(tmp_path, with_outline(pdf, entries))
    assert [block.level for block in document.blocks] == [1, 2, 3, 4, 5, 6, 6, 6]


# --------------------------------------------------------------------------- the corpus


def test_the_r_data_manual() -> None:
    """eval/corpora/r-data: blocks hold their contract, every outline entry is a heading, no
    running head is left, and hyphenated words are whole."""
    data = (CORPUS / "R-data.pdf").read_bytes()
    extracted = pdf_text(data, Limits())
    text = extracted.text
    check_blocks(text, extracted.blocks)
    assert len(extracted.pages) == 41
    assert list(extracted.pages) == sorted(extracted.pages)
    assert not re.search(r"(?m)^Chapter \d+: ", text)
    headings = [text[b.start : b.end] for b in extracted.blocks if b.kind == "heading"]
    assert len(headings) == 43
    assert headings[:4] == ["Acknowledgements", "1 Introduction", "1.1 Imports", "1.1.1 Encodings"]
    encodings = next(b for b in extracted.blocks if text[b.start : b.end] == "1.1.1 Encodings")
    assert (encodings.kind, encodings.level) == ("heading", 3)
    assert sum(start <= encodings.start for start in extracted.pages) == 8  # its page
    assert "small reusable tools" in text and "are summarized in Chapter 9" in text
    assert "the file command-line tool (for Windows, included in Rtools)." in text
    assert extracted.warning is None


# --------------------------------------------------------------------------- any lines at all

WORDS = st.sampled_from(
    ["the", "con-", "ditional", "-", "\u00ad", "•", "1.", "x-y", "条约", "a/", "…"]
)
LINE = st.builds(
    Line,
    text=st.lists(WORDS, min_size=1, max_size=6).map(" ".join),
    x=st.one_of(st.none(), st.floats(0, 600)),
    y=st.one_of(st.none(), st.floats(0, 800)),
    size=st.sampled_from([0.0, 9.0, 11.0, 16.0]),
    mono=st.booleans(),
)
HEADINGS = st.lists(
    st.builds(Heading, title=WORDS, level=st.integers(-2, 9), page=st.integers(-1, 4),
              top=st.one_of(st.none(), st.floats(0, 800))),
    max_size=4,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(pages=st.lists(st.lists(LINE, max_size=8), max_size=4), headings=HEADINGS)
def test_any_lines_lay_out_within_the_contract(
    pages: list[list[Line]], headings: list[Heading]
) -> None:
    text, starts, blocks = lay_out(pages, headings)
    check_blocks(text, blocks)
    assert len(starts) == len(pages)
    assert list(starts) == sorted(starts) and all(0 <= start <= len(text) for start in starts)
    assert all(1 <= b.level <= 6 for b in blocks if b.kind == "heading")
    # Every character of the text but separators is in a block.
    edges = [0, *(edge for block in blocks for edge in (block.start, block.end)), len(text)]
    assert not "".join(text[a:b] for a, b in zip(edges[::2], edges[1::2], strict=True)).strip()
