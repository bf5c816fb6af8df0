"""Password checks slowed down per client after repeated failures (page sign-in and HTTP Basic).

Every check of a QA_AUTH password (Gradio's /login, and HTTP Basic on /api, /view and /docs)
goes through one SignInLimiter. A client (an IPv4 address, or an IPv6 /64: one machine holds a
whole /64) makes its first `free` failed attempts at full speed. After that its attempts are
spaced out: each waits for its turn, and each turn is twice as far from the previous one
(1 s, 2 s, 4 s ... up to `max_delay`), so concurrent attempts gain nothing. An attempt whose
turn is more than `max_wait` away is refused at once (HTTP 429, Retry-After). A client's count
is forgotten after `forget_after` seconds without a failure; a right password does not reset
it (a user who knows one password must not be able to wipe the count between guesses at
another). Memory is bounded: at most `max_clients` clients are remembered (the least recently
seen are forgotten first) and at most `max_waiting` attempts wait at any time.

The rule is the same on loopback and beyond it. Behind a reverse proxy on the same machine,
uvicorn takes the client address from X-Forwarded-For (it trusts 127.0.0.1 by default, see
FORWARDED_ALLOW_IPS), so clients are still told apart.
"""

from __future__ import annotations

import asyncio
import contextvars
import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException

ASGIApp = Callable[..., Any]
TOO_MANY = "Too many failed sign-ins from your address: try again in {seconds} s."
UNKNOWN_CLIENT = "unknown"
_CLIENT: contextvars.ContextVar[str] = contextvars.ContextVar("qa_client", default=UNKNOWN_CLIENT)


@dataclass(frozen=True)
class SignInPolicy:
    free: int = 10  # failed attempts a client makes at full speed
    first_delay: float = 1.0  # seconds between the attempts after those, doubling each time
    max_delay: float = 30.0
    max_wait: float = 30.0  # an attempt whose turn is further away is refused
    forget_after: float = 3600.0  # seconds without a failure after which a client is forgotten
    max_clients: int = 4096
    max_waiting: int = 256


class TooManySignInsError(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(TOO_MANY.format(seconds=retry_after))
        self.retry_after = retry_after


@dataclass
class _Client:
    failures: int = 0
    checking: int = 0  # attempts reserved and not yet decided
    next_at: float = 0.0  # no check before this time
    last_failure: float = 0.0


class SignInLimiter:
    def __init__(
        self, policy: SignInPolicy | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.policy = policy or SignInPolicy()
        self._clock = clock
        self._clients: OrderedDict[str, _Client] = OrderedDict()
        self._waiting = 0
        self._lock = threading.Lock()

    async def verify(self, check: Callable[[], bool], *, client: str | None = None) -> bool:
        """`check()` (a password comparison) in the client's turn; TooManySignInsError when
        that turn is too far away. `client` defaults to the one of the current request."""
        key = _CLIENT.get() if client is None else client
        wait = self.reserve(key)
        failed = False
        try:
            if wait > 0:
                await asyncio.sleep(wait)
            failed = not check()
            return not failed
        finally:
            self.release(key, failed=failed, waited=wait > 0)

    def reserve(self, key: str) -> float:
        """Seconds until this attempt's turn (0: at once); counts it as being checked."""
        policy = self.policy
        with self._lock:
            now = self._clock()
            entry = self._entry(key, now)
            counted = entry.failures + entry.checking  # an attempt under way may fail too
            wait = 0.0
            if counted >= policy.free:
                turn = max(now, entry.next_at)
                wait = turn - now
                if wait > policy.max_wait or (wait > 0 and self._waiting >= policy.max_waiting):
                    raise TooManySignInsError(max(1, math.ceil(wait)))
                step = policy.first_delay * 2.0 ** min(counted - policy.free, 62)
                entry.next_at = turn + min(policy.max_delay, step)
            entry.checking += 1
            if wait > 0:
                self._waiting += 1
            return wait

    def release(self, key: str, *, failed: bool, waited: bool = False) -> None:
        with self._lock:
            if waited:
                self._waiting -= 1
            entry = self._clients.get(key)
            if entry is None:  # forgotten meanwhile (max_clients)
                return
            entry.checking -= 1
            if failed:
                entry.failures += 1
                entry.last_failure = self._clock()

    def _entry(self, key: str, now: float) -> _Client:
        entry = self._clients.get(key)
        if entry is None:
            entry = self._clients[key] = _Client()
            while len(self._clients) > self.policy.max_clients:
                self._clients.popitem(last=False)
        else:
            self._clients.move_to_end(key)
            quiet = now - entry.last_failure > self.policy.forget_after
            if entry.failures and not entry.checking and quiet:
                self._clients[key] = entry = _Client()
        return entry

    def __len__(self) -> int:
        return len(self._clients)


def refused(exc: TooManySignInsError) -> HTTPException:
    return HTTPException(
        status_code=429, detail=str(exc), headers={"Retry-After": str(exc.retry_after)}
    )


def client_key(host: str | None) -> str:
    """Whom failures are counted against: an IPv4 address, or the /64 of an IPv6 one."""
    if not host:
        return UNKNOWN_CLIENT
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host  # a name (test clients, unix sockets): itself
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class ClientAddress:
    """ASGI middleware: makes the request's client known to password checks (Gradio's /login
    calls the auth function with a user and a password only)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        token = _CLIENT.set(client_key(client[0] if client else None))
        try:
            await self.app(scope, receive, send)
        finally:
            _CLIENT.reset(token)
