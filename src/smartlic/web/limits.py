"""Request body limits per route, enforced while the body streams in, and JSON bodies checked
for depth and size before anything parses them. One middleware for the authority and both
collector ports (issue 8, finding 2: 60 MiB of ``{},`` grew the authority to 3.25 GB, a 300 MiB
chunked body the collector to 1.28 GB).

* A declared ``Content-Length`` over the route's limit is refused before a byte is read.
* Every body is counted as it arrives (a chunked one announces no length): past the limit
  the request is refused, whatever the application was doing with it.
* A JSON body (what FastAPI would parse: ``application/json``, ``application/*+json``)
  is read here, within the limit, checked by ``formats.jsonsafe.check_shape``, and handed on.
* A client that sends nothing for ``read_timeout_s`` while its body is due gets 408.
* A path or query string holding NUL (``%00``) is refused with 422 before any route reads it:
  no text holds NUL (``formats.bounds.clean_text``) and PostgreSQL refuses it in a parameter,
  so an account, virtual account, device or search of ``a%00b`` was a 500 on every route.

Refusals are problem+json (413, 408, 422), or the vendor's ``{"status": "FAILED", "message"}``
on vendor paths, and close the connection (the rest of the body is not read, see
``_Refusal``).

Starlette's own ``RequestBodyLimitMiddleware`` (and FastAPI's ``max_body_size=``) count bytes
the same way, but answer plain text, keep the connection open for the rest of the body, and
leave the JSON shape and slow clients to someone else; this keeps the three in one place.

Usage::

    policy = BodyPolicy.from_settings(settings, routes=(RouteLimit(r"/upload", 64 << 20),))
    app.add_middleware(BodyLimitMiddleware, policy=policy)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import anyio
import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from smartlic.errors import InvalidInput, PayloadTooLarge, RequestTimeout, SmartlicError
from smartlic.formats.bounds import clean_text, decimal
from smartlic.formats.device_api import failed, is_vendor_path
from smartlic.formats.jsonsafe import DEFAULT_LIMITS, JsonLimits, check_shape
from smartlic.web.problems import PROBLEM_MEDIA_TYPE, problem
from smartlic.web.settings import LimitSettings

__all__ = ["BodyLimitMiddleware", "BodyPolicy", "RouteLimit"]

_THREAD_CHECK_BYTES = 256 * 1024  # larger JSON bodies are checked off the event loop
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
LINGER_S = 1.0  # after a refusal, how long the rest of the body is read and dropped


@dataclass(frozen=True)
class RouteLimit:
    """``max_bytes`` for the paths ``pattern`` matches in full."""

    pattern: str
    max_bytes: int
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", re.compile(self.pattern))


@dataclass(frozen=True)
class BodyPolicy:
    """The limits of one server: per-route body sizes (first match wins, else
    ``default_bytes``), JSON shape, the read timeout, and which paths answer the vendor's
    error shape."""

    default_bytes: int
    routes: tuple[RouteLimit, ...] = ()
    json: JsonLimits = DEFAULT_LIMITS
    read_timeout_s: float = 20.0

    @classmethod
    def from_settings(
        cls,
        settings: LimitSettings,
        routes: tuple[RouteLimit, ...] = (),
    ) -> BodyPolicy:
        return cls(
            default_bytes=settings.max_body_bytes,
            routes=routes,
            json=settings.json_limits(),
            read_timeout_s=settings.read_timeout_s,
        )

    def max_bytes(self, path: str) -> int:
        for route in self.routes:
            if route.regex.fullmatch(path):
                return route.max_bytes
        return self.default_bytes


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, policy: BodyPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _nul_in_url(scope):
            refuse = _Refusal(scope, receive, send, vendor=is_vendor_path(scope["path"]))
            await refuse(InvalidInput("the request's path or query holds a NUL character"))
            return
        if scope["type"] != "http" or not _has_body(scope):
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        limit = self.policy.max_bytes(path)
        refuse = _Refusal(scope, receive, send, vendor=is_vendor_path(path))
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await refuse(_too_large(limit, path))
            return
        body = _CountedBody(receive, limit, path, self.policy.read_timeout_s)
        if _parsed_as_json(scope):
            try:
                data = await body.read_all()
                await _check_json(data, self.policy.json)
            except SmartlicError as exc:
                await refuse(exc, body_done=body.complete)
                return
            await self.app(scope, _replay(data, receive), send)
            return
        await _streamed(self.app, scope, body, refuse, send)


async def _streamed(
    app: ASGIApp, scope: Scope, body: _CountedBody, refuse: _Refusal, send: Send
) -> None:
    """The application reads the body itself (uploads); once the body is refused, whatever
    the application answers to the exception it got is replaced by the refusal."""
    started = False

    async def guarded_send(message: Message) -> None:
        nonlocal started
        if body.refusal is not None:
            return
        started = started or message["type"] == "http.response.start"
        await send(message)

    try:
        await app(scope, body.receive, guarded_send)
    except Exception:
        if body.refusal is None:
            raise
    if body.refusal is not None and not started:
        await refuse(body.refusal, body_done=body.complete)


class _CountedBody:
    """``receive`` counting the body's bytes against ``limit``, each message awaited at most
    ``timeout_s``; the first refusal is kept and raised again on every later call."""

    def __init__(self, receive: Receive, limit: int, path: str, timeout_s: float) -> None:
        self.inner = receive
        self.limit = limit
        self.path = path
        self.timeout_s = timeout_s
        self.size = 0
        self.complete = False
        self.refusal: SmartlicError | None = None

    async def receive(self) -> Message:
        if self.refusal is not None:
            raise self.refusal
        if self.complete:  # e.g. a streaming response listening for the disconnect
            return await self.inner()
        try:
            with anyio.fail_after(self.timeout_s):
                message = await self.inner()
        except TimeoutError:
            self.refusal = RequestTimeout(
                f"the request body did not arrive within {self.timeout_s:g} s"
            )
            raise self.refusal from None
        if message["type"] == "http.request":
            self.size += len(message.get("body", b""))
            if self.size > self.limit:
                self.refusal = _too_large(self.limit, self.path)
                raise self.refusal
            self.complete = not message.get("more_body", False)
        return message

    async def read_all(self) -> bytes:
        chunks: list[bytes] = []
        while not self.complete:
            message = await self.receive()
            if message["type"] != "http.request":
                break  # the client went away; the application will see it too
            chunks.append(message.get("body", b""))
        return b"".join(chunks)


async def _check_json(data: bytes, limits: JsonLimits) -> None:
    if len(data) > _THREAD_CHECK_BYTES:
        await anyio.to_thread.run_sync(check_shape, data, limits)
    else:
        check_shape(data, limits)


def _replay(body: bytes, then: Receive) -> Receive:
    """The already-read body first, then the connection's own messages (e.g. disconnect)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return await then()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


class _Refusal:
    """Sends one refusal: problem+json, or the vendor's error shape on vendor paths; then
    reads and drops what the client is still sending for up to ``LINGER_S`` and closes the
    connection. (Closing at once, with unread data, would reset the connection and could
    destroy the answer before the client reads it; lingering a little is what web servers
    do, and the rest of an oversized body is never read.)"""

    def __init__(self, scope: Scope, receive: Receive, send: Send, *, vendor: bool) -> None:
        self.scope = scope
        self.receive = receive
        self.send = send
        self.vendor = vendor

    async def __call__(self, exc: SmartlicError, body_done: bool = False) -> None:
        data, media = self._body(exc)
        headers = [
            (b"content-type", media.encode()),
            (b"content-length", str(len(data)).encode()),
            (b"connection", b"close"),
        ]
        await self.send({"type": "http.response.start", "status": exc.status, "headers": headers})
        await self.send({"type": "http.response.body", "body": data, "more_body": True})
        if not body_done:
            await self._linger()
        await self.send({"type": "http.response.body", "body": b""})

    def _body(self, exc: SmartlicError) -> tuple[bytes, str]:
        rid = self.scope.get("state", {}).get("request_id")
        body = problem(
            status=exc.status, code=exc.code, title=exc.title, detail=exc.detail, request_id=rid
        )
        if self.vendor:  # the vendor device API answers its own shape (as problem_response)
            return json.dumps(failed(body)).encode(), "application/json"
        return json.dumps(body).encode(), PROBLEM_MEDIA_TYPE

    async def _linger(self) -> None:
        with anyio.move_on_after(LINGER_S):
            while True:
                message = await self.receive()
                if message["type"] != "http.request" or not message.get("more_body", False):
                    return


def _too_large(limit: int, path: str) -> PayloadTooLarge:
    return PayloadTooLarge(f"the request body is larger than the limit of {limit} bytes for {path}")


def _nul_in_url(scope: Scope) -> bool:
    """True when the decoded path or the query string (``%00``) holds NUL."""
    return not clean_text(scope["path"]) or b"%00" in scope.get("query_string", b"")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _has_body(scope: Scope) -> bool:
    if scope.get("method") in _BODY_METHODS:
        return True
    return _header(scope, b"transfer-encoding") is not None or (_content_length(scope) or 0) > 0


def _content_length(scope: Scope) -> int | None:
    value = _header(scope, b"content-length")
    return decimal(value) if value else None


def _parsed_as_json(scope: Scope) -> bool:
    """FastAPI's rule (strict content type): ``application/json`` or ``application/*+json``."""
    media = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )
