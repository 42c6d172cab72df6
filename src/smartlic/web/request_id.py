"""Request ids: every request gets one (the caller's ``X-Request-ID`` when it is sane), every
response and problem body carries it, so an operator can find a client's report in the logs.

Written as plain ASGI rather than ``BaseHTTPMiddleware`` so that streaming and exception
handling are untouched.
"""

from __future__ import annotations

import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from smartlic.web.headers import add_missing

__all__ = ["RequestIdMiddleware"]

HEADER = "x-request-id"
_HEADER = HEADER.encode()
_SANE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == _HEADER:
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
        header = ((_HEADER, rid.encode("latin-1")),)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                add_missing(message, header)
            await send(message)

        await self.app(scope, receive, send_with_id)
