"""Plain JSON endpoints beside the UI (`/api/ask`, `/api/status`, OpenAPI) and their auth.

The routes are plain `def`: FastAPI runs them in its thread pool, so questions are answered
concurrently (the engine is thread-safe and releases the GIL in numpy/FAISS/ONNX).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from pydantic import BaseModel, Field

from qa.errors import AuthFileError
from qa.web.render import document_page, error_page
from qa.web.service import NotReadyError, RequestError, Service
from qa.web.signin import SignInLimiter, TooManySignInsError, refused

Credentials = list[tuple[str, str]]
AUTH_REQUIRED = "Authentication required."
RETRY_AFTER_S = "5"


class AskRequest(BaseModel):
    question: str = Field(description="The question, in plain words.")
    history: list[str] = Field(
        default_factory=list,
        description="Earlier questions of this conversation, oldest first (for follow-ups).",
    )
    sources: list[str] | None = Field(
        default=None,
        description="Only search these documents (source names from /api/status); "
        "null or empty: all documents.",
    )


class PlaceModel(BaseModel):
    source: str
    start: int
    end: int


class PassageModel(BaseModel):
    rank: int
    source: str
    start: int = Field(description="Offset of the passage in the document's text.")
    end: int
    lines: list[int] = Field(description="First and last line, 1-based.")
    page: int | None = Field(description="PDF page, null for other documents.")
    text: str
    score: float
    also_in: list[PlaceModel] = Field(description="Other places holding the same passage.")
    answer_spans: list[list[int]] = Field(description="Quoted sentences as document offsets.")


class AnswerModel(BaseModel):
    """The same object as `qa ask --json`."""

    question: str
    answer: str = Field(description="Quoted sentences with [n] markers, or the abstention.")
    abstained: bool
    passages: list[PassageModel]
    notes: list[str] | None = Field(default=None, description="Present only when non-empty.")


class ErrorModel(BaseModel):
    detail: str


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorModel, "description": "Empty question or unknown documents."},
    401: {"model": ErrorModel, "description": "Missing or wrong credentials (auth is on)."},
    503: {"model": ErrorModel, "description": "No index loaded yet (starting or building)."},
}


def parse_auth(spec: str | None) -> Credentials:
    """QA_AUTH: 'user:pass,user2:pass2', or the path of a file with one user:pass per line.
    ValueError for malformed entries; AuthFileError when QA_AUTH names a file qa cannot read."""
    if not spec:
        return []
    lines = _auth_file(spec)
    pairs = []
    for item in (i.strip() for i in (spec.split(",") if lines is None else lines)):
        if not item or item.startswith("#"):
            continue
        user, sep, password = item.partition(":")
        if not sep or not user or not password:
            raise ValueError("QA_AUTH entries must look like user:password")
        pairs.append((user, password))
    if not pairs:
        raise ValueError("QA_AUTH is set but holds no user:password entries")
    return pairs


def _auth_file(spec: str) -> list[str] | None:
    """The lines of the file QA_AUTH names, or None when it holds the pairs themselves. A value
    without ':' that looks like a path (a separator, or a leading '~' or '.') names a file."""
    path = Path(spec).expanduser()
    try:
        kind = "file" if path.is_file() else "folder" if path.is_dir() else None
    except OSError:  # e.g. a long list of pairs is too long a file name
        kind = None
    if kind == "folder":
        raise AuthFileError(f"QA_AUTH {spec} is a folder, not a file of user:password lines.")
    if kind is None:
        if ":" not in spec and ("/" in spec or "\\" in spec or spec.startswith(("~", "."))):
            raise AuthFileError(
                f"QA_AUTH file {spec} does not exist. Create it (one user:password per line), "
                "or set QA_AUTH to user:password pairs separated by commas."
            )
        return None
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise AuthFileError(f"QA_AUTH file {spec} cannot be read ({exc.strerror}).") from None
    except UnicodeDecodeError:
        raise AuthFileError(f"QA_AUTH file {spec} is not UTF-8 text.") from None


def check_password(pairs: Credentials, user: str, password: str) -> bool:
    """Constant-time per pair, and every pair is compared: timing says nothing about names."""
    ok = False
    for known_user, known_password in pairs:
        same_user = hmac.compare_digest(known_user.encode(), user.encode())
        same_password = hmac.compare_digest(known_password.encode(), password.encode())
        ok |= same_user and same_password
    return ok


# Module level: FastAPI resolves the string annotations below against module globals.
_BASIC = HTTPBasic(auto_error=False, realm="qa")


def basic_auth(pairs: Credentials, limiter: SignInLimiter) -> Callable[..., Awaitable[str]]:
    async def require(
        credentials: Annotated[HTTPBasicCredentials | None, Depends(_BASIC)],
    ) -> str:
        if credentials is None or not await signed_in(
            limiter, pairs, credentials.username, credentials.password
        ):
            raise HTTPException(
                status_code=401,
                detail=AUTH_REQUIRED,
                headers={"WWW-Authenticate": 'Basic realm="qa"'},
            )
        return credentials.username

    return require


async def signed_in(limiter: SignInLimiter, pairs: Credentials, user: str, password: str) -> bool:
    """check_password in the client's turn (web_signin); HTTP 429 when that is too far off."""
    try:
        return await limiter.verify(lambda: check_password(pairs, user, password))
    except TooManySignInsError as exc:
        raise refused(exc) from None


def page_auth(pairs: Credentials, limiter: SignInLimiter) -> Callable[..., Awaitable[str]]:
    """For what the page links to: the user signed in on the page, else HTTP Basic."""
    require_basic = basic_auth(pairs, limiter)

    async def require(
        request: Request,
        credentials: Annotated[HTTPBasicCredentials | None, Depends(_BASIC)],
    ) -> str:
        return gradio_user(request) or await require_basic(credentials)

    return require


def gradio_user(request: Request) -> str | None:
    """The user of the page's session (Gradio's sign-in cookie), so a link from the page needs
    no second sign-in. Gradio keeps its sessions in its app's `tokens`: when a later Gradio
    keeps them elsewhere, nothing is found and HTTP Basic is asked for, as before."""
    for route in request.app.routes:
        page = getattr(route, "app", None)
        tokens, cookie = getattr(page, "tokens", None), getattr(page, "cookie_id", None)
        if not isinstance(tokens, dict) or not isinstance(cookie, str):
            continue
        token = request.cookies.get(f"access-token-{cookie}") or request.cookies.get(
            f"access-token-unsecure-{cookie}"
        )
        user = tokens.get(token) if token else None
        if isinstance(user, str):
            return user
    return None


def add_api(app: FastAPI, service: Service, pairs: Credentials, limiter: SignInLimiter) -> None:
    guard = [Depends(basic_auth(pairs, limiter))] if pairs else []
    app.include_router(_ask_router(service), prefix="/api", dependencies=guard)
    page_guard = [Depends(page_auth(pairs, limiter))] if pairs else []
    app.include_router(_view_router(service), dependencies=page_guard)
    _add_docs(app, guard)


def _ask_router(service: Service) -> APIRouter:
    router = APIRouter(tags=["questions"], responses=_ERRORS)

    @router.get("/ask", response_model=AnswerModel, summary="Ask a question")
    def ask_get(
        q: Annotated[str, Query(description="The question.")] = "",
        history: Annotated[list[str] | None, Query(description="Earlier questions.")] = None,
        sources: Annotated[list[str] | None, Query(description="Only these documents.")] = None,
    ) -> JSONResponse:
        return _answer(service, q, history or [], sources)

    @router.post("/ask", response_model=AnswerModel, summary="Ask a question (JSON body)")
    def ask_post(body: AskRequest) -> JSONResponse:
        return _answer(service, body.question, body.history, body.sources)

    @router.get("/status", summary="Index status and indexed documents")
    def status() -> dict[str, Any]:
        return service.status()

    return router


def _view_router(service: Service) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/view", response_class=HTMLResponse)
    def view(
        source: str = "",
        start: str = "",
        end: str = "",
        check: str | None = None,
        span: Annotated[list[str] | None, Query()] = None,
    ) -> HTMLResponse:
        """A cited passage in its whole document (the page's "open in document" links)."""
        try:
            first, last = _offset(start), _offset(end)
            spans = _spans(span or [])
            shown = service.view(source, first, last, digest=check)
        except RequestError as exc:
            return HTMLResponse(error_page(str(exc)), status_code=exc.status)
        page = document_page(
            shown.source,
            shown.text,
            start=first,
            end=last,
            spans=spans,
            where=shown.where,
            pages=shown.pages,
        )
        return HTMLResponse(page)

    return router


MAX_OFFSET_DIGITS = 18  # character offsets of any real document; int() refuses > 4,300 digits
MAX_SPANS = 100  # quoted sentences marked on one page (an answer quotes a handful)


def _offset(value: str) -> int:
    if not value.isascii() or not value.isdigit() or len(value) > MAX_OFFSET_DIGITS:
        shown = repr(value) if len(value) <= 24 else f"{value[:24]!r}… ({len(value)} characters)"
        raise RequestError(f"Not a character offset: {shown}. Open the link from an answer.")
    return int(value)


def _spans(values: Sequence[str]) -> list[tuple[int, int]]:
    if len(values) > MAX_SPANS:
        raise RequestError(
            f"Too many spans ({len(values)}; at most {MAX_SPANS}). Open the link from an answer."
        )
    return [_span(value) for value in values]


def _span(value: str) -> tuple[int, int]:
    start, _, end = value.partition("-")
    return _offset(start), _offset(end)


def _answer(
    service: Service, question: str, history: Sequence[str], sources: Sequence[str] | None
) -> JSONResponse:
    try:
        answer = service.ask(question, history=history, sources=sources)
    except RequestError as exc:
        headers = {"Retry-After": RETRY_AFTER_S} if isinstance(exc, NotReadyError) else None
        raise HTTPException(status_code=exc.status, detail=str(exc), headers=headers) from None
    # Answer.as_json as it is (not re-serialised through the model): byte-for-byte `qa ask --json`
    return JSONResponse(answer.as_json())


def _add_docs(app: FastAPI, guard: list[Any]) -> None:
    """OpenAPI and Swagger UI, behind the same credentials as the API when auth is on."""

    @app.get("/openapi.json", include_in_schema=False, dependencies=guard)
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=guard)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="qa API")
