"""Who may use the app: QA_AUTH's users, checked in constant time, each check taking its
turn in the sign-in limiter (`signin`). HTTP Basic for the API; the page's own session (Gradio's
sign-in cookie) for what the page links to."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from qa.errors import AuthFileError
from qa.web.signin import SignInLimiter, TooManySignInsError, refused

Credentials = list[tuple[str, str]]
AUTH_REQUIRED = "Authentication required."


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
