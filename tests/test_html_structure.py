"""Reading HTML by its structure (issue 26): navigation is left out by what the page says of
itself (element, ARIA role, accessible description, link density), never by a site's classes."""

from __future__ import annotations

from pathlib import Path

from qa.ingest.documents import read_document

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
