"""File names are data from whoever made the file: escaped wherever a person reads them, never a
reason for a whole build to fail (issue 24, findings 4 and 7)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qa.folder.add import Refused, clean_name
from qa.names import NOT_UTF8, as_json, shown, utf8_name

BAD_BYTES = os.fsdecode(b"bad\xff.txt")  # as os.listdir gives a name that is not UTF-8
BIDI = "evil\u202etxt.exe.md"  # shows as "evildm.exe.txt" when printed raw


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("notes.txt", "notes.txt"),
        ("résumé & <notes> #1?.txt", "résumé & <notes> #1?.txt"),
        ("ünï 😀.txt", "ünï 😀.txt"),
        (BIDI, "evil\\u202etxt.exe.md"),
        ("two\nlines.txt", "two\\nlines.txt"),
        ("tab\there.txt", "tab\\there.txt"),
        ("bell\x07.txt", "bell\\x07.txt"),
        ("zero\u200bwidth.txt", "zero\\u200bwidth.txt"),
        ("para\u2029graph.txt", "para\\u2029graph.txt"),
        (BAD_BYTES, "bad\\xff.txt"),
    ],
)
def test_shown_escapes_what_could_disguise_a_name(name: str, expected: str) -> None:
    assert shown(name) == expected


def test_json_keeps_real_names_and_escapes_only_undecodable_bytes() -> None:
    assert as_json(BIDI) == BIDI
    assert as_json("two\nlines.txt") == "two\nlines.txt"
    assert as_json(BAD_BYTES) == "bad\\xff.txt"
    assert utf8_name(BIDI) and not utf8_name(BAD_BYTES)


def test_an_added_file_with_an_undecodable_name_is_refused() -> None:
    with pytest.raises(Refused, match=f"^{NOT_UTF8}$"):
        clean_name(BAD_BYTES)


# --------------------------------------------------------------------------- the real CLI


def qa(*args: str | Path, cache: Path) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("qa", path=str(Path(sys.executable).parent))
    assert executable, "the qa console script is installed next to the interpreter"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env |= {"HF_HUB_OFFLINE": "1", "QA_CACHE": str(cache), "NO_COLOR": "1"}
    return subprocess.run(
        [executable, *map(str, args)], env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.integration
def test_hostile_names_neither_stop_the_build_nor_disguise_output(
    tmp_path: Path, model_cache: Path
) -> None:
    docs, index = tmp_path / "docs", tmp_path / "index"
    docs.mkdir()
    (docs / "good.txt").write_text("Quokkas live on Rottnest Island near Perth.\n")
    (docs / BIDI).write_text("Wombats dig burrows in the forests of Tasmania.\n")
    with open(os.path.join(os.fsencode(docs), b"bad\xff.txt"), "wb") as handle:
        handle.write(b"Numbats eat termites in Western Australia.\n")
    where = ["--docs", docs, "--index", index]

    built = qa("index", *where, "--json", cache=model_cache)
    assert built.returncode == 0, built.stderr
    assert built.stderr.splitlines()[-1] == f"warning: skipped bad\\xff.txt: {NOT_UTF8}"
    report = json.loads(built.stdout.splitlines()[-1])
    assert report["added"] == [BIDI, "good.txt"]  # JSON keeps the real name
    assert report["skip_reasons"] == {"bad\\xff.txt": NOT_UTF8}

    again = qa("index", *where, "--json", cache=model_cache)
    assert json.loads(again.stdout.splitlines()[-1])["built"] is False  # skipped, not pending

    (docs / BIDI).write_text("Wombats dig burrows and sleep by day.\n")
    status = qa("status", *where, cache=model_cache)
    assert status.returncode == 0, status.stderr
    assert status.stdout.splitlines()[1:] == [
        "  evil\\u202etxt.exe.md (changed)",
        f"  bad\\xff.txt (skipped: {NOT_UTF8})",
        "1 change in " + str(docs) + " not indexed yet: run `qa index`.",
    ]
    listed = json.loads(qa("status", *where, "--json", cache=model_cache).stdout)["documents"]
    assert {row["source"] for row in listed} == {"good.txt", BIDI, "bad\\xff.txt"}

    asked = qa("ask", *where, "What do wombats dig?", cache=model_cache)
    assert asked.returncode == 0, asked.stderr
    assert BIDI not in asked.stdout and "evil\\u202etxt.exe.md" in asked.stdout
