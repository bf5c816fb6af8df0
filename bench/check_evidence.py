"""Check that every evidence string of a labelled set occurs in the text qa extracts.

An extraction change (HTML boilerplate, PDF line joining, Markdown rendering) can make an
evidence string vanish from the text, and the item then counts as a miss however good the
answer. Run after such a change, before reading any figure:

    python bench/check_evidence.py --docs eval/corpora/git/docs --set eval/git.jsonl

Without options it checks every set of eval/ over its own corpus (seeds/ for the seeds sets).
Prints each evidence found nowhere, and per set how many are found once, in several places, or
not at all; exits 1 when one is missing. Whitespace is collapsed as
qa.query.evaluate.normalise does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common import ROOT, SEEDS_SETS, shown

from qa.errors import DocumentError
from qa.ingest.discover import discover
from qa.ingest.documents import read_document
from qa.query import evaluate


def extracted(docs: Path) -> dict[str, str]:
    texts = {}
    for path in discover(docs):
        try:
            document = read_document(path, root=docs)
        except DocumentError:
            continue  # unsupported or empty files are skipped, as qa index skips them
        texts[document.source] = evaluate.normalise(document.text)
    return texts


def check(texts: dict[str, str], path: Path) -> int:
    items = [i for i in evaluate.read_items(path) if i.evidence is not None]
    once = several = missing = 0
    for item in items:
        assert item.evidence is not None
        evidence = evaluate.normalise(item.evidence)
        found = sum(text.count(evidence) for text in texts.values())
        if not found:
            missing += 1
            print(f"  missing: {item.question!r}: {item.evidence!r}")
        elif found == 1:
            once += 1
        else:
            several += 1
    counts = f"{once} found once, {several} in several places, {missing} missing"
    print(f"{shown(path)}: {len(items)} evidence strings: {counts}")
    return missing


def every_set() -> list[tuple[Path, list[Path]]]:
    """Each corpus of eval/ with the sets written on it."""
    pairs = [(ROOT / "seeds", [ROOT / "eval" / name for name in SEEDS_SETS])]
    for corpus in sorted((ROOT / "eval" / "corpora").iterdir()):
        labelled = ROOT / "eval" / f"{corpus.name}.jsonl"
        if labelled.exists():
            pairs.append((corpus / "docs", [labelled]))
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=Path, help="the corpus the sets are over")
    parser.add_argument("--set", dest="sets", type=Path, action="append", help="repeatable")
    args = parser.parse_args()
    if (args.docs is None) != (args.sets is None):
        parser.error("--docs and --set go together (neither: every set of eval/)")
    pairs = every_set() if args.docs is None else [(args.docs, args.sets)]
    missing = sum(check(extracted(docs), path) for docs, sets in pairs for path in sets)
    sys.exit(1 if missing else 0)


if __name__ == "__main__":
    main()
