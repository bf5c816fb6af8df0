"""Plain JSON endpoints beside the UI (`/api/ask`, `/api/status`, `/view`, OpenAPI).

The routes are plain `def`: FastAPI runs them in its thread pool, so questions are answered
concurrently (the engine is thread-safe and releases the GIL in numpy/FAISS/ONNX).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from qa.web.auth import Credentials, basic_auth, page_auth
from qa.web.errors import NotReadyError, RequestError
from qa.web.render import document_page, error_page
from qa.web.service import Service
from qa.web.signin import SignInLimiter

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
            ocr_pages=shown.ocr_pages,
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
