"""uvicorn, configured so that slow clients cannot hold connections forever.

uvicorn closes an idle keep-alive connection after ``timeout_keep_alive`` seconds, but only
between requests, and any byte received cancels that timer: a client that opens a connection
and trickles a request head one byte at a time (slowloris) is never closed. The protocols here
add a deadline for the request head: ``read_timeout_s`` from the connection (or the previous
response) until the head is complete, and a size limit, ``MAX_HEAD_BYTES`` (h11 has one,
``h11_max_incomplete_event_size``; httptools, which uvicorn prefers, has none: 200 MiB of
headers grew a server to 256 MB). The body has its own deadline per message, in
``web.limits``.

Usage::

    config = serving_config("smartlic.authority.app:app_from_env", settings, factory=True)
    run(config)                                   # one process, or several workers
    uvicorn.Server(serving_config(app, settings, port=0))   # in a thread (tests)
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.supervisors import Multiprocess

from smartlic.web.settings import LimitSettings

try:  # uvicorn's faster parser, when installed (uvicorn[standard])
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover
    HttpToolsProtocol = None  # type: ignore[assignment,misc]

__all__ = [
    "GuardedH11Protocol",
    "GuardedHttpToolsProtocol",
    "ServingConfig",
    "run",
    "serving_config",
]

MAX_HEAD_BYTES = 16 * 1024  # request line and headers; a real client sends well under 4 KiB


class ServingConfig(uvicorn.Config):
    """``uvicorn.Config`` plus ``read_timeout_s``, which the protocol reads."""

    def __init__(self, app: Any, *, read_timeout_s: float = 20.0, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.read_timeout_s = read_timeout_s


class _HeadDeadline:
    """Closes the connection when no complete request head arrives within the timeout, or
    when the head grows past ``MAX_HEAD_BYTES`` (httptools sets no limit of its own)."""

    def __init__(self, protocol: Any, timeout_s: float) -> None:
        self.protocol = protocol
        self.timeout_s = timeout_s
        self.waiting_after: object = None  # the cycle (request) before the awaited one
        self.handle: asyncio.TimerHandle | None = None
        self.head_bytes = 0

    def arm(self) -> None:
        self.cancel()
        self.waiting_after = self.protocol.cycle
        self.head_bytes = 0
        self.handle = asyncio.get_running_loop().call_later(self.timeout_s, self._close)

    def received(self, size: int) -> None:
        """After the parser has seen ``size`` more bytes."""
        if self.handle is None:
            return
        if self.protocol.cycle is not self.waiting_after:
            self.cancel()  # a new request head has been parsed
            return
        if getattr(self.waiting_after, "more_body", False):
            return  # the rest of a body the application answered without reading: dropped
        self.head_bytes += size  # all of it the unfinished head
        if self.head_bytes > MAX_HEAD_BYTES:
            self.cancel()
            self._close(HEAD_TOO_LARGE)

    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None

    def _close(self, answer: bytes = b"") -> None:
        self.handle = None
        transport = self.protocol.transport
        if transport is not None and not transport.is_closing():
            if answer:
                transport.write(answer)
            transport.close()


def _raw_problem(status: int, reason: str, code: str, detail: str) -> bytes:
    body = json.dumps(
        {"type": f"urn:smartlic:problem:{code}", "title": reason, "status": status,
         "detail": detail, "code": code}
    ).encode()  # fmt: skip
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/problem+json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


HEAD_TOO_LARGE = _raw_problem(
    431,
    "Request Header Fields Too Large",
    "headers-too-large",
    f"the request line and headers are larger than {MAX_HEAD_BYTES} bytes",
)


def _guarded(base: type[Any], name: str) -> type[Any]:
    """``base`` (one of uvicorn's HTTP protocols) with a deadline for each request head. Built
    for both, as uvicorn picks httptools when it is installed and h11 otherwise."""

    def connection_made(self: Any, transport: asyncio.Transport) -> None:
        base.connection_made(self, transport)
        timeout = float(getattr(self.config, "read_timeout_s", 20.0))
        self.head_deadline = _HeadDeadline(self, timeout)
        self.head_deadline.arm()

    def data_received(self: Any, data: bytes) -> None:
        base.data_received(self, data)
        self.head_deadline.received(len(data))

    def on_response_complete(self: Any) -> None:
        self.head_deadline.arm()  # before: a pipelined request may start inside
        base.on_response_complete(self)
        self.head_deadline.received(0)

    def connection_lost(self: Any, exc: Exception | None) -> None:
        self.head_deadline.cancel()
        base.connection_lost(self, exc)

    methods = {
        "connection_made": connection_made,
        "data_received": data_received,
        "on_response_complete": on_response_complete,
        "connection_lost": connection_lost,
        "__module__": __name__,
        "__qualname__": name,
        "__doc__": f"uvicorn's {base.__name__} with a deadline for each request head.",
    }
    return type(name, (base,), methods)


# module attributes under their own names, so that worker processes can unpickle the config
GuardedH11Protocol = _guarded(H11Protocol, "GuardedH11Protocol")
GuardedHttpToolsProtocol = (
    _guarded(HttpToolsProtocol, "GuardedHttpToolsProtocol")
    if HttpToolsProtocol is not None
    else None
)


def serving_config(app: Any, settings: LimitSettings, **kwargs: Any) -> ServingConfig:
    """A uvicorn config with the slow-client limits of ``settings``; ``kwargs`` as uvicorn's."""
    return ServingConfig(
        app,
        read_timeout_s=settings.read_timeout_s,
        timeout_keep_alive=settings.keep_alive_s,
        http=GuardedHttpToolsProtocol or GuardedH11Protocol,
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        **kwargs,
    )


def run(config: ServingConfig) -> None:
    """What ``uvicorn.run`` does with our config: one server, or ``config.workers`` processes."""
    server = uvicorn.Server(config)
    if config.workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
        return
    server.run()
    if not server.started:
        sys.exit(3)  # uvicorn's STARTUP_FAILURE
