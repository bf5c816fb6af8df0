"""The browser app: a FastAPI server with the Gradio UI mounted at "/" and a JSON API beside it.

    create_app(settings)        -> FastAPI app (tests inject a fake embedder here)
    serve(settings, host, port) -> runs it with uvicorn (`python app.py`, `qa serve`)

Start-up work (index check/build, model load) starts with the server and runs in a thread, so
the page and the API answer at once; questions asked meanwhile wait (UI) or get 503 (API).
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

# Before Gradio is imported: no usage reporting, no hub look-ups from an offline server.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from fastapi import FastAPI

from qa.embed.base import Embedder
from qa.errors import ServeError
from qa.settings import Settings
from qa.web.api import add_api
from qa.web.auth import Credentials, parse_auth, signed_in
from qa.web.service import MIB, Service
from qa.web.signin import ClientAddress, SignInLimiter, SignInPolicy

GradioAuth = Callable[[str, str], Awaitable[bool]]
OPEN_WARNING = (
    "warning: serving on {host}, which other machines can reach, without a password. "
    "Set QA_AUTH=user:password (or a file of such lines) to require one."
)


def create_app(
    settings: Settings,
    *,
    embedder_factory: Callable[[], Embedder] | None = None,
    service: Service | None = None,
    sign_in: SignInPolicy | None = None,
) -> FastAPI:
    """The whole app; start-up work begins when the server starts (its lifespan). `sign_in`:
    how repeated failed password checks are slowed down (tests shorten it)."""
    # ~3 s of import: here, so `qa ask` and friends never pay for Gradio.
    from qa.web.ui import build_ui

    service = service or Service(settings, embedder_factory=embedder_factory)
    pairs = parse_auth(settings.auth)
    app = FastAPI(
        title="qa",
        summary="Answers questions over a folder of documents, quoting and citing passages.",
        docs_url=None,  # added by add_api, behind the same auth as the API
        redoc_url=None,
        openapi_url=None,
        lifespan=_lifespan(service),
    )
    app.state.service = service  # for tests and for `qa serve` wiring
    limiter = SignInLimiter(sign_in)
    if pairs:
        app.add_middleware(ClientAddress)  # tells the password checks who is asking
    add_api(app, service, pairs, limiter)
    blocks = build_ui(service, max_upload_mb=settings.max_upload_mb)
    # No blocks.queue(...) call: every event sets its own concurrency_limit, and queue()
    # would rebuild Gradio's routes once more (~0.3 s of start-up).
    app.state.blocks = blocks
    return _mount(app, blocks, settings, _gradio_auth(pairs, limiter))


def _mount(app: FastAPI, blocks: Any, settings: Settings, auth: GradioAuth | None) -> FastAPI:
    import gradio as gr

    from qa.web.style import CSS, theme

    mounted: FastAPI = gr.mount_gradio_app(
        app,
        blocks,
        path="/",
        auth=auth,
        auth_message="Sign in with a user name and password from QA_AUTH.",
        max_file_size=settings.max_upload_mb * MIB,
        footer_links=["api"],
        run_history=False,  # nothing about questions is kept in the browser
        show_error=True,  # error messages (never tracebacks) reach the page
        theme=theme(),
        css=CSS,
    )
    # Gradio refuses a file path posted by a client outside its upload folder only once the
    # app "has launched"; launch() sets that, mount_gradio_app (Gradio 6.31) does not, so any
    # server file a client named was copied in. qa's upload handler checks again (web_uploads).
    blocks.has_launched = True
    return mounted


def _lifespan(service: Service) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        service.start()
        yield

    return lifespan


def _gradio_auth(pairs: Credentials, limiter: SignInLimiter) -> GradioAuth | None:
    if not pairs:
        return None

    async def auth(user: str, password: str) -> bool:  # async: Gradio awaits it, so it may wait
        return await signed_in(limiter, pairs, user, password)

    return auth


def serve(
    settings: Settings,
    *,
    host: str,
    port: int,
    embedder_factory: Callable[[], Embedder] | None = None,
    app: FastAPI | None = None,
) -> None:
    """Run the app (or `app`, when already built by create_app) until interrupted; ServeError
    when the address cannot be had, before anything slow is done."""
    parse_auth(settings.auth)  # a bad QA_AUTH is told before the port is taken
    listening = bind(host, port)
    if not settings.auth and not is_loopback(host):
        print(OPEN_WARNING.format(host=host), file=sys.stderr)
    app = app or create_app(settings, embedder_factory=embedder_factory)
    print(f"qa: serving {settings.docs} at http://{_url_host(host)}:{port}/", file=sys.stderr)
    _run(app, listening)


def bind(host: str, port: int) -> socket.socket:
    """The server's socket, bound here so a taken port is a message, not a uvicorn log line
    after the page was announced."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        listening = socket.socket(family, socket.SOCK_STREAM)
    except OSError as exc:
        raise ServeError(f"Cannot listen on {host}: {exc.strerror or exc}. {_OTHER_HOST}") from None
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind((host, port))
    except OSError as exc:
        listening.close()
        raise ServeError(_bind_failure(host, port, exc)) from None
    return listening


_OTHER_HOST = "Give an address of this machine with --host (QA_HOST)."


def _bind_failure(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"Cannot listen on {host}: it is not an address of this machine. {_OTHER_HOST}"
    if exc.errno == errno.EADDRINUSE:
        return (
            f"Cannot listen on {host}:{port}: the port is in use. Stop what is using it, or "
            "choose another port with --port (QA_PORT)."
        )
    return f"Cannot listen on {host}:{port}: {exc.strerror}. Choose another port with --port."


def _run(app: FastAPI, listening: socket.socket) -> None:
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=5)
    # uvicorn re-raises the Ctrl-C it shut down on; the shutdown is done, so it ends here quietly.
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run(sockets=[listening])


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name that may resolve anywhere


def _url_host(host: str) -> str:
    if host in {"0.0.0.0", "::"}:
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host
