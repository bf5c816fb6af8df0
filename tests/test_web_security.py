"""Issue 24, items 1, 8 and 9, against the real app over HTTP (127.0.0.1, a free port):
server files posted as uploads, repeated failed sign-ins, absurd /view offsets, a missing
QA_AUTH file.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_web import FILM_SOURCE, USERS, Running, free_port, http, make_settings, running

from qa.errors import AuthFileError
from qa.web.auth import parse_auth
from qa.web.signin import TOO_MANY, SignInLimiter, SignInPolicy, TooManySignInsError, client_key
from qa.web.uploads import NOT_RECEIVED, received

SECRET = "The vault code is 4417. Nobody outside the server room knows it.\n"
pytestmark = [
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


# --------------------------------------------------------------------------- helpers


def call(base: str, api: str, body: dict[str, Any]) -> tuple[str, Any]:
    """A Gradio event over its HTTP API (POST, then read the event stream): (event, data)."""
    status, _, posted = http("POST", f"{base}/gradio_api/call/{api}", body)
    assert status == 200, posted
    url = f"{base}/gradio_api/call/{api}/{posted['event_id']}"
    with urllib.request.urlopen(url, timeout=30) as response:
        stream = response.read().decode()
    for event, data in re.findall(r"^event: (\w+)\ndata: (.*)$", stream, re.MULTILINE):
        if event in {"complete", "error"}:
            return event, json.loads(data)
    raise AssertionError(f"no result in {stream!r}")


def file_request(path: str) -> dict[str, Any]:
    """The request of the finding: a FileData whose path the client chose."""
    return {"data": [[{"path": path, "meta": {"_type": "gradio.FileData"}}]]}


def upload(base: str, name: str, data: bytes) -> str:
    """A file sent the way the page and gradio_client send it: its path in Gradio's cache."""
    response = httpx.post(f"{base}/gradio_api/upload", files=[("files", (name, data))])
    assert response.status_code == 200, response.text
    (path,) = response.json()
    return str(path)


@contextmanager
def gradio_check_off(server: Running) -> Iterator[None]:
    """As served by a Gradio that skips its own path check (6.31 did, for a mounted app): what
    is left is qa's check in the upload handler."""
    server.app.state.blocks.has_launched = False
    try:
        yield
    finally:
        server.app.state.blocks.has_launched = True


def refused_by_gradio(path: Path | str) -> tuple[str, Any]:
    message = f"Cannot move {path} to the gradio cache dir because it was not uploaded by a user."
    return "error", {"error": message, "visible": True}


def refused_by_qa(name: str) -> tuple[str, Any]:
    return "complete", [{"added": [], "refused": [{"name": name, "reason": NOT_RECEIVED}]}]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Gradio's upload folder for this module's server (GRADIO_TEMP_DIR, read when it starts)."""
    folder = tmp_path_factory.mktemp("gradio-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GRADIO_TEMP_DIR", str(folder))
        yield folder


@pytest.fixture(scope="module")
def upload_server(tmp_path_factory: pytest.TempPathFactory, cache: Path) -> Iterator[Running]:
    with running(make_settings(tmp_path_factory.mktemp("uploads"))) as server:
        yield server


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "s.txt"  # a server file the app user can read
    path.write_text(SECRET, encoding="utf-8")
    return path


def documents(server: Running) -> list[str]:
    return sorted(p.name for p in server.service.settings.docs.iterdir())


# --------------------------------------------------------------------------- 1: uploads


def test_finding_1_a_server_path_posted_as_an_upload_is_refused(
    upload_server: Running, secret: Path
) -> None:
    before = documents(upload_server)
    assert call(upload_server.url, "upload", file_request(str(secret))) == refused_by_gradio(secret)
    with gradio_check_off(upload_server):
        assert call(upload_server.url, "upload", file_request(str(secret))) == refused_by_qa(
            "s.txt"
        )
    assert documents(upload_server) == before
    report = upload_server.service.rebuild()
    assert "s.txt" not in report.added
    status, _, answer = http("GET", f"{upload_server.url}/api/ask?q=vault+code")
    assert status == 200 and "4417" not in json.dumps(answer)


def test_a_symlink_in_gradios_cache_pointing_out_is_refused(
    upload_server: Running, cache: Path, secret: Path
) -> None:
    link = cache / "planted" / "s.txt"
    link.parent.mkdir()
    link.symlink_to(secret)
    assert call(upload_server.url, "upload", file_request(str(link))) == refused_by_gradio(link)
    with gradio_check_off(upload_server):
        assert call(upload_server.url, "upload", file_request(str(link))) == refused_by_qa("s.txt")
    assert "s.txt" not in documents(upload_server)


def test_an_uploaded_file_swapped_for_a_symlink_is_refused(
    upload_server: Running, secret: Path
) -> None:
    path = Path(upload(upload_server.url, "notes.txt", b"Harmless notes about quokkas.\n"))
    path.unlink()
    path.symlink_to(secret)
    assert call(upload_server.url, "upload", file_request(str(path))) == refused_by_gradio(path)
    with gradio_check_off(upload_server):
        assert call(upload_server.url, "upload", file_request(str(path))) == refused_by_qa(
            "notes.txt"
        )
    assert "notes.txt" not in documents(upload_server)


def test_a_file_in_gradios_cache_that_no_upload_brought_is_refused(
    upload_server: Running, cache: Path
) -> None:
    """Gradio's own check passes anything inside its cache folder (outputs it copied there,
    say); qa's takes only what its upload route wrote."""
    planted = cache / "0123abcd" / "planted.txt"
    planted.parent.mkdir()
    planted.write_text(SECRET, encoding="utf-8")
    assert call(upload_server.url, "upload", file_request(str(planted))) == refused_by_qa(
        "planted.txt"
    )
    assert "planted.txt" not in documents(upload_server)


def test_a_file_sent_through_the_upload_route_is_added(upload_server: Running) -> None:
    content = b"Quokkas live on Rottnest Island.\n"
    path = upload(upload_server.url, "quokka notes.txt", content)
    # Gradio names the folder by a hash keyed with a secret of the server, not the content's
    # sha256: only a client that sent the same bytes itself learns where another's upload is.
    assert Path(path).parent.name != hashlib.sha256(content).hexdigest()
    with gradio_check_off(upload_server):  # qa's check alone lets it through
        event, data = call(upload_server.url, "upload", file_request(path))
    assert (event, data) == ("complete", [{"added": ["quokka notes.txt"], "refused": []}])
    assert "quokka notes.txt" in documents(upload_server)


def test_received_takes_regular_files_below_the_folder_only(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    (folder / "aa").mkdir(parents=True)
    good = folder / "aa" / "a.txt"
    good.write_text("a")
    outside = tmp_path / "outside"
    (outside / "x").mkdir(parents=True)
    (outside / "x" / "b.txt").write_text("b")
    (folder / "bb").symlink_to(outside / "x")  # a folder symlink on the way
    os.mkfifo(folder / "aa" / "pipe.txt")
    paths = [
        str(good),
        str(folder / "bb" / "b.txt"),
        str(folder / "aa" / "pipe.txt"),
        str(folder / "aa" / ".." / ".." / "outside" / "x" / "b.txt"),
        str(folder),
        str(folder / "aa" / "gone.txt"),
    ]
    uploaded = {os.path.abspath(p) for p in paths}
    verdicts = [received(p, uploaded=uploaded, folder=str(folder)) for p in paths]
    assert verdicts == [True, False, False, False, False, False]
    assert received(str(good), uploaded=set(), folder=str(folder)) is False


# --------------------------------------------------------------------------- 8: sign-in


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fail(limiter: SignInLimiter, client: str = "198.51.100.7") -> float:
    wait = limiter.reserve(client)
    limiter.release(client, failed=True, waited=wait > 0)
    return wait


def test_failures_beyond_the_free_ones_are_spaced_doubling_up_to_the_cap() -> None:
    clock = Clock()
    limiter = SignInLimiter(clock=clock)
    assert [fail(limiter) for _ in range(10)] == [0.0] * 10  # the free ones, at once
    waits = []
    for _ in range(9):  # each attempt made as soon as its turn comes
        waits.append(fail(limiter))
        clock.now += waits[-1]
    assert waits == [0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    limiter.reserve("198.51.100.7")  # its turn: 30 s away
    with pytest.raises(TooManySignInsError) as refused:  # the next one's: 60 s, too far
        limiter.reserve("198.51.100.7")
    assert (str(refused.value), refused.value.retry_after) == (
        TOO_MANY.format(seconds=60),
        60,
    )


def test_concurrent_attempts_take_turns_then_are_refused() -> None:
    clock = Clock()
    limiter = SignInLimiter(clock=clock)
    for _ in range(10):
        fail(limiter)
    waits = [limiter.reserve("198.51.100.7") for _ in range(5)]  # none decided yet
    assert waits == [0.0, 1.0, 3.0, 7.0, 15.0]
    with pytest.raises(TooManySignInsError) as refused:
        limiter.reserve("198.51.100.7")
    assert refused.value.retry_after == 31
    assert limiter.reserve("203.0.113.9") == 0.0  # another client is not slowed


def test_a_client_is_forgotten_an_hour_after_its_last_failure() -> None:
    clock = Clock()
    limiter = SignInLimiter(clock=clock)
    for _ in range(12):
        clock.now += fail(limiter)
    clock.now += 3601
    assert [fail(limiter) for _ in range(10)] == [0.0] * 10


def test_memory_is_bounded_by_clients_and_waiting_attempts() -> None:
    limiter = SignInLimiter(SignInPolicy(max_clients=3, max_waiting=2), clock=Clock())
    for number in range(10):
        fail(limiter, f"192.0.2.{number}")
    assert len(limiter) == 3
    for _ in range(9):  # with the one above: all 10 free failures
        fail(limiter, "192.0.2.9")
    assert [limiter.reserve("192.0.2.9") for _ in range(3)] == [0.0, 1.0, 3.0]  # 2 waiting
    with pytest.raises(TooManySignInsError):
        limiter.reserve("192.0.2.9")


def test_verify_waits_its_turn() -> None:
    limiter = SignInLimiter(SignInPolicy(free=1, first_delay=0.2))
    assert asyncio.run(limiter.verify(lambda: False, client="a")) is False
    started = time.monotonic()
    assert asyncio.run(limiter.verify(lambda: False, client="a")) is False  # turn: now
    assert asyncio.run(limiter.verify(lambda: True, client="a")) is True
    assert time.monotonic() - started >= 0.2


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("203.0.113.5", "203.0.113.5"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.5", "203.0.113.5"),
        ("testclient", "testclient"),
        (None, "unknown"),
    ],
)
def test_client_key(host: str | None, key: str) -> None:
    assert client_key(host) == key


QUICK = SignInPolicy(free=3, first_delay=2.0, max_delay=2.0, max_wait=0.0)


@pytest.fixture(scope="module")
def slowed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    settings = make_settings(tmp_path_factory.mktemp("slowed"), auth=USERS)
    with running(settings, sign_in=QUICK) as server:
        yield server


def sign_in(base: str, password: str, *, via: str | None = None) -> tuple[int, dict[str, str], Any]:
    form = urllib.parse.urlencode({"username": "alice", "password": password}).encode()
    request = urllib.request.Request(f"{base}/login", data=form, method="POST")
    if via is not None:  # as a reverse proxy on this machine would say
        request.add_header("X-Forwarded-For", via)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def test_finding_8_repeated_failed_sign_ins_are_slowed(slowed_server: Running) -> None:
    """QUICK: 3 free failures, then one attempt per 2 s, none waiting (max_wait 0) so the
    test needs no timing: what is not its turn is refused."""
    url = slowed_server.url
    wrong = (400, {"detail": "Incorrect credentials."})
    assert [sign_in(url, "guess")[::2] for _ in range(4)] == [wrong] * 4
    too_many = {"detail": TOO_MANY.format(seconds=2)}
    status, headers, body = sign_in(url, "guess")
    assert (status, headers["retry-after"], body) == (429, "2", too_many)
    assert sign_in(url, "s3cret")[::2] == (429, too_many)  # not even checked
    status, _, body = http("GET", url + "/api/status", user=("alice", "guess"))  # HTTP Basic
    assert (status, body) == (429, too_many)
    assert sign_in(url, "s3cret", via="203.0.113.5")[::2] == (200, {"success": True})
    time.sleep(2.1)  # the Retry-After
    assert sign_in(url, "s3cret")[::2] == (200, {"success": True})


# --------------------------------------------------------------------------- 9: bounds


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with running(make_settings(tmp_path_factory.mktemp("plain"))) as server:
        yield server


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "start=" + "9" * 5000 + "&end=1",
            f"Not a character offset: &#x27;{'9' * 24}&#x27;… (5000 characters). "
            "Open the link from an answer.",
        ),
        (
            "start=0&end=1&span=0-" + "1" * 19,
            "Not a character offset: &#x27;1111111111111111111&#x27;. "
            "Open the link from an answer.",
        ),
        (
            "start=0&end=1" + "&span=0-1" * 101,
            "Too many spans (101; at most 100). Open the link from an answer.",
        ),
    ],
)
def test_finding_9_absurd_view_offsets_are_400_with_a_message(
    plain_server: Running, query: str, message: str
) -> None:
    got, _, page = http("GET", f"{plain_server.url}/view?source={FILM_SOURCE}&{query}")
    assert (got, re.search(r"<p>(.*)</p>", page).group(1)) == (400, message)  # type: ignore[union-attr]


MISSING = (
    "QA_AUTH file {} does not exist. Create it (one user:password per line), or set QA_AUTH "
    "to user:password pairs separated by commas."
)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("/missing/file", MISSING.format("/missing/file")),
        ("./users", MISSING.format("./users")),
        ("~/qa-no-such-users", MISSING.format("~/qa-no-such-users")),
        ("{tmp}", "QA_AUTH {tmp} is a folder, not a file of user:password lines."),
        ("{tmp}/latin1", "QA_AUTH file {tmp}/latin1 is not UTF-8 text."),
    ],
)
def test_qa_auth_naming_a_file_qa_cannot_read_says_so(
    tmp_path: Path, spec: str, message: str
) -> None:
    (tmp_path / "latin1").write_bytes(b"al\xe9:secret\n")
    with pytest.raises(AuthFileError) as caught:
        parse_auth(spec.format(tmp=tmp_path))
    assert str(caught.value) == message.format(tmp=tmp_path)


def test_qa_auth_pairs_are_never_taken_for_a_path() -> None:
    many = ",".join(f"user{n}:password{n}" for n in range(40))  # too long for a file name
    assert len(parse_auth(many)) == 40
    assert parse_auth("carol:./pass/word") == [("carol", "./pass/word")]
    with pytest.raises(ValueError) as caught:
        parse_auth("justaname")
    assert str(caught.value) == "QA_AUTH entries must look like user:password"


def test_finding_9_a_missing_qa_auth_file_is_named(tmp_path: Path) -> None:
    port = free_port()
    environ = {**os.environ, "QA_AUTH": "/missing/file"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "qa.cli.main",
            "serve",
            "--port",
            str(port),
            "--docs",
            str(tmp_path),
        ],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (
        1,
        "",
        f"Error: {MISSING.format('/missing/file')}\n",
    )
