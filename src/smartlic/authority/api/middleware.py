"""Request ids: every request gets one (the caller's ``X-Request-ID`` when it is sane), every
response and problem body carries it, so an operator can find a client's report in the logs.

Written as plain ASGI rather than ``BaseHTTPMiddleware`` so that streaming and exception
handling are untouched.
"""

from __future__ import annotations

import json
import re
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimitMiddleware", "RequestIdMiddleware"]

HEADER = "x-request-id"
_SANE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == HEADER.encode():
            text = value.decode("latin-1")
            return text if _SANE.match(text) else None
    return None


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _incoming_id(scope) or uuid.uuid4().hex
        # The same scope dict reaches the outer error middleware, so a 500 problem sees it too.
        scope.setdefault("state", {})["request_id"] = rid

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if HEADER not in headers:
                    headers.append("X-Request-ID", rid)
            await send(message)

        await self.app(scope, receive, send_with_id)


class BodyLimitMiddleware:
    """Refuse request bodies over ``limit`` bytes with a 413 problem, before the application
    reads them: a declared Content-Length is checked up front; a chunked body is read here,
    up to the limit, and handed on.
    Multipart uploads have their own, larger limit (deps_usage.py) and pass through."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _is_multipart(scope):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await _send_413(scope, send, self.limit)
            return
        if declared is None and _header(scope, b"transfer-encoding") == "chunked":
            # no declared length: read the body here, within the limit, then hand it on
            body = await _read_within(receive, self.limit)
            if body is None:
                await _send_413(scope, send, self.limit)
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)


async def _read_within(receive: Receive, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size, more = 0, True
    while more:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


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


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _is_multipart(scope: Scope) -> bool:
    return (_header(scope, b"content-type") or "").startswith("multipart/")


def _content_length(scope: Scope) -> int | None:
    value = _header(scope, b"content-length")
    return int(value) if value and value.isdigit() else None


async def _send_413(scope: Scope, send: Send, limit: int) -> None:
    from smartlic.authority.api.problems import PROBLEM_MEDIA_TYPE, problem

    rid = scope.get("state", {}).get("request_id")
    body = json.dumps(
        problem(
            status=413,
            code="payload-too-large",
            title="Payload too large",
            detail=f"the request body is larger than {limit} bytes",
            request_id=rid,
        )
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
