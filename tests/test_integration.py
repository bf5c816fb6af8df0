"""The real bundled model end to end: quality gate, known answers, both runtimes agree."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from qa.cli import main as cli
from qa.embed.embedder import TorchEmbedder
from qa.query.answer import WEAK_MATCH
from qa.query.engine import Engine
from qa.query.evaluate import read_items
from qa.query.search import Searcher
from qa.settings import Settings

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent
LABELLED = ROOT / "eval" / "seeds.jsonl"
# Each set with its own floor: seeds.jsonl tuned the weights, heldout.jsonl and literal.jsonl
# never did (eval/README.md).
QUALITY_GATES = [
    (LABELLED, ROOT / "eval" / "thresholds.json"),
    (ROOT / "eval" / "heldout.jsonl", ROOT / "eval" / "heldout.thresholds.json"),
    (ROOT / "eval" / "literal.jsonl", ROOT / "eval" / "literal.thresholds.json"),
]


@pytest.mark.parametrize(
    ("labelled", "thresholds"), QUALITY_GATES, ids=["seeds", "heldout", "literal"]
)
def test_quality_on_the_labelled_sets_meets_their_thresholds(
    real_index: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    labelled: Path,
    thresholds: Path,
) -> None:
    monkeypatch.setenv("QA_CACHE", str(real_index.cache))
    argv = ["eval", str(labelled), "--json", "--thresholds", str(thresholds)]
    code = cli.main([*argv, "--docs", str(real_index.docs), "--index", str(real_index.index)])
    captured = capsys.readouterr()
    print(captured.out)  # the figures, in the CI log
    assert captured.err == ""
    assert code == 0
    assert json.loads(captured.out)["questions"] == len(read_items(labelled))


def test_film_question_cites_the_review_once_with_its_copy(real_engine: Engine) -> None:
    answer = real_engine.ask("Who directed The Battle at Lake Changjin?")
    top = answer.passages[0]
    assert (top.source, top.lines, top.page) == ("001_e71676ddd8f87f03.txt", (189, 193), None)
    assert [(p.source, p.lines) for p in top.also_in] == [("002_04be3917b46db590.txt", (15, 19))]
    assert answer.answer.startswith(
        "The Battle at Lake Changjin, directed by Chen Kaige, Tsui Hark and Dante Lam, premiered "
        "at the Beijing International Film Festival on 21 September 2021 and was released in "
        "China on 30 September. [1]"
    )


def test_a_word_the_documents_lack_is_matched_by_their_nearest_words(real_engine: Engine) -> None:
    # The op-ed's last line says "The author is the director ... at the Shanghai University".
    question = "Where does the writer of the Liberation Day opinion piece work?"
    query, retrieval = real_engine.retrieve(question)
    assert [term for term, _ in query.stand_ins["writer"]] == ["write", "author"]
    passages = real_engine.index.passages
    ranked = [(passages[h.row].source, passages[h.row].lines) for h in retrieval.hits]
    assert ranked[0] == ("000_cd573fa89ff91e39.txt", (20, 24))
    assert "The author is the director" in passages[retrieval.hits[0].row].text
    plain = Searcher(real_engine.index).search(replace(query, stand_ins={}), k=5)
    assert [(passages[h.row].source, passages[h.row].lines) for h in plain.hits][2] == ranked[0]


def test_the_answer_names_the_document_word_that_stood_in_for_a_missing_one(
    real_engine: Engine,
) -> None:
    # The briefing says "spokesperson", never "spokesman".
    answer = real_engine.ask("What did the spokesman say about sanctions?")
    assert answer.passages[0].source == "001_e71676ddd8f87f03.txt"
    assert "Spokesperson" in answer.passages[0].text
    assert answer.notes == (
        WEAK_MATCH,  # right, but with little support: few of the question's words are there
        'The documents never use "spokesman"; "spokesperson" was read as a near match.',
    )
    assert real_engine.ask("What did the Chinese foreign ministry say about sanctions?").notes == ()


def test_follow_up_finds_the_film(real_engine: Engine) -> None:
    answer = real_engine.ask(
        "Who directed it?",
        history=["What film about the Korean War premiered at the Beijing film festival?"],
    )
    assert "directed by Chen Kaige, Tsui Hark and Dante Lam" in answer.answer


def test_off_topic_question_is_refused(real_engine: Engine) -> None:
    answer = real_engine.ask("How long should I boil an egg for a runny yolk?")
    assert (answer.abstained, answer.passages) == (True, ())


def test_both_runtimes_give_identical_answers(real_index: Settings) -> None:
    onnx = Engine.open(real_index)
    torch = Engine.open(real_index, embedder_factory=lambda: TorchEmbedder(real_index.model_path))
    for item in read_items(LABELLED):
        a = onnx.ask(item.question, history=item.history).as_json()
        b = torch.ask(item.question, history=item.history).as_json()
        scores_a = [p.pop("score") for p in a["passages"]]
        scores_b = [p.pop("score") for p in b["passages"]]
        assert a == b, item.question
        np.testing.assert_allclose(scores_a, scores_b, atol=1e-3)


QUERY_PATH_SCRIPT = """
import contextlib, io, json, sys
from pathlib import Path
from qa.cli import main as cli
from qa.web.service import Service
from qa.settings import Settings
docs, index, cache = map(Path, sys.argv[1:4])
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = cli.main(["ask", "--json", "Who directed it?", f"--docs={docs}", f"--index={index}"])
service = Service(Settings(docs=docs, index=index, cache=cache))
service.start()
assert service.wait_started(60)
app_answer = service.ask("Who directed The Battle at Lake Changjin?")
heavy = [m for m in ("torch", "transformers", "sentence_transformers") if m in sys.modules]
print(json.dumps({"code": code, "cli": json.loads(out.getvalue()), "heavy": heavy,
                  "app": app_answer.passages[0].source}))
"""


def test_query_paths_never_import_torch(real_index: Settings) -> None:
    """`qa ask` and the app's ask path, in one fresh process with the export cached."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "QA_CACHE": str(real_index.cache), "HF_HUB_OFFLINE": "1"}
    args = [str(real_index.docs), str(real_index.index), str(real_index.cache)]
    run = subprocess.run(
        [sys.executable, "-c", QUERY_PATH_SCRIPT, *args],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.splitlines()[-1])
    assert (result["code"], result["heavy"]) == (0, [])
    assert result["cli"]["question"] == "Who directed it?"
    assert result["app"] == "001_e71676ddd8f87f03.txt"


def test_serve_stops_cleanly_on_ctrl_c(real_index: Settings) -> None:
    """One SIGINT (Ctrl-C): the server shuts down, start-up work is waited for, and the
    process exits 0 with nothing on stderr but the line it started with."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "QA_CACHE": str(real_index.cache), "HF_HUB_OFFLINE": "1"}
    qa = Path(sys.executable).with_name("qa")
    argv = [str(qa), "serve", "--docs", str(real_index.docs), "--index", str(real_index.index)]
    server = subprocess.Popen(
        [*argv, "--port", str(port)], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=2):
                    break
            except OSError:
                time.sleep(0.2)
        server.send_signal(signal.SIGINT)
        _, stderr = server.communicate(timeout=60)
    finally:
        server.kill()
    assert server.returncode == 0
    assert stderr == f"qa: serving {real_index.docs} at http://127.0.0.1:{port}/\n"
