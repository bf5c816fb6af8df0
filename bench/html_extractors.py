"""HTML main-content extraction: qa's reader beside trafilatura, readability-lxml and unstructured
(issue 26), on the vendored HTML corpora and their labelled sets.

Per extractor and corpus: evidence recall (answerable items whose evidence, whitespace collapsed
as qa.query.evaluate.normalise does, occurs in some page's text); navigation kept, measured on the
source DOM (the text fragments of its navigation regions, counted in the output beyond the times
the page's content says them); structure kept (<pre> blocks line for line, <dt> terms as lines
and followed by their <dd>, headings as lines, each table row a line of its own); ms per page
(median of 3 runs, then median over pages), cold import time; and the installed size of each
library with the dependencies qa does not already need. Then the 5 lines most often repeated
across pages.

    PYTHONPATH=src /work/venv-cmp/bin/python bench/html_extractors.py \\
        --qa-python /work/main/.venv/bin/python

A library that does not import is skipped with a message, so qa's own venv runs qa alone.
--qa-python names the interpreter holding qa's dependencies (default: this one), to tell which
of a library's dependencies qa already brings.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date
from functools import cache
from importlib import metadata
from pathlib import Path

from bs4 import BeautifulSoup, Tag

ROOT = Path(__file__).resolve().parent.parent
CORPORA = ("git", "postgresql")
RUNS = 3
Extract = Callable[[bytes], str]


def normalise(text: str) -> str:
    # As qa.query.evaluate.normalise, which is not imported: it pulls in the query stack (and
    # its dependencies), which the comparison venv does not have.
    return " ".join(text.split())


# ------------------------------------------------------------------ the extractors


def _qa() -> Extract:
    from qa.ingest.html import html_text
    from qa.ingest.limits import Limits

    return lambda data: html_text(data, Limits()).text


def _trafilatura(**options: object) -> Callable[[], Extract]:
    def load() -> Extract:
        import trafilatura

        return lambda data: trafilatura.extract(data, **options) or ""

    return load


def _readability() -> Extract:
    # readability gives the main content as HTML; qa's reader turns it into text, as qa would.
    from readability import Document

    from qa.ingest.html import html_text
    from qa.ingest.limits import Limits

    return lambda data: html_text(Document(data).summary().encode(), Limits()).text


def _unstructured() -> Extract:
    import spacy
    from unstructured.nlp import tokenize
    from unstructured.partition.html import partition_html

    try:
        spacy.load("en_core_web_sm")
    except OSError:
        # unstructured downloads en_core_web_sm from GitHub on first use, which this machine
        # cannot reach. It only decides an element's type (narrative or not), never which text
        # is kept, so a rule-based sentencizer stands in; the timing is then a lower bound.
        print("unstructured: en_core_web_sm missing, spacy.blank('en') + sentencizer stands in")
        nlp = spacy.blank("en")
        nlp.add_pipe("sentencizer")
        tokenize._get_nlp = lambda: nlp

    return lambda data: "\n\n".join(str(e) for e in partition_html(text=data.decode("utf-8")))


@dataclass(frozen=True)
class Extractor:
    name: str
    load: Callable[[], Extract]
    module: str  # imported to time a cold start
    distribution: str | None  # None: qa itself, nothing added


EXTRACTORS = (
    Extractor("qa (bs4)", _qa, "qa.ingest.html", None),
    Extractor("trafilatura", _trafilatura(), "trafilatura", "trafilatura"),
    Extractor("trafilatura recall", _trafilatura(favor_recall=True), "trafilatura", "trafilatura"),
    Extractor("readability+qa", _readability, "readability", "readability-lxml"),
    Extractor("unstructured", _unstructured, "unstructured.partition.html", "unstructured"),
)

# ------------------------------------------------------------------ what the source page holds


def _navigation_region(tag: Tag) -> bool:
    """The label, not a heuristic under test: these generators' navigation by their own markup
    (DocBook's navheader, navfooter and toc; AsciiDoc's #toc and #footer), plus HTML's and
    ARIA's navigation elements and roles."""
    classes = set(tag.get("class") or ())
    return (
        tag.name in {"nav", "header", "footer", "aside"}
        or tag.get("role") in {"navigation", "banner", "contentinfo"}
        or bool(classes & {"navheader", "navfooter", "toc"})
        or tag.get("id") in {"toc", "footer"}
    )


@dataclass(frozen=True)
class Source:
    nav: Counter[str]  # text fragments of navigation regions, with their counts
    content: str  # normalised text outside navigation regions
    links: Counter[str]
    pres: tuple[str, ...]  # lines stripped, blank lines dropped
    terms: tuple[tuple[str, str, str], ...]  # dt's first line, dt, start of the dd after it
    headings: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]  # cells of rows with two or more


def _text(tag: Tag) -> str:
    return normalise(tag.get_text())  # no space between inline elements: "--file=<em>file</em>"


def source(data: bytes) -> Source:
    soup = BeautifulSoup(data, "html.parser")
    for tag in soup.find_all(["script", "style", "title"]):
        tag.decompose()
    for br in soup.find_all("br"):
        br.replace_with("\n")
    links = Counter(t for a in soup.find_all("a", href=True) if len(t := _text(a)) > 1)
    nav: Counter[str] = Counter()
    for region in soup.find_all(_navigation_region):
        if region.parent is not None:  # not inside a region already taken out
            nav.update(t for s in region.find_all(string=True) if len(t := normalise(s)) > 1)
            region.extract()
    pres = tuple(_lines(pre.get_text()) for pre in soup.find_all("pre"))
    terms = tuple(
        (dt.get_text().strip().split("\n")[0].strip(), _text(dt), _text(dd)[:40])
        for dt in soup.find_all("dt")
        if (dd := dt.find_next_sibling("dd")) is not None and _text(dt) and _text(dd)
    )
    rows = tuple(
        cells
        for tr in soup.find_all("tr")
        if len(cells := tuple(t for td in tr.find_all(["td", "th"]) if (t := _text(td)))) > 1
    )
    headings = tuple(t for h in soup.find_all(re.compile("^h[1-6]$")) if (t := _text(h)))
    return Source(nav, normalise(soup.get_text(" ")), links, pres, terms, headings, rows)


def _lines(text: str) -> str:
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


# ------------------------------------------------------------------ measures of one page


def _count(fragment: str, text: str) -> int:
    return len(re.findall(rf"(?<!\w){re.escape(fragment)}(?!\w)", text))


def nav_kept(src: Source, out: str) -> int:
    """Characters of navigation text in the output: each fragment as often as the output has it
    beyond the times the page's content has it (a lower bound when content was dropped)."""
    return sum(
        len(f) * min(n, max(0, _count(f, out) - _count(f, src.content))) for f, n in src.nav.items()
    )


def link_chars(src: Source, out: str) -> int:
    return sum(len(t) * min(n, _count(t, out)) for t, n in src.links.items())


_MARKERS = re.compile(r"^(?:[#*>|-]+\s+)*")  # markdown and list marks before a line's text


def structure(src: Source, out: str) -> dict[str, tuple[int, int]]:
    """(kept, in source) per structure: pre blocks, terms as lines, term then dd, heading, row."""
    lined = "\n" + _lines(out) + "\n"
    starts = [_MARKERS.sub("", line) for line in lined.split("\n")]
    flat = normalise(out)
    lines = {_squeezed(line) for line in starts}
    return {
        "pre": (sum(f"\n{p}\n" in lined for p in src.pres if p), sum(1 for p in src.pres if p)),
        "dt": (sum(any(s.startswith(t) for s in starts) for t, _, _ in src.terms), len(src.terms)),
        "dt_dd": (sum(_followed(flat, t, d) for _, t, d in src.terms), len(src.terms)),
        "heading": (sum(h in starts for h in src.headings), len(src.headings)),
        "row": (sum(_squeezed("".join(c)) in lines for c in src.rows), len(src.rows)),
    }


def _followed(flat: str, term: str, dd_start: str) -> bool:
    return any(
        dd_start in flat[m.end() : m.end() + 300] for m in re.finditer(re.escape(term), flat)
    )


def _squeezed(text: str) -> str:
    return re.sub(r"[\s|]+", "", text)  # a row's line without spaces or markdown's cell bars


# ------------------------------------------------------------------ one extractor on one corpus


@dataclass
class Result:
    library: str
    corpus: str
    pages: int
    recall: float  # % of answerable items
    missed: list[str]  # their evidence, cut
    boilerplate: dict[str, float]  # %: of the source's navigation kept; of the output
    top_repeated: list[tuple[str, int]]  # (line, pages)
    structure: dict[str, float]  # % of the source's kept
    in_source: dict[str, int]
    ms_per_page: float  # median over pages of the median of RUNS runs
    seconds_total: float
    import_ms: float = 0.0
    deps_mb: float = 0.0
    deps: list[str] = field(default_factory=list)


@cache
def pages(corpus: str) -> list[tuple[bytes, Source]]:
    paths = sorted((ROOT / "eval" / "corpora" / corpus / "docs").glob("*.html"))
    return [(data, source(data)) for data in (path.read_bytes() for path in paths)]


def timed(extract: Extract, data: bytes) -> tuple[str, float]:
    times, out = [], ""
    for _ in range(RUNS):
        started = time.perf_counter()
        out = extract(data)
        times.append(time.perf_counter() - started)
    return out, statistics.median(times)


def measure(name: str, extract: Extract, corpus: str, evidence: list[str]) -> Result:
    runs = [timed(extract, data) for data, _ in pages(corpus)]
    sources = [src for _, src in pages(corpus)]
    outs = [out for out, _ in runs]
    flats = [normalise(out) for out in outs]
    chars = sum(len(flat) for flat in flats)
    nav = sum(nav_kept(src, flat) for src, flat in zip(sources, flats, strict=True))
    kept: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for src, out in zip(sources, outs, strict=True):
        for key, (k, n) in structure(src, out).items():
            kept[key], total[key] = kept[key] + k, total[key] + n
    repeated, top = repeated_lines(outs)
    missed = [e for e in evidence if not any(normalise(e) in flat for flat in flats)]
    boilerplate = {
        "nav_of_source_nav": _share(
            nav, sum(len(f) * n for s in sources for f, n in s.nav.items())
        ),
        "nav_of_output": _share(nav, chars),
        "links_of_output": _share(sum(map(link_chars, sources, flats)), chars),
        "repeated_of_output": _share(repeated, chars),  # lines found on 3 pages or more
    }
    seconds = [spent for _, spent in runs]
    return Result(
        name, corpus, len(runs), _share(len(evidence) - len(missed), len(evidence)),
        [e[:60] for e in missed], boilerplate, top, {k: _share(kept[k], total[k]) for k in total},
        dict(total), 1000 * statistics.median(seconds), sum(seconds),
    )  # fmt: skip


def _share(part: float, whole: float) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


def repeated_lines(outs: list[str]) -> tuple[int, list[tuple[str, int]]]:
    """Characters in lines that 3 pages or more have, and the 5 lines most pages have."""
    on_pages = Counter(line for out in outs for line in {normalise(s) for s in out.splitlines()})
    on_pages.pop("", None)
    chars = sum(
        len(normalise(s)) for out in outs for s in out.splitlines() if on_pages[normalise(s)] >= 3
    )
    return chars, [(line[:50], n) for line, n in on_pages.most_common(5) if n > 1]


def answerable(corpus: str) -> list[str]:
    lines = (ROOT / "eval" / f"{corpus}.jsonl").read_text(encoding="utf-8").splitlines()
    items = [json.loads(line) for line in lines if line.strip()]
    return [i["evidence"] for i in items if i.get("answerable", True) and i.get("evidence")]


# ------------------------------------------------------------------ cost of a library


def import_ms(module: str) -> float:
    """Cold import in a fresh interpreter, median of 3 (the reader process imports once)."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    runs = [float(subprocess.check_output([sys.executable, "-c", code], text=True)) for _ in "abc"]
    return round(1000 * statistics.median(runs), 1)


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(names: Iterable[str]) -> dict[str, metadata.Distribution | None]:
    """Every distribution these need at run time, None where not installed. Extras count only
    where a requirement asks for them (trafilatura needs lxml[html_clean])."""
    try:
        from packaging.requirements import Requirement
    except ImportError:  # pip vendors it
        from pip._vendor.packaging.requirements import Requirement
    seen: dict[str, metadata.Distribution | None] = {}
    done: set[tuple[str, str]] = set()
    todo = [(_canonical(n), "") for n in names]
    while todo:
        name, extra = todo.pop()
        if (name, extra) in done:
            continue
        done.add((name, extra))
        try:
            seen[name] = dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            seen[name] = None
            continue
        for line in dist.requires or ():
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": extra}):
                todo += [(_canonical(req.name), e) for e in ("", *req.extras)]
    return seen


def qa_needs(qa_python: str) -> set[str]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        declared = tomllib.load(file)["project"]["dependencies"]
    names = [re.split(r"[\s<>=!~;\[]", d, maxsplit=1)[0] for d in declared]
    command = [qa_python, __file__, "--closure-of", *names]
    found = json.loads(subprocess.check_output(command, text=True))
    if missing := [n for n, installed in found.items() if not installed]:
        print(f"note: {qa_python} lacks {len(missing)} of qa's dependencies: {missing[:5]}")
    return set(found)


def weight(distribution: str, needed: set[str]) -> tuple[float, list[str]]:
    added = {n: d for n, d in closure([distribution]).items() if n not in needed and d}
    size = sum(
        path.stat().st_size
        for dist in added.values()
        for file in dist.files or ()
        if (path := Path(str(dist.locate_file(file)))).is_file()
    )
    return round(size / 1e6, 1), sorted(added)


# ------------------------------------------------------------------ report

COLUMNS: tuple[tuple[str, Callable[[Result], float]], ...] = (
    ("recall", lambda r: r.recall),
    ("nav%src", lambda r: r.boilerplate["nav_of_source_nav"]),
    ("nav%out", lambda r: r.boilerplate["nav_of_output"]),
    ("link%", lambda r: r.boilerplate["links_of_output"]),
    ("rep%", lambda r: r.boilerplate["repeated_of_output"]),
    ("ms/pg", lambda r: r.ms_per_page),
    ("total s", lambda r: r.seconds_total),
    ("imp ms", lambda r: r.import_ms),
    ("+MB", lambda r: r.deps_mb),
    ("+deps", lambda r: len(r.deps)),
)
STRUCTURES = ("pre", "dt", "dt_dd", "heading", "row")


def table(results: list[Result]) -> str:
    head = f"{'corpus':<11}{'library':<19}" + "".join(f"{c:>8}" for c, _ in COLUMNS)
    rows = [head + "".join(f"{s:>8}" for s in STRUCTURES)]
    for r in results:
        row = f"{r.corpus:<11}{r.library:<19}" + "".join(f"{get(r):>8.1f}" for _, get in COLUMNS)
        shown = (f"{r.structure[s]:.1f}" if r.in_source.get(s) else "-" for s in STRUCTURES)
        rows.append(row + "".join(f"{s:>8}" for s in shown))
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--qa-python", default=sys.executable, help="interpreter with qa's deps")
    parser.add_argument("--only", action="append", help="extractor name (repeatable)")
    parser.add_argument("--closure-of", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.closure_of:  # asked by qa_needs, in qa's interpreter
        print(json.dumps({n: d is not None for n, d in closure(args.closure_of).items()}))
        return
    cpus = len(os.sched_getaffinity(0))
    print(f"{platform.machine()}, {cpus} cores, Python {platform.python_version()}, {date.today()}")
    needed = qa_needs(args.qa_python)
    results = []
    for extractor in EXTRACTORS:
        if args.only and extractor.name not in args.only:
            continue
        try:
            extract = extractor.load()
        except ImportError as exc:
            print(f"{extractor.name}: skipped, not importable here ({exc})")
            continue
        started = import_ms(extractor.module)
        mb, deps = weight(extractor.distribution, needed) if extractor.distribution else (0, [])
        for corpus in CORPORA:
            result = measure(extractor.name, extract, corpus, answerable(corpus))
            result.import_ms, result.deps_mb, result.deps = started, mb, deps
            results.append(result)
    print(table(results))
    for r in results:
        print(f"\n{r.library} on {r.corpus}: lines most repeated across pages (pages):")
        print("\n".join(f"  {n:>3}  {line}" for line, n in r.top_repeated))
    for r in results:
        print(json.dumps(asdict(r), ensure_ascii=False))


if __name__ == "__main__":
    main()
