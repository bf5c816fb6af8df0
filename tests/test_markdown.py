"""Markdown read as its reader sees it rendered (issue 26): no markup in the text, and its blocks
(headings, paragraphs, code, items, rows); front matter and MyST's directives, roles and targets
as the built page shows them."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.errors import DocumentError
from qa.ingest.blocks import check_blocks
from qa.ingest.documents import Document, read_document
from qa.ingest.limits import Limits
from qa.ingest.markdown import markdown_text, without_front_matter


def read_md(tmp_path: Path, source: str | bytes, name: str = "page.md") -> Document:
    path = tmp_path / name
    path.write_bytes(source.encode() if isinstance(source, str) else source)
    return read_document(path, root=tmp_path)


def spans(document: Document) -> list[tuple[str, int, str]]:
    check_blocks(document.text, document.blocks)
    return [(b.kind, b.level, document.text[b.start : b.end]) for b in document.blocks]


COMMONMARK = """\
Setext title
============

Intro with *emphasis*, __strong__, `code span`, a [link](https://example.com "t"),
a [reference][ref], an ![image](pic.png), <https://auto.link>, \\*escaped\\* &amp; ~~struck~~.
Hard break here\\
next line.

[ref]: https://example.com/ref

## Lists

- tight one
- tight **two**
  - nested

1. loose first

   second paragraph
2. loose second

```python
# a comment, not a heading
print("x")
```

    indented code

| Name | Value |
|------|------:|
| `a`  | 1     |

> Quoted *text*.

<details>
<summary>More</summary>

Inside details.

</details>

<!-- a comment -->
<script>alert(1)</script>

***

- [One](a.md)
- [Two](b.md)
- [Three](c.md)
"""


def test_markdown_text_is_what_the_rendered_page_shows(tmp_path: Path) -> None:
    document = read_md(tmp_path, COMMONMARK)
    assert spans(document) == [
        ("heading", 1, "Setext title"),
        (
            "paragraph",
            0,
            "Intro with emphasis, strong, code span, a link, a reference, an , "
            "https://auto.link, *escaped* & struck. Hard break here\nnext line.",
        ),
        ("heading", 2, "Lists"),
        ("item", 0, "tight one"),
        ("item", 0, "tight two"),
        ("item", 0, "nested"),
        ("item", 0, "loose first"),
        ("paragraph", 0, "second paragraph"),
        ("item", 0, "loose second"),
        ("code", 0, '# a comment, not a heading\nprint("x")'),
        ("code", 0, "indented code"),
        ("row", 0, "Name Value"),
        ("row", 0, "a 1"),
        ("paragraph", 0, "Quoted text."),
        ("paragraph", 0, "More"),
        ("paragraph", 0, "Inside details."),
        # A list of links is the author's content here, not a site's navigation.
        ("item", 0, "One"),
        ("item", 0, "Two"),
        ("item", 0, "Three"),
    ]
    assert document.text.startswith("Setext title\n\nIntro with emphasis, strong,")


def test_code_keeps_its_indentation_and_atx_headings_their_levels(tmp_path: Path) -> None:
    source = "# One\n\n### Three ###\n\n```\n  indented\n    more\n```\n###### Six\n"
    document = read_md(tmp_path, source)
    assert document.text == "One\n\nThree\n\n  indented\n    more\n\nSix"
    assert spans(document) == [
        ("heading", 1, "One"),
        ("heading", 3, "Three"),
        ("code", 0, "indented\n    more"),
        ("heading", 6, "Six"),
    ]


@pytest.mark.parametrize(
    ("source", "text"),
    [
        ("---\ntitle: A\n---\n# Body\n", "# Body\n"),
        ("---\ntitle: A\n...\nBody\n", "Body\n"),
        ("+++\ntitle = 'A'\n+++\nBody", "Body"),
        ("---  \r\nkey: v\n---", ""),
        # No closing line: a thematic break and a paragraph, not front matter.
        ("---\nBody\n", "---\nBody\n"),
        ("--- not\nfront: matter\n---\n", "--- not\nfront: matter\n---\n"),
        ("Text\n---\nkey: v\n---\n", "Text\n---\nkey: v\n---\n"),
        ("+++\nkey: v\n---\n", "+++\nkey: v\n---\n"),
    ],
)
def test_front_matter_is_not_text(source: str, text: str) -> None:
    assert without_front_matter(source.replace("\r\n", "\n")) == text.replace("\r\n", "\n")


def test_front_matter_only_has_no_visible_text(tmp_path: Path) -> None:
    with pytest.raises(DocumentError) as caught:
        read_md(tmp_path, "---\ntitle: Only metadata\n---\n<!-- and a comment -->\n")
    assert str(caught.value) == "Markdown has no visible text"


MYST = """\
(labels/top)=
# Page

```{note}
A note with `code` and a {doc}`link title <the_basics>`.
```

```{admonition} Careful now
:class: warning

Body of the admonition.
```

```{toctree}
---
maxdepth: 2
---
the_basics
faq
```

Text with {ref}`labels/top` and {py:func}`~black.format_str` roles.
(labels/inline)=
+++
````{tip}
```{code-block} python
:linenos:
x = 1  # code in a tip
```
````

```{contents}
:local:
```
"""


def test_myst_directives_roles_and_targets_as_the_built_page_shows_them(tmp_path: Path) -> None:
    assert spans(read_md(tmp_path, MYST)) == [
        ("heading", 1, "Page"),
        ("paragraph", 0, "A note with code and a link title."),
        ("paragraph", 0, "Careful now"),
        ("paragraph", 0, "Body of the admonition."),
        ("paragraph", 0, "Text with labels/top and format_str roles."),
        ("code", 0, "x = 1  # code in a tip"),
    ]


def nested_notes(depth: int) -> str:
    if depth == 0:
        return "core text\n"
    fence = "`" * (3 + depth)
    return f"{fence}{{note}}\n{nested_notes(depth - 1)}{fence}\n"


@pytest.mark.parametrize(
    ("depth", "expected"),
    [
        (8, [("paragraph", 0, "core text")]),
        (9, [("code", 0, "core text")]),
        (10, [("code", 0, "````{note}\ncore text\n````")]),
    ],
)
def test_directives_nested_past_eight_are_shown_as_code(
    tmp_path: Path, depth: int, expected: list[tuple[str, int, str]]
) -> None:
    assert spans(read_md(tmp_path, nested_notes(depth))) == expected


def test_nesting_past_markdown_its_limit_is_cut_not_a_crash(tmp_path: Path) -> None:
    document = read_md(tmp_path, "> " * 19 + "deep\n\n" + "> " * 500 + "too deep\n\nafter\n")
    assert spans(document) == [("paragraph", 0, "deep"), ("paragraph", 0, "after")]


def test_markdown_suffix_crlf_and_legacy_encoding(tmp_path: Path) -> None:
    document = read_md(tmp_path, "# Café\r\n\r\n“Quoted” – text\r\n".encode("cp1252"), "a.markdown")
    assert (document.text, document.warning) == (
        "Café\n\n“Quoted” – text",
        "not UTF-8; decoded as cp1252",
    )


def test_markdown_of_too_many_tags_is_refused_before_bs4() -> None:
    with pytest.raises(DocumentError) as caught:
        markdown_text(b"- a\n" * 3000, Limits(memory_bytes=1024 * 1024))
    assert str(caught.value) == (
        "reading it would need about 2 MB of memory (6,002 tags); the limit is 1 MB "
        "(QA_EXTRACT_MEMORY_MB)"
    )


CORPUS = Path(__file__).resolve().parent.parent / "eval" / "corpora" / "black" / "docs"


@pytest.mark.parametrize(
    "path", sorted(CORPUS.rglob("*.md")), ids=lambda path: str(path.relative_to(CORPUS))
)
def test_real_markdown_gives_ordered_trimmed_blocks_covering_all_its_text(path: Path) -> None:
    document = read_document(path, root=CORPUS)
    check_blocks(document.text, document.blocks)
    outside = [document.text[: document.blocks[0].start]]
    for block, after in zip(document.blocks, document.blocks[1:], strict=False):
        outside.append(document.text[block.end : after.start])
    outside.append(document.text[document.blocks[-1].end :])
    assert "".join(outside).split() == []
    assert "```" not in document.text and "{doc}" not in document.text
