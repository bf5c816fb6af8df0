"""The web app over real HTTP: Gradio API (gradio_client), JSON API, uploads, rebuilds, auth.

Every server runs on 127.0.0.1 and a free port in a background thread, with FakeEmbedder (no
model) and all data under a temporary folder.
"""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fakes import FakeEmbedder
from gradio_client import Client, handle_file

import qa.cli.main
import qa.web.app
from qa.errors import BuildCancelledError, ServeError
from qa.folder.add import Incoming, clean_name, save_uploads
from qa.folder.add import Refused as RefusedUpload
from qa.folder.trash import TRASH, delete_document, restore_document, trashed
from qa.ingest.discover import discover
from qa.query.answer import EMPTY_QUESTION, NOT_FOUND, WEAK_MATCH, Answer, CitedPassage, Place
from qa.settings import Settings
from qa.web.actions import picker
from qa.web.app import create_app, is_loopback, serve
from qa.web.auth import AUTH_REQUIRED, parse_auth
from qa.web.errors import BusyError, ConflictError
from qa.web.render import (
    answer_body,
    answer_html,
    citations_text,
    document_page,
    highlighted,
    passage_digest,
)
from qa.web.service import BUSY, CANCELLED, NO_INDEX, Service
from qa.web.ui import EXAMPLES

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
DIRECTOR_Q = "Who directed The Battle at Lake Changjin?"
FILM_SOURCE = "001_e71676ddd8f87f03.txt"
FILM_COPY = "002_04be3917b46db590.txt"  # holds the same review passage
QUOKKA_TEXT = (
    "Quokka Festival\n\nThe quokka festival of Rottnest Island is held every March. "
    "Its organiser is the marsupial keeper Petronella Vandersloot.\n"
)
QUOKKA_Q = "When is the quokka festival of Rottnest Island held?"
USERS = "alice:s3cret,bob:hunter2"
# Gradio's queue trips pandas deprecation warnings of its own; not ours to fix.
pytestmark = [
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


# --------------------------------------------------------------------------- helpers


@dataclass
class Running:
    url: str  # "http://127.0.0.1:PORT"
    service: Service
    app: Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running(
    settings: Settings, embedder_factory: Callable[[], Any] = FakeEmbedder, **options: Any
) -> Iterator[Running]:
    """create_app (with `options`) + uvicorn in a thread; waits until start-up (index build)
    has finished."""
    app = create_app(settings, embedder_factory=embedder_factory, **options)
    port = free_port()
    # gradio_client keeps its event stream open; without a grace limit uvicorn waits on it.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)
        service: Service = app.state.service
        assert service.wait_started(60), "start-up did not finish"
        yield Running(f"http://127.0.0.1:{port}", service, app)
    finally:
        server.should_exit = True
        thread.join(10)
        assert not thread.is_alive(), "server did not stop"


def make_settings(root: Path, *, seeds: bool = True, **changes: Any) -> Settings:
    docs = root / "docs"
    docs.mkdir(parents=True)
    if seeds:
        for path in SEEDS.iterdir():
            shutil.copy(path, docs / path.name)
    return Settings(docs=docs, index=root / "index", cache=root / "cache", **changes)


def http(
    method: str, url: str, body: Any = None, *, user: tuple[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    """(status, headers, parsed JSON or text) without raising on 4xx/5xx."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if user is not None:
        token = base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), _parse(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), _parse(error.read())


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def ask_url(base: str, question: str, **params: Any) -> str:
    return f"{base}/api/ask?" + urllib.parse.urlencode({"q": question, **params}, doseq=True)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def seeded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    settings = make_settings(tmp_path_factory.mktemp("seeded"))
    with running(settings) as server:
        yield server


@pytest.fixture(scope="module")
def client(seeded_server: Running) -> Client:
    return Client(seeded_server.url + "/", verbose=False)


# --------------------------------------------------------------------------- Gradio API


def test_gradio_ask_returns_the_cli_json_with_cited_passages(
    seeded_server: Running, client: Client
) -> None:
    result = client.predict(DIRECTOR_Q, api_name="/ask")
    assert result == seeded_server.service.ask(DIRECTOR_Q).as_json()  # == `qa ask --json`
    assert result["abstained"] is False
    assert "directed by Chen Kaige, Tsui Hark and Dante Lam" in result["answer"]
    assert result["answer"].endswith("[1]")
    top = result["passages"][0]
    assert top["source"] == FILM_SOURCE
    assert [p["source"] for p in top["also_in"]] == [FILM_COPY]
    start, end = top["answer_spans"][0]
    assert top["start"] <= start < end <= top["end"]


def test_gradio_ask_empty_question_is_an_error(client: Client) -> None:
    with pytest.raises(Exception, match="Please type a question"):
        client.predict("   ", api_name="/ask")


def test_ask_is_concurrent_and_rebuild_single_flight_in_the_queue(seeded_server: Running) -> None:
    limits = {
        fn.api_name: fn.concurrency_limit
        for fn in seeded_server.app.state.blocks.fns.values()
        if fn.api_name in {"ask", "rebuild"}
    }
    assert limits == {"ask": None, "rebuild": 1}


# --------------------------------------------------------------------------- JSON API


def test_api_get_and_post_answer_with_citations(seeded_server: Running) -> None:
    expected = seeded_server.service.ask(DIRECTOR_Q).as_json()
    status, _, body = http("GET", ask_url(seeded_server.url, DIRECTOR_Q))
    assert (status, body) == (200, expected)
    status, _, body = http("POST", seeded_server.url + "/api/ask", {"question": DIRECTOR_Q})
    assert (status, body) == (200, expected)


def test_api_post_sources_filter_and_history(seeded_server: Running) -> None:
    request = {"question": DIRECTOR_Q, "history": ["Tell me about films"], "sources": [FILM_COPY]}
    status, _, body = http("POST", seeded_server.url + "/api/ask", request)
    assert status == 200
    assert body["abstained"] is False
    assert {p["source"] for p in body["passages"]} == {FILM_COPY}
    status, _, body = http("GET", ask_url(seeded_server.url, DIRECTOR_Q, sources=[FILM_COPY]))
    assert status == 200
    assert {p["source"] for p in body["passages"]} == {FILM_COPY}


@pytest.mark.parametrize("question", ["", "   \n\t"])
def test_api_empty_question_is_400(seeded_server: Running, question: str) -> None:
    assert http("GET", ask_url(seeded_server.url, question))[::2] == (
        400,
        {"detail": EMPTY_QUESTION},
    )
    status, _, body = http("POST", seeded_server.url + "/api/ask", {"question": question})
    assert (status, body) == (400, {"detail": EMPTY_QUESTION})


def test_api_unknown_source_is_400_naming_the_closest_documents(seeded_server: Running) -> None:
    # The same text as `qa ask --source` and `qa chat --source` print (tests/test_cli_ask.py).
    detail = (
        'No document named "001_e71676ddd8f87f03" in the index. Closest of the 3 indexed: '
        "001_e71676ddd8f87f03.txt, 002_04be3917b46db590.txt, 000_cd573fa89ff91e39.txt."
    )
    request = {"question": DIRECTOR_Q, "sources": ["001_e71676ddd8f87f03", FILM_SOURCE]}
    status, _, body = http("POST", seeded_server.url + "/api/ask", request)
    assert (status, body) == (400, {"detail": detail})
    url = ask_url(seeded_server.url, DIRECTOR_Q, sources=["001_e71676ddd8f87f03"])
    assert http("GET", url)[::2] == (400, {"detail": detail})


def test_api_status_lists_the_index(seeded_server: Running) -> None:
    status, _, body = http("GET", seeded_server.url + "/api/status")
    assert status == 200
    assert body["state"] == "ready"
    assert [d["source"] for d in body["documents"]] == sorted(p.name for p in SEEDS.iterdir())
    assert body["index"]["documents"] == 3
    assert body["index"]["model"] == seeded_server.service.index.model_name  # type: ignore[union-attr]
    assert body["index"]["passages"] == len(seeded_server.service.index.passages)  # type: ignore[union-attr]


def test_view_shows_a_cited_passage_in_its_document(seeded_server: Running) -> None:
    _, _, answer = http("GET", ask_url(seeded_server.url, DIRECTOR_Q))
    passage = answer["passages"][0]
    ((first, last),) = passage["answer_spans"][:1]
    query = urllib.parse.urlencode(
        {
            "source": passage["source"],
            "start": passage["start"],
            "end": passage["end"],
            "check": passage_digest(passage["text"]),
            "span": f"{first}-{last}",
        }
    )
    status, headers, page = http("GET", f"{seeded_server.url}/view?{query}")
    assert (status, headers["content-type"]) == (200, "text/html; charset=utf-8")
    document = (seeded_server.service.settings.docs / FILM_SOURCE).read_text(encoding="utf-8")
    assert f"<mark>{html.escape(document[first:last])}</mark>" in page
    where = f'section "{passage["heading"]}", lines {passage["lines"][0]}-{passage["lines"][1]}'
    assert f"<title>{FILM_SOURCE}, {html.escape(where)}</title>" in page


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        (
            "source=gone.txt&start=0&end=1",
            404,
            "gone.txt is not in the index (deleted since?). "
            "Ask the question again for current citations.",
        ),
        (
            f"source={FILM_SOURCE}&start=-1&end=1",
            400,
            "Not a character offset: &#x27;-1&#x27;. Open the link from an answer.",
        ),
        (
            f"source={FILM_SOURCE}&start=5&end=99999999",
            400,
            f"Characters 5-99999999 are outside {FILM_SOURCE} (35584 characters).",
        ),
        (
            f"source={FILM_SOURCE}&start=0&end=10&check=0123456789abcdef",
            409,
            f"{FILM_SOURCE} has changed since this answer was given. "
            "Ask the question again for current citations.",
        ),
    ],
)
def test_view_refuses_what_it_cannot_show(
    seeded_server: Running, query: str, status: int, message: str
) -> None:
    got, _, page = http("GET", f"{seeded_server.url}/view?{query}")
    assert (got, re.search(r"<p>(.*)</p>", page).group(1)) == (status, message)  # type: ignore[union-attr]


def test_openapi_and_docs_are_served(seeded_server: Running) -> None:
    status, _, schema = http("GET", seeded_server.url + "/openapi.json")
    assert status == 200
    assert set(schema["paths"]["/api/ask"]) == {"get", "post"}
    assert "/api/status" in schema["paths"]
    status, _, page = http("GET", seeded_server.url + "/docs")
    assert status == 200
    assert "swagger-ui" in page


def test_api_reads_run_concurrently(seeded_server: Running) -> None:
    questions = [DIRECTOR_Q, "How many US military bases are in South Korea?"] * 8
    results: list[int] = []

    def one(question: str) -> None:
        results.append(http("GET", ask_url(seeded_server.url, question))[0])

    threads = [threading.Thread(target=one, args=(q,)) for q in questions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == [200] * len(questions)


def test_no_index_is_503_saying_what_to_do(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, seeds=False)  # empty folder: nothing to build
    with running(settings) as server:
        status, headers, body = http("GET", ask_url(server.url, DIRECTOR_Q))
        assert (status, body) == (503, {"detail": NO_INDEX})
        assert headers["retry-after"] == "5"
        assert http("GET", server.url + "/api/status")[2]["state"] == "no index"
        with pytest.raises(Exception, match="No index is loaded"):
            Client(server.url + "/", verbose=False).predict(DIRECTOR_Q, api_name="/ask")


# --------------------------------------------------------------------------- uploads


def test_upload_through_server_then_rebuild_then_cited(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "app")
    quokka = tmp_path / "quokka festival.txt"
    quokka.write_text(QUOKKA_TEXT, encoding="utf-8")
    bad = tmp_path / "tool.exe"
    bad.write_bytes(b"MZ\x90\x00")
    with running(settings) as server:
        client = Client(server.url + "/", verbose=False)
        before = client.predict(QUOKKA_Q, api_name="/ask")
        assert "quokka festival.txt" not in {p["source"] for p in before["passages"]}
        result = client.predict([handle_file(quokka), handle_file(bad)], api_name="/upload")
        assert result == {
            "added": ["quokka festival.txt"],
            "refused": [
                {
                    "name": "tool.exe",
                    "reason": "unsupported file type .exe; accepted types: .docx, .htm, "
                    ".html, .jpeg, .jpg, .markdown, .md, .pdf, .png, .tif, .tiff, .txt",
                }
            ],
        }
        assert (settings.docs / "quokka festival.txt").read_text() == QUOKKA_TEXT
        report = client.predict(api_name="/rebuild")
        assert (report["built"], report["added"]) == (True, ["quokka festival.txt"])
        answer = client.predict(QUOKKA_Q, api_name="/ask")
        assert answer["abstained"] is False
        assert answer["passages"][0]["source"] == "quokka festival.txt"
        assert "held every March" in answer["answer"]


def test_upload_too_big_through_server_is_refused(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "app", max_upload_mb=1)
    big = tmp_path / "big.txt"
    big.write_bytes(b"word " * 300_000)  # 1.5 MB
    with running(settings) as server:
        client = Client(server.url + "/", verbose=False)
        with pytest.raises(Exception, match=r"(?i)size|large"):
            client.predict([handle_file(big)], api_name="/upload")
    assert not (settings.docs / "big.txt").exists()


@pytest.fixture
def uploads(tmp_path: Path) -> Callable[[str, bytes | str], Incoming]:
    """Incoming files as the upload handler sees them: a name as sent and a temp path."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()

    def make(name: str, data: bytes | str) -> Incoming:
        path = inbox / f"{len(list(inbox.iterdir()))}{Path(name).suffix}"
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return Incoming(name, path)

    return make


def test_bad_uploads_are_refused_with_reasons(
    seeded: Settings, uploads: Callable[[str, bytes | str], Incoming]
) -> None:
    seed = (SEEDS / FILM_SOURCE).read_bytes()
    files = [
        uploads("notes.exe", "hello"),
        uploads("big.txt", b"x " * (1024 * 1024)),
        uploads("../../x.txt", "escape attempt"),
        uploads("..\\evil.txt", "escape attempt two"),
        uploads("copy.txt", seed),
        uploads("blob.txt", b"\x00\x01\x02binary"),
        uploads("empty.md", ""),
    ]
    result = save_uploads(seeded.docs, files, max_bytes=1024 * 1024)
    assert result.added == []
    assert result.refused == [
        (
            "notes.exe",
            "unsupported file type .exe; accepted types: "
            ".docx, .htm, .html, .jpeg, .jpg, .markdown, .md, .pdf, .png, .tif, .tiff, .txt",
        ),
        ("big.txt", "too large (2.0 MB; the limit is 1.0 MB)"),
        ("../../x.txt", "file names with a folder path are not accepted"),
        ("..\\evil.txt", "file names with a folder path are not accepted"),
        ("copy.txt", f"same content as the existing document {FILM_SOURCE}"),
        ("blob.txt", "cannot be indexed: binary file"),
        ("empty.md", "cannot be indexed: empty file"),
    ]
    assert sorted(p.name for p in seeded.docs.iterdir()) == sorted(p.name for p in SEEDS.iterdir())
    assert not (seeded.docs.parent.parent / "x.txt").exists()


def test_upload_names_are_cleaned_and_never_overwrite(
    settings: Settings, uploads: Callable[[str, bytes | str], Incoming]
) -> None:
    (settings.docs / "report.txt").write_text("The old report.")
    files = [
        uploads("report.txt", "A different report."),
        uploads("report.txt", "A third report."),
        uploads(".hidden.TXT", "Hidden name."),
        uploads("--rf.md", "Dash name."),
        uploads("Überblick – 東京.md", "Unicode name."),
        uploads('a<b>:"c"|?.html', "<p>Reserved characters.</p>"),
        uploads("same.txt", "Same bytes."),
        uploads("same-again.txt", "Same bytes."),
    ]
    result = save_uploads(settings.docs, files, max_bytes=1024 * 1024)
    assert result.added == [
        "report-1.txt",
        "report-2.txt",
        "hidden.txt",
        "rf.md",
        "Überblick – 東京.md",
        "a_b___c___.html",
        "same.txt",
    ]
    assert result.refused == [("same-again.txt", "same content as the existing document same.txt")]
    assert (settings.docs / "report.txt").read_text() == "The old report."
    assert (settings.docs / "report-2.txt").read_text() == "A third report."
    assert not any(p.name.startswith(".") for p in settings.docs.iterdir())


def test_more_than_twenty_files_are_refused(
    settings: Settings, uploads: Callable[[str, bytes | str], Incoming]
) -> None:
    files = [uploads(f"doc{i}.txt", f"Document number {i}.") for i in range(21)]
    result = save_uploads(settings.docs, files, max_bytes=1024 * 1024)
    assert result.added == []
    assert result.refused[0] == ("doc0.txt", "at most 20 files per upload (21 were sent)")
    assert len(result.refused) == 21
    assert list(settings.docs.iterdir()) == []


@pytest.mark.parametrize("raw", ["", "   ", ".", "..", "...txt", "-.txt", "/etc/passwd", "a/b.txt"])
def test_clean_name_refuses_empty_and_paths(raw: str) -> None:
    with pytest.raises(RefusedUpload):
        clean_name(raw)


# --------------------------------------------------------------------------- delete


def test_delete_only_listed_documents_inside_the_folder(seeded: Settings, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("Not a document of the app.")
    (seeded.docs / "link.txt").symlink_to(outside)
    allowed = {FILM_SOURCE, "../outside.txt", "link.txt", "/etc/hosts"}
    with pytest.raises(RefusedUpload, match=r"^\.\./outside\.txt is outside the documents folder"):
        delete_document(seeded.docs, "../outside.txt", allowed=allowed)
    with pytest.raises(RefusedUpload, match="is outside the documents folder"):
        delete_document(seeded.docs, "/etc/hosts", allowed=allowed)
    with pytest.raises(RefusedUpload, match=r"^missing\.txt is not a document in the index$"):
        delete_document(seeded.docs, "missing.txt", allowed=allowed)
    moved = delete_document(seeded.docs, "link.txt", allowed=allowed)  # the link, not its target
    assert (moved.is_symlink(), outside.read_text()) == (True, "Not a document of the app.")
    original = (seeded.docs / FILM_SOURCE).read_bytes()
    moved = delete_document(seeded.docs, FILM_SOURCE, allowed=allowed)
    assert not (seeded.docs / FILM_SOURCE).exists()
    when, name = moved.relative_to(seeded.docs / TRASH).parts
    assert re.fullmatch(r"\d{8}T\d{6}Z(-\d+)?", when) is not None
    assert name == FILM_SOURCE
    assert moved.read_bytes() == original
    (seeded.docs / FILM_SOURCE).write_text("A second file of that name.\n", encoding="utf-8")
    again = delete_document(seeded.docs, FILM_SOURCE, allowed=allowed)
    assert again.name == FILM_SOURCE and again.parent != moved.parent
    assert moved.read_bytes() == original  # the first one is kept too
    (seeded.docs / "sub").mkdir()
    (seeded.docs / "sub" / "note.md").write_text("# Note\n", encoding="utf-8")
    nested = delete_document(seeded.docs, "sub/note.md", allowed={"sub/note.md"})
    assert nested.relative_to(seeded.docs / TRASH).parts[1:] == ("sub", "note.md")
    assert not any(p.name == "note.md" for p in discover(seeded.docs))  # never indexed again


def test_deleted_documents_are_listed_and_restored_where_they_were(seeded: Settings) -> None:
    docs = seeded.docs
    allowed = {FILM_SOURCE, "sub/note.md"}
    original = (docs / FILM_SOURCE).read_text(encoding="utf-8")
    first = delete_document(docs, FILM_SOURCE, allowed=allowed)
    (docs / FILM_SOURCE).write_text("A second file of that name.\n", encoding="utf-8")
    second = delete_document(docs, FILM_SOURCE, allowed=allowed)
    (docs / "sub").mkdir()
    (docs / "sub" / "note.md").write_text("# Note\n", encoding="utf-8")
    nested = delete_document(docs, "sub/note.md", allowed=allowed)
    shutil.rmtree(docs / "sub")
    listed = trashed(docs)
    keys = [p.relative_to(docs / TRASH).as_posix() for p in (nested, second, first)]
    assert [(t.key, t.source) for t in listed] == [
        (keys[0], "sub/note.md"),
        (keys[1], FILM_SOURCE),
        (keys[2], FILM_SOURCE),
    ]  # newest first
    assert restore_document(docs, keys[2]) == FILM_SOURCE
    assert (docs / FILM_SOURCE).read_text(encoding="utf-8") == original
    assert not first.parent.exists()  # its emptied folder is gone
    with pytest.raises(RefusedUpload) as taken:
        restore_document(docs, keys[1])
    assert str(taken.value) == f"{FILM_SOURCE} exists again; rename or delete it, then restore"
    assert restore_document(docs, keys[0]) == "sub/note.md"
    assert (docs / "sub" / "note.md").read_text(encoding="utf-8") == "# Note\n"
    with pytest.raises(RefusedUpload) as unknown:
        restore_document(docs, "../../etc/hosts")
    assert str(unknown.value) == "../../etc/hosts is not among the deleted documents"
    assert [t.key for t in trashed(docs)] == [keys[1]]


def test_service_delete_uses_the_document_list(seeded: Settings) -> None:
    service = Service(seeded, embedder_factory=FakeEmbedder)
    service.rebuild()
    with pytest.raises(RefusedUpload, match="is not a document in the index"):
        service.delete("../" + FILM_SOURCE)
    service.delete(FILM_SOURCE)
    states = {row.source: row.state for row in service.documents()}
    assert states[FILM_SOURCE] == "deleted"


def test_a_link_from_before_a_document_changed_is_refused(seeded: Settings) -> None:
    service = Service(seeded, embedder_factory=FakeEmbedder)
    service.rebuild()
    passage = service.ask(DIRECTOR_Q).passages[0]
    digest = passage_digest(passage.text)
    shown = service.view(passage.source, passage.start, passage.end, digest=digest)
    assert shown.text[passage.start : passage.end] == passage.text
    path = seeded.docs / passage.source
    path.write_text("A new first line.\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    service.rebuild()
    with pytest.raises(ConflictError) as refused:
        service.view(passage.source, passage.start, passage.end, digest=digest)
    assert str(refused.value) == (
        f"{passage.source} has changed since this answer was given. "
        "Ask the question again for current citations."
    )


def test_examples_offered_are_the_ones_the_index_answers(seeded: Settings, tmp_path: Path) -> None:
    service = Service(seeded, embedder_factory=FakeEmbedder)
    assert service.answerable(EXAMPLES) == []  # nothing loaded yet: nothing to offer
    service.rebuild()
    assert service.answerable(EXAMPLES) == EXAMPLES
    own = make_settings(tmp_path / "own", seeds=False)
    (own.docs / "quokka.txt").write_text(QUOKKA_TEXT, encoding="utf-8")
    theirs = Service(own, embedder_factory=FakeEmbedder)
    theirs.rebuild()
    assert theirs.answerable([*EXAMPLES, QUOKKA_Q]) == [QUOKKA_Q]


# --------------------------------------------------------------------------- rebuilds


class GatedEmbedder(FakeEmbedder):
    """Index builds (they report progress) wait until released; questions pass."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.gate.set()
        self.building = threading.Event()

    def embed(self, texts: Any, **kwargs: Any) -> Any:
        if kwargs.get("progress") is not None:
            self.building.set()
            assert self.gate.wait(30)
        return super().embed(texts, **kwargs)


@contextmanager
def rebuild_held_while_embedding(service: Service, embedder: GatedEmbedder) -> Iterator[None]:
    """A rebuild in a thread, held inside its embedding step for the body of the block."""
    embedder.gate.clear()
    embedder.building.clear()
    worker = threading.Thread(target=service.rebuild)
    worker.start()
    try:
        assert embedder.building.wait(10)
        yield
    finally:
        embedder.gate.set()
        worker.join(30)
    assert not worker.is_alive()


def test_rebuild_is_single_flight_and_questions_continue_on_the_old_index(
    seeded: Settings,
) -> None:
    embedder = GatedEmbedder()
    service = Service(seeded, embedder_factory=lambda: embedder)
    service.rebuild()
    (seeded.docs / "quokka.txt").write_text(QUOKKA_TEXT)
    with rebuild_held_while_embedding(service, embedder):
        with pytest.raises(BusyError, match=f"^{re.escape(BUSY)}$"):
            service.rebuild()
        assert service.status()["state"] == "rebuilding"
        during = service.ask(DIRECTOR_Q)  # answered from the previous index meanwhile
        assert during.passages[0].source == FILM_SOURCE
        assert "quokka.txt" not in {p.source for p in service.ask(QUOKKA_Q).passages}
    assert service.status()["state"] == "ready"
    answer = service.ask(QUOKKA_Q)
    assert answer.passages[0].source == "quokka.txt"  # swapped in, no restart


def test_close_stops_a_running_rebuild_and_keeps_the_index(seeded: Settings) -> None:
    """At exit the app stops a rebuild at its next batch rather than leave a thread inside
    the model runtime; the index on disk is the one from before."""
    embedder = GatedEmbedder()
    service = Service(seeded, embedder_factory=lambda: embedder)
    service.rebuild()
    live = (seeded.index / "CURRENT").read_text()
    (seeded.docs / "quokka.txt").write_text(QUOKKA_TEXT)
    errors: list[str] = []

    def rebuild() -> None:
        try:
            service.rebuild()
        except BuildCancelledError as exc:
            errors.append(str(exc))

    embedder.gate.clear()
    embedder.building.clear()
    worker = threading.Thread(target=rebuild)
    worker.start()
    assert embedder.building.wait(10)
    closer = threading.Thread(target=service.close)
    closer.start()
    closer.join(0.5)
    assert closer.is_alive()  # close() waits while the batch is still running
    embedder.gate.set()
    closer.join(30)
    worker.join(30)
    assert errors == [CANCELLED]
    assert (seeded.index / "CURRENT").read_text() == live
    builds = [p.name for p in seeded.index.iterdir() if p.name != "CURRENT" and p.is_dir()]
    assert builds == [live.strip()]  # nothing half-written beside it


EXIT_DURING_WARM_UP = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from fakes import FakeEmbedder

import qa.cli.main
import qa.web.app
from qa.settings import Settings
from qa.web.service import Service

class SlowToWarm(FakeEmbedder):
    def embed(self, texts, **kwargs):
        if list(texts) == ["warm up"]:
            time.sleep(1.0)
            Path(sys.argv[4]).write_text("warmed")
        return super().embed(texts, **kwargs)

settings = Settings(docs=Path(sys.argv[2]), index=Path(sys.argv[3]), cache=Path(sys.argv[3]))
service = Service(settings, embedder_factory=SlowToWarm)
service.start()
assert service.wait_started(60)
"""


def test_process_exit_waits_for_start_up_to_finish(seeded: Settings, tmp_path: Path) -> None:
    """The script ends while start-up is warming the model: the process waits for it (a
    thread left inside ONNX Runtime during teardown aborts the process)."""
    import subprocess
    import sys

    marker = tmp_path / "warmed"
    args = [str(Path(__file__).parent), str(seeded.docs), str(seeded.index), str(marker)]
    run = subprocess.run(
        [sys.executable, "-c", EXIT_DURING_WARM_UP, *args],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert (run.returncode, run.stderr) == (0, "")
    assert marker.read_text() == "warmed"


def test_upload_during_a_rebuild_is_kept_and_indexed_by_the_next(
    seeded: Settings, uploads: Callable[[str, bytes | str], Incoming]
) -> None:
    """The running build scanned the folder before the upload: the file is saved, listed as
    new (not lost, not half-indexed), and the next rebuild indexes it."""
    embedder = GatedEmbedder()
    service = Service(seeded, embedder_factory=lambda: embedder)
    service.rebuild()
    (seeded.docs / "note.txt").write_text("A note that makes the next rebuild embed.\n")
    with rebuild_held_while_embedding(service, embedder):
        result = service.upload([uploads("quokka.txt", QUOKKA_TEXT)])
        assert (result.added, result.refused) == (["quokka.txt"], [])
    rows = {row.source: row.state for row in service.documents()}
    assert (rows["note.txt"], rows["quokka.txt"]) == ("indexed", "new")
    assert (seeded.docs / "quokka.txt").read_text() == QUOKKA_TEXT
    report = service.rebuild()
    assert (report.added, report.changed, report.removed) == (["quokka.txt"], [], [])
    assert service.ask(QUOKKA_Q).passages[0].source == "quokka.txt"


# --------------------------------------------------------------------------- auth


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    settings = make_settings(tmp_path_factory.mktemp("auth"), auth=USERS)
    with running(settings) as server:
        yield server


@pytest.mark.parametrize(
    "path", ["/api/ask?q=hello", "/api/status", "/openapi.json", "/docs", "/view?source=a.txt"]
)
def test_auth_refuses_api_without_credentials(auth_server: Running, path: str) -> None:
    status, headers, body = http("GET", auth_server.url + path)
    assert (status, body) == (401, {"detail": AUTH_REQUIRED})
    assert headers["www-authenticate"] == 'Basic realm="qa"'
    status, _, body = http("GET", auth_server.url + path, user=("alice", "wrong"))
    assert (status, body) == (401, {"detail": AUTH_REQUIRED})


def test_auth_accepts_api_with_credentials(auth_server: Running) -> None:
    status, _, body = http("GET", ask_url(auth_server.url, DIRECTOR_Q), user=("bob", "hunter2"))
    assert status == 200
    assert body["passages"][0]["source"] == FILM_SOURCE
    request = {"question": DIRECTOR_Q}
    status, _, _ = http("POST", auth_server.url + "/api/ask", request, user=("alice", "s3cret"))
    assert status == 200


def test_auth_page_shows_only_the_login_form(auth_server: Running) -> None:
    assert http("GET", auth_server.url + "/config")[0] == 401
    status, _, page = http("GET", auth_server.url + "/")
    assert status == 200
    assert '"auth_required":true' in page.replace(" ", "")
    assert "Rebuild index" not in page and FILM_SOURCE not in page
    status, _, _ = http("POST", auth_server.url + "/gradio_api/queue/join", {})
    assert status == 401


def test_auth_page_session_opens_document_links(auth_server: Running) -> None:
    view = f"{auth_server.url}/view?source={FILM_SOURCE}&start=0&end=10"
    jar = CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    form = urllib.parse.urlencode({"username": "alice", "password": "s3cret"}).encode()
    with browser.open(f"{auth_server.url}/login", data=form, timeout=30) as signed_in:
        assert signed_in.status == 200
    with browser.open(view, timeout=30) as response:  # the page's cookie is enough
        assert response.status == 200
        assert f"<title>{FILM_SOURCE}, line 1</title>" in response.read().decode()
    forged = urllib.request.Request(view, headers={"Cookie": "access-token-unsecure-x=abc"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(forged, timeout=30)
    assert refused.value.code == 401


def test_auth_gradio_client(auth_server: Running) -> None:
    client = Client(auth_server.url + "/", auth=("alice", "s3cret"), verbose=False)
    assert client.predict(DIRECTOR_Q, api_name="/ask")["passages"][0]["source"] == FILM_SOURCE
    with pytest.raises(Exception):  # noqa: B017 (gradio_client raises a plain ValueError/HTTP error)
        Client(auth_server.url + "/", verbose=False)
    with pytest.raises(Exception):  # noqa: B017
        Client(auth_server.url + "/", auth=("alice", "wrong"), verbose=False)


def test_parse_auth_inline_and_file(tmp_path: Path) -> None:
    assert parse_auth(USERS) == [("alice", "s3cret"), ("bob", "hunter2")]
    users = tmp_path / "users"
    users.write_text("# team\ncarol:pa:ss\n\ndave:x\n")
    assert parse_auth(str(users)) == [("carol", "pa:ss"), ("dave", "x")]
    assert parse_auth(None) == []
    with pytest.raises(ValueError, match="user:password"):
        parse_auth("justaname")


# --------------------------------------------------------------------------- serve


def test_serve_warns_on_open_host_without_auth(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], settings: Settings
) -> None:
    calls: list[tuple[str, int]] = []
    monkeypatch.setattr(qa.web.app, "bind", lambda host, port: calls.append((host, port)))
    monkeypatch.setattr(qa.web.app, "_run", lambda app, listening: None)
    serve(settings, host="0.0.0.0", port=8123, app=object())  # type: ignore[arg-type]
    assert calls == [("0.0.0.0", 8123)]
    assert "warning: serving on 0.0.0.0, which other machines can reach, without a password" in (
        capsys.readouterr().err
    )
    serve(settings, host="127.0.0.1", port=8123, app=object())  # type: ignore[arg-type]
    serve(settings.with_(auth=USERS), host="0.0.0.0", port=8123, app=object())  # type: ignore[arg-type]
    assert "warning" not in capsys.readouterr().err


def test_serve_on_a_taken_port_says_so_before_building_the_app(
    settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(qa.web.app, "create_app", lambda *a, **k: pytest.fail("app built"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = ["serve", "--port", str(port), "--docs", str(settings.docs)]
        assert qa.cli.main.main([*argv, "--index", str(settings.index)]) == 1
    assert capsys.readouterr().err == (
        f"Error: Cannot listen on 127.0.0.1:{port}: the port is in use. Stop what is using it, "
        "or choose another port with --port (QA_PORT).\n"
    )
    with pytest.raises(ServeError) as caught:
        serve(settings, host="192.0.2.1", port=port)  # TEST-NET-1: no machine has it
    assert str(caught.value) == (
        "Cannot listen on 192.0.2.1: it is not an address of this machine. Give an address of "
        "this machine with --host (QA_HOST)."
    )


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", False),
     ("192.168.1.4", False), ("example.org", False)],
)  # fmt: skip
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_app_module_builds_without_starting(
    monkeypatch: pytest.MonkeyPatch, seeded: Settings
) -> None:
    """`import app` builds the UI but neither builds the index nor serves."""
    import importlib
    import sys

    monkeypatch.setenv("QA_DOCS", str(seeded.docs))
    monkeypatch.setenv("QA_INDEX", str(seeded.index))
    monkeypatch.syspath_prepend(str(SEEDS.parent))
    sys.modules.pop("app", None)
    module = importlib.import_module("app")
    assert module.app.state.service.status()["state"] == "no index"  # nothing loaded or built
    assert not seeded.index.exists()
    assert {"/api/ask", "/api/status"} <= set(module.app.openapi()["paths"])


# --------------------------------------------------------------------------- rendering


def cited(text: str, start: int, spans: tuple[tuple[int, int], ...]) -> CitedPassage:
    return CitedPassage(
        rank=1,
        source="a<b>.txt",
        start=start,
        end=start + len(text),
        lines=(3, 4),
        page=None,
        text=text,
        heading="",
        score=0.5,
        answer_spans=spans,
    )


def test_highlight_maps_document_offsets_and_escapes() -> None:
    passage = cited("One <b>two</b>. Three & four.", 100, ((100, 115), (116, 140)))
    assert highlighted(passage) == (
        "<mark>One &lt;b&gt;two&lt;/b&gt;.</mark> <mark>Three &amp; four.</mark>"
    )
    partial = cited("Alpha beta. Gamma.", 50, ((40, 61),))  # starts before the passage
    assert highlighted(partial) == "<mark>Alpha beta.</mark> Gamma."


def test_passages_show_the_words_asked_for() -> None:
    passage = cited("Bases <b>dot</b> the land; one base is new. Based on it.", 0, ((0, 26),))
    answer = Answer("How many military bases are there?", "x [1]", False, (passage,))
    assert (
        '<div class="qa-body"><mark><b class="qa-term">Bases</b> &lt;b&gt;dot&lt;/b&gt; the '
        'land;</mark> one <b class="qa-term">base</b> is new. <b class="qa-term">Based</b> on '
        "it.</div>"  # the index stems "based" as "base" too: shown as it was matched
    ) in answer_html(answer, lambda place: "")


def test_answer_html_escapes_and_marks_citations() -> None:
    passage = cited("Say <script>x()</script> now.", 0, ((0, 29),))
    answer = Answer("q", "Say <script>x()</script> now. [1]", False, (passage,))
    page = answer_html(answer, lambda place: "lines 1-1")
    assert "<script>" not in page and "&lt;script&gt;x()&lt;/script&gt;" in page
    assert '<sup class="qa-marker">[1]</sup>' in page
    assert '<span class="qa-source">a&lt;b&gt;.txt</span>' in page
    assert "<code>a&lt;b&gt;.txt, lines 3-4</code>" in page
    assert citations_text(answer) == "[1] a<b>.txt, lines 3-4"


def test_each_passage_links_to_its_place_in_the_document() -> None:
    passage = cited("Alpha beta. Gamma.", 50, ((50, 61),))
    twin = Place("copy & more.txt", 7, 25, (2, 2))
    answer = Answer("q", "Alpha beta. [1]", False, (replace(passage, also_in=(twin,)),))
    page = answer_html(answer, lambda place: "line 2")
    digest = passage_digest("Alpha beta. Gamma.")
    assert (
        '<a class="qa-open" href="view?source=a%3Cb%3E.txt&amp;start=50&amp;end=68&amp;'
        f'check={digest}&amp;span=50-61#passage" target="_blank" rel="noopener" '
        'title="Open a&lt;b&gt;.txt, lines 3-4 in its document">open in document'
        '<span class="qa-sr"> for a&lt;b&gt;.txt, lines 3-4</span></a>'
    ) in page
    assert (
        "<li><code>copy &amp; more.txt, line 2</code> "
        '<a class="qa-open" href="view?source=copy+%26+more.txt&amp;start=7&amp;end=25#passage" '
        'target="_blank" rel="noopener" title="Open copy &amp; more.txt, line 2 in its document">'
        'open in document<span class="qa-sr"> for copy &amp; more.txt, line 2</span></a></li>'
    ) in page


def test_document_page_marks_the_passage_in_the_whole_text() -> None:
    text = "Intro <i>.\nAlpha beta. Gamma.\nOutro & end."
    page = document_page("a.txt", text, start=11, end=29, spans=[(11, 22)], where="line 2")
    assert (
        '<div class="text">Intro &lt;i&gt;.\n'
        '<span class="passage" id="passage"><mark>Alpha beta.</mark></span>'
        '<span class="passage"> Gamma.</span>\nOutro &amp; end.</div>'
    ) in page
    assert "<title>a.txt, line 2</title>" in page


def test_document_page_labels_pdf_pages() -> None:
    text = "Page one.\fPage two holds the answer.\fPage three."
    page = document_page(
        "a.pdf", text, start=10, end=36, spans=[(20, 36)], where="page 2", pages=[0, 10, 37]
    )
    assert (
        '<div class="text"><span class="page">page 1</span>Page one.\x0c'
        '<span class="page">page 2</span><span class="passage">Page two h</span>'
        '<span class="passage" id="passage"><mark>olds the answer.</mark></span>\x0c'
        '<span class="page">page 3</span>Page three.</div>'
    ) in page


def test_a_weak_match_note_stands_out_from_other_notes() -> None:
    passage = cited("Some text.", 0, ((0, 10),))
    answer = Answer("q", "Some text. [1]", False, (passage,), ("Other note.", WEAK_MATCH))
    page = answer_html(answer, lambda place: "")
    assert '<p class="qa-note">Other note.</p>' in page
    assert f'<p class="qa-note qa-weak">{html.escape(WEAK_MATCH)}</p>' in page


def test_abstention_is_shown_without_citations() -> None:
    answer = Answer("q", NOT_FOUND, True)
    page = answer_html(answer, lambda place: "")
    assert html.escape(NOT_FOUND) in page and "qa-abstained" in page
    assert "qa-passage" not in page
    assert citations_text(answer) == ""


def test_chat_follow_up_passes_earlier_questions_as_history(seeded_server: Running) -> None:
    from qa.web.actions import Actions

    actions = Actions(seeded_server.service)
    follow_up = "Who directed it?"
    box, shown, messages, questions, cites = actions.respond(follow_up, [], [DIRECTOR_Q], None)
    expected = seeded_server.service.ask(follow_up, history=[DIRECTOR_Q])
    assert (box, questions) == ("", [DIRECTOR_Q, follow_up])
    assert shown == messages and [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[1]["content"] == answer_html(expected, seeded_server.service.locate)
    assert cites == citations_text(expected)


@pytest.mark.parametrize(
    ("choices", "picked", "update"),
    [
        (["a.txt", "b.txt"], ["a.txt"], {"choices": ["a.txt", "b.txt"]}),
        (["a.txt", "b.txt"], None, {"choices": ["a.txt", "b.txt"]}),
        (["a.txt", "b.txt"], "b.txt", {"choices": ["a.txt", "b.txt"]}),
        (["a.txt"], ["a.txt", "gone.txt"], {"choices": ["a.txt"], "value": ["a.txt"]}),
        (["a.txt"], "gone.txt", {"choices": ["a.txt"], "value": None}),
    ],
)
def test_picker_refresh_leaves_a_valid_pick_alone(
    choices: list[str], picked: list[str] | str | None, update: dict[str, Any]
) -> None:
    """The status timer's refresh carries the pick from when it was sent: writing that back
    would undo a pick made since (seen: a Delete click with the pick just erased)."""
    args = picker(choices, picked).constructor_args
    assert {k: v for k, v in args.items() if k != "multiselect"} == update


def test_a_quoted_code_block_is_shown_as_code_and_stays_text() -> None:
    answer = "Run this: [1] ```\nif a < b:\n    print('<b>')\n``` [2]"
    assert answer_body(answer) == (
        '<p class="qa-text">Run this: <sup class="qa-marker">[1]</sup></p>'
        '<pre class="qa-code"><code>if a &lt; b:\n    print(&#x27;&lt;b&gt;&#x27;)</code></pre>'
        '<p class="qa-text"><sup class="qa-marker">[2]</sup></p>'
    )
