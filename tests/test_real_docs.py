"""Quality gates on documentation no one here wrote (issue 26): each corpus of eval/corpora is
indexed with the real bundled model and its labelled set must meet its thresholds
(eval/<set>.thresholds.json; figures and method in docs/evaluation.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.cli import main as cli
from qa.index.build import build_index
from qa.query.evaluate import read_items
from qa.settings import Settings

pytestmark = pytest.mark.integration
EVAL = Path(__file__).resolve().parent.parent / "eval"
CORPORA = ["git", "postgresql", "black", "r-data"]  # HTML, HTML, Markdown, PDF


@pytest.mark.parametrize("name", CORPORA)
def test_quality_on_real_documentation_meets_its_thresholds(
    name: str,
    tmp_path: Path,
    model_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    docs, labelled = EVAL / "corpora" / name / "docs", EVAL / f"{name}.jsonl"
    settings = Settings(docs=docs, index=tmp_path / "index", cache=model_cache)
    build_index(settings)
    capsys.readouterr()  # what building said is not the evaluation's output
    monkeypatch.setenv("QA_CACHE", str(model_cache))
    thresholds = EVAL / f"{name}.thresholds.json"
    argv = ["eval", str(labelled), "--json", "--thresholds", str(thresholds)]
    code = cli.main([*argv, "--docs", str(docs), "--index", str(settings.index)])
    captured = capsys.readouterr()
    print(captured.out)  # the figures, in the CI log
    assert captured.err == ""
    assert code == 0
    assert json.loads(captured.out)["questions"] == len(read_items(labelled))
