"""Markdown files (.md, .markdown): the text a reader of the rendered page sees, and its blocks.

markdown-it parses the file as CommonMark (plus tables and strikethrough, as GitHub shows them;
no typographer: quotes and dashes stay as written) and renders it to HTML, which the HTML reader
reads as it reads any page; so `#`, list markers, emphasis and link targets are gone, code spans
keep their content, a `# comment` in a fenced block stays code, and raw HTML is read as HTML.
YAML or TOML front matter is not text. Lists of links stay: a Markdown file has no site around
it, so they are its author's content, not navigation.

MyST (Sphinx's Markdown) adds a few things a reader of the built page never sees as written:
directives (```` ```{note} ````: the body is Markdown, shown; ```` ```{toctree} ````: navigation,
left out; ```` ```{code-block} python ````: code), roles (`` {doc}`title <target>` `` shows
"title") and targets (`(label)=`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from itertools import pairwise
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.rules_block import StateBlock
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

from qa.errors import DocumentError
from qa.ingest.html import check_tags, markup_text
from qa.ingest.limits import Limits
from qa.ingest.text import Extracted, decode, normalise_newlines

__all__ = ["markdown_text"]


def markdown_text(data: bytes, limits: Limits) -> Extracted:
    """markdown-it's own cost (about 2 KB and 70 µs per list item, measured) is bounded by the
    reader process's limits; the rendered HTML is refused as a page would be before bs4."""
    text, warning = decode(data)
    markup = _parser().render(without_front_matter(normalise_newlines(text)), {_DEPTH: 0})
    check_tags(markup.count("<"), limits)
    visible, blocks = markup_text(markup, link_lists=False)
    if not visible:
        raise DocumentError("Markdown has no visible text")
    return Extracted(visible, warning=warning, blocks=blocks)


_FRONT_MATTER_ENDS = {"---": ("---", "..."), "+++": ("+++",)}  # YAML (Jekyll, MyST), TOML (Hugo)


def without_front_matter(text: str) -> str:
    """The text after a front matter block: a first line `---` (or `+++`) up to the line that
    closes it. Without a closing line there is none (`---` alone is a thematic break)."""
    first = text.split("\n", 1)[0].rstrip()
    ends = _FRONT_MATTER_ENDS.get(first)
    if ends is None or "\n" not in text:
        return text
    position = text.index("\n") + 1
    while position < len(text):
        end = text.find("\n", position)
        end = len(text) if end < 0 else end
        if text[position:end].rstrip() in ends:
            return text[end + 1 :]
        position = end + 1
    return text


@cache
def _parser() -> MarkdownIt:
    parser = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    # A MyST target or block break line is its own block, even inside a paragraph.
    interrupts = ["paragraph", "blockquote", "list"]
    parser.block.ruler.before("blockquote", "myst_line", _myst_line, {"alt": interrupts})
    parser.core.ruler.push("myst_roles", _myst_roles)
    parser.add_render_rule("fence", _fence)
    return parser


_TARGET = re.compile(r"\(\S[^()]*\)=")  # (label)=


def _myst_line(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """`(label)=` (a target for references) and `+++` (a block break): no text of their own."""
    if state.is_code_block(start):
        return False
    line = state.src[state.bMarks[start] + state.tShift[start] : state.eMarks[start]].strip()
    if line != "+++" and _TARGET.fullmatch(line) is None:
        return False
    if not silent:
        state.line = start + 1
    return True


_ROLE = re.compile(r"\{[\w:.+-]+\}\Z")  # {doc}, {py:func}, ...
_TITLED = re.compile(r"(.*\S)\s*<([^<>]*)>", re.DOTALL)  # title <target>


def _myst_roles(state: StateCore) -> None:
    """`{role}` followed by a code span: the span shows the role's text (`title <target>`:
    the title; `~a.b.c`: c, as Sphinx shows it) and the `{role}` prefix is gone."""
    for token in state.tokens:
        children = token.children or []
        for previous, child in pairwise(children):
            if child.type != "code_inline" or previous.type != "text":
                continue
            match = _ROLE.search(previous.content)
            if match is None:
                continue
            previous.content = previous.content[: match.start()]
            titled = _TITLED.fullmatch(child.content)
            shown = titled.group(1) if titled else child.content
            if shown.startswith("~"):
                shown = shown.rsplit(".", 1)[-1]
            child.content = shown.lstrip("!~")


_DEPTH = "qa_directive_depth"
_MAX_DEPTH = 8  # directives in directives; deeper bodies are shown as code
_DIRECTIVE = re.compile(r"\{([\w:.+-]+)\}\s*(.*)", re.DOTALL)
_CODE = frozenset({"code", "code-block", "sourcecode", "code-cell", "math"})
# Generated or navigation in the built page, or not text: not what a reader reads there.
_LEFT_OUT = frozenset(
    {"toctree", "contents", "tableofcontents", "image", "include", "literalinclude", "raw",
     "program-output", "command-output", "index"}
)  # fmt: skip
_ARGUMENT_NOT_SHOWN = frozenset({"figure", "only"})  # an image's path, a builder's name


def _fence(
    renderer: RendererHTML, tokens: Sequence[Token], idx: int, options: Any, env: Any
) -> str:
    token = tokens[idx]
    match = _DIRECTIVE.fullmatch(token.info.strip())
    if match is None:
        return renderer.fence(tokens, idx, options, env)
    name, argument = match.group(1).lower(), match.group(2).strip()
    body = _directive_body(token.content)
    if name in _LEFT_OUT:
        return ""
    if name in _CODE or env.get(_DEPTH, 0) >= _MAX_DEPTH:
        return f"<pre><code>{escapeHtml(body)}</code></pre>\n"
    title = "" if not argument or name in _ARGUMENT_NOT_SHOWN else f"<p>{escapeHtml(argument)}</p>"
    inner = _parser().render(body, {**env, _DEPTH: env.get(_DEPTH, 0) + 1})
    return f"<div>{title}{inner}</div>\n"


_OPTION = re.compile(r":[\w-]+:.*")


def _directive_body(content: str) -> str:
    """A directive's content without its options: a leading `---` YAML block or `:name:` lines."""
    lines = content.split("\n")
    if lines and lines[0].strip() == "---":
        closing = next((i for i, line in enumerate(lines[1:], 1) if line.strip() == "---"), None)
        if closing is not None:
            return "\n".join(lines[closing + 1 :])
    skip = 0
    while skip < len(lines) and _OPTION.fullmatch(lines[skip].strip()):
        skip += 1
    return "\n".join(lines[skip:])
