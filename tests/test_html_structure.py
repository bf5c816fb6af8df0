"""Reading HTML by its structure (issue 26): navigation is left out by what the page says of
itself (element, ARIA role, accessible description, link density), never by a site's classes;
the text comes with its blocks (headings, paragraphs, code, items, terms, rows), flat however
the elements nest."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.ingest.blocks import check_blocks
from qa.ingest.documents import Document, read_document
from qa.ingest.html import html_text
from qa.ingest.limits import DEFAULT_LIMITS

PAGE = """<html><head><title>11.2. Index Types</title></head><body>
<div class="navheader"><table summary="Navigation header"><tr><th>11.2. Index Types</th>
<td><a href="intro.html">Prev</a></td><td><a href="up.html">Up</a></td>
<th>Chapter 11. Indexes</th><td><a href="next.html">Next</a></td></tr></table></div>
<nav><a href="/">Home</a> <a href="/docs">Docs</a></nav>
<div role="navigation"><p>Jump to: <a href="#a">top</a></p></div>
<h2>11.2. Index Types</h2>
<div class="toc"><dl><dt><a href="#btree">11.2.1. B-Tree</a></dt><dt><a href="#hash">11.2.2.
Hash</a></dt><dt><a href="#gist">11.2.3. GiST</a></dt></dl></div>
<p>PostgreSQL provides several index types: <a href="btree.html">B-tree</a>,
<a href="hash.html">Hash</a> and <a href="gist.html">GiST</a>, each best suited to different
queries.</p>
<aside><p>Related pages you may like.</p></aside>
<ul><li><a href="x.html">One link</a> in a sentence of prose that says much more.</li></ul>
</body></html>"""


def test_navigation_tables_of_contents_and_asides_are_left_out(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text(PAGE, encoding="utf-8")
    document = read_document(tmp_path / "page.html", root=tmp_path)
    assert document.text == (
        "11.2. Index Types\n\n"
        "PostgreSQL provides several index types: B-tree, Hash and GiST, each best suited to "
        "different queries.\n\n"
        "One link in a sentence of prose that says much more."
    )


def spans(document: Document) -> list[tuple[str, int, str]]:
    """(kind, level, text) of each block, after checking the blocks' contract."""
    check_blocks(document.text, document.blocks)
    return [(b.kind, b.level, document.text[b.start : b.end]) for b in document.blocks]


def read_html(tmp_path: Path, markup: str) -> Document:
    (tmp_path / "page.html").write_text(markup, encoding="utf-8")
    return read_document(tmp_path / "page.html", root=tmp_path)


# Sphinx-like API page: headerlinks, a signature as <dt>, a field list, nested lists, a table.
API = """<html><body><main>
<h1>Reference<a class="headerlink" href="#reference" title="Link">¶</a></h1>
<p>Intro with a footnote<a href="#f1">[1]</a> and <a href="#top">🔗</a> a glyph link.</p>
<section><h2 id="s">Functions <a href="#s">#</a></h2>
<dl class="py function"><dt class="sig" id="f"><span>format_str</span>(<em>src</em>)<a
 class="headerlink" href="#f">¶</a></dt>
<dd><p>Format a string.</p><pre>  format_str("x")
</pre><p>Returns text.</p></dd></dl>
<dl><dt>-f</dt><dt>--force</dt><dd>Force it.</dd><dt>-q</dt><dd>Quiet.<br>Very.</dd></dl>
<ul><li><p>First item.</p><p>Its second paragraph.</p>
<ul><li>Nested item</li></ul></li><li>Second<br>item</li></ul>
<table><caption>Table 1. Modes</caption><tr><th>Mode</th><th>Meaning</th></tr>
<tr><td>r</td><td><p>read</p><p>only</p></td></tr></table>
<blockquote><p>Quoted text.</p></blockquote>
</section></main></body></html>"""


def test_html_blocks_of_an_api_page(tmp_path: Path) -> None:
    document = read_html(tmp_path, API)
    assert spans(document) == [
        ("heading", 1, "Reference"),
        ("paragraph", 0, "Intro with a footnote[1] and a glyph link."),
        ("heading", 2, "Functions"),
        ("term", 0, "format_str(src)"),
        ("paragraph", 0, "Format a string."),
        ("code", 0, 'format_str("x")'),
        ("paragraph", 0, "Returns text."),
        ("term", 0, "-f\n--force"),
        ("paragraph", 0, "Force it."),
        ("term", 0, "-q"),
        ("paragraph", 0, "Quiet.\nVery."),
        ("item", 0, "First item."),
        ("paragraph", 0, "Its second paragraph."),
        ("item", 0, "Nested item"),
        ("item", 0, "Second\nitem"),
        ("paragraph", 0, "Table 1. Modes"),
        ("row", 0, "Mode Meaning"),
        ("row", 0, "r"),  # a row's later paragraphs follow it
        ("paragraph", 0, "read"),
        ("paragraph", 0, "only"),
        ("paragraph", 0, "Quoted text."),
    ]
    # The code keeps its indentation in the text; its block starts at its first character.
    assert '\n\n  format_str("x")\n\n' in document.text


def test_permalink_glyphs_are_left_out_but_links_with_words_or_numbers_stay(
    tmp_path: Path,
) -> None:
    document = read_html(
        tmp_path,
        '<h2>Title<a href="#t">§</a></h2><p>See <a href="#a">above</a>, <a href="#n">[2]</a>'
        ' <a href="#x"> ¶ </a><a href="other.html">¶</a> <a href="#z">日本</a>.</p>',
    )
    assert document.text == "Title\n\nSee above, [2] ¶ 日本."


# DocBook: an admonition's title is an <h3> in a box inside a section headed by an <h3> too.
DOCBOOK = """<div class="sect1"><div class="titlepage"><div><div><h2 class="title">8.14. JSON
Types</h2></div></div></div><p>Intro.</p>
<div class="note"><h3 class="title">Note</h3><p>A note in the chapter.</p></div>
<p>Chapter text.</p>
<div class="sect2"><div class="titlepage"><div><div><h3 class="title">8.14.1. Syntax</h3></div>
</div></div><p>Syntax text.</p>
<div class="tip"><h3 class="title">Tip</h3><p>A tip.</p></div><p>More syntax text.</p>
<div class="variablelist"><dl><dt>-n</dt><dd><p>Schemas.</p>
<div class="note"><h4 class="title">Note</h4><p>In a definition.</p></div></dd></dl></div>
<ul><li><h5>Step</h5><p>Do it.</p></li></ul>
</div>
<div class="sect2"><div class="titlepage"><div><div><h3 class="title">8.14.2. Design</h3></div>
</div></div><p>Design text.</p></div>
<div class="footnotes"><p>[1] A footnote.</p></div></div>
<div class="navfooter">Last updated</div>"""


def test_box_titles_are_paragraphs_and_sections_keep_their_headings(tmp_path: Path) -> None:
    assert spans(read_html(tmp_path, DOCBOOK)) == [
        ("heading", 2, "8.14. JSON Types"),
        ("paragraph", 0, "Intro."),
        # Deeper than the section it is in: a heading (its path after the box has one more
        # step, but keeps the section's).
        ("heading", 3, "Note"),
        ("paragraph", 0, "A note in the chapter."),
        ("paragraph", 0, "Chapter text."),
        ("heading", 3, "8.14.1. Syntax"),
        ("paragraph", 0, "Syntax text."),
        ("paragraph", 0, "Tip"),  # no deeper than its section's heading: a box's title
        ("paragraph", 0, "A tip."),
        ("paragraph", 0, "More syntax text."),
        ("term", 0, "-n"),
        ("paragraph", 0, "Schemas."),
        ("paragraph", 0, "Note"),  # in a definition
        ("paragraph", 0, "In a definition."),
        ("item", 0, "Step"),  # in a list item: the item's first line
        ("paragraph", 0, "Do it."),
        ("heading", 3, "8.14.2. Design"),
        ("paragraph", 0, "Design text."),
        ("paragraph", 0, "[1] A footnote."),
        ("paragraph", 0, "Last updated"),
    ]


def test_headings_of_nested_sections_in_a_flat_or_a_sectioned_page(tmp_path: Path) -> None:
    flat = "<h1>A</h1><p>a</p><h2>B</h2><p>b</p><h2>C</h2><h3>D</h3><p>d</p><h1>E</h1>"
    sectioned = (
        "<section><h1>A</h1><p>a</p><section><h2>B</h2><p>b</p></section><section><h2>C</h2>"
        "<section><h3>D</h3><p>d</p></section></section></section><section><h1>E</h1></section>"
    )
    expected = [
        ("heading", 1, "A"),
        ("paragraph", 0, "a"),
        ("heading", 2, "B"),
        ("paragraph", 0, "b"),
        ("heading", 2, "C"),
        ("heading", 3, "D"),
        ("paragraph", 0, "d"),
        ("heading", 1, "E"),
    ]
    assert spans(read_html(tmp_path, flat)) == expected
    assert spans(read_html(tmp_path, sectioned)) == expected


def test_everything_in_a_pre_is_one_code_block(tmp_path: Path) -> None:
    document = read_html(
        tmp_path,
        "<p>Before</p><pre><code>line 1\n<b>line 2</b><br>line 3</code><div>line 4</div>\n"
        "<ol><li>line 5</li></ol></pre><p>After</p>",
    )
    assert spans(document) == [
        ("paragraph", 0, "Before"),
        ("code", 0, "line 1\nline 2\nline 3\n\nline 4\n\nline 5"),
        ("paragraph", 0, "After"),
    ]


def test_deeply_nested_blocks_stay_flat(tmp_path: Path) -> None:
    markup = "<ul><li>" * 2000 + "<p>deep</p>" + "</li></ul>" * 2000 + "<h2>After</h2>"
    assert spans(read_html(tmp_path, markup)) == [("item", 0, "deep"), ("heading", 2, "After")]


CORPORA = Path(__file__).resolve().parent.parent / "eval" / "corpora"
PAGES = sorted(CORPORA.glob("git/docs/*.html")) + sorted(CORPORA.glob("postgresql/docs/*.html"))


@pytest.mark.parametrize("path", PAGES, ids=lambda path: path.name)
def test_real_pages_give_ordered_trimmed_blocks_covering_all_their_text(path: Path) -> None:
    document = read_document(path, root=path.parent)
    check_blocks(document.text, document.blocks)
    assert uncovered(document) == ""


def uncovered(document: Document) -> str:
    """The text outside every block, white space aside."""
    outside, previous = [], 0
    for block in document.blocks:
        outside.append(document.text[previous : block.start])
        previous = block.end
    outside.append(document.text[previous:])
    return "".join("".join(outside).split())


def test_real_pages_have_their_structure() -> None:
    git = read_document(CORPORA / "git/docs/git-clean.html", root=CORPORA)
    kinds = [(b.kind, git.text[b.start : b.end]) for b in git.blocks]
    assert kinds[:5] == [
        ("heading", "git-clean(1) Manual Page"),
        ("heading", "NAME"),
        ("paragraph", "git-clean - Remove untracked files from the working tree"),
        ("heading", "SYNOPSIS"),
        ("code", "git clean [-d] [-f] [-i] [-n] [-q] [-e <pattern>] [-x | -X] [--] [<pathspec>…]"),
    ]
    assert ("term", "-f\n--force") in kinds
    postgres = read_document(CORPORA / "postgresql/docs/datatype-json.html", root=CORPORA)
    rows = [postgres.text[b.start : b.end] for b in postgres.blocks if b.kind == "row"]
    assert rows[:2] == [
        "JSON primitive type PostgreSQL type Notes",
        "string text \\u0000 is disallowed, as are Unicode escapes representing characters not "
        "available in the database encoding",
    ]


def test_the_page_title_is_kept_apart_from_the_text() -> None:
    page = b"<html><head><title> VACUUM\n</title></head><body><h2>Description</h2><p>Hi.</p>"
    extracted = html_text(page, DEFAULT_LIMITS)
    assert (extracted.title, extracted.text) == ("VACUUM", "Description\n\nHi.")
    long = b"<title>" + b"x " * 150 + b"</title><p>Hi.</p>"
    assert html_text(long, DEFAULT_LIMITS).title == ""  # 300 characters: no heading
