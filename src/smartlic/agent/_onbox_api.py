"""The on-box API a collector pulls from (collector-initiated mode, domain-notes 2.8).

HTTP basic auth (compared in constant time), JSON, base ``/smartlic-service``:

* ``GET /smartlic-service/all-reports`` -> ``{"udi": {"pid", "sn"}, "usage": [<RUMReport
  envelopes not yet acknowledged>]}`` (open reports are closed first);
* ``POST /smartlic-service/import`` (body: the ACK, policy or authorization code file bytes)
  -> ``{"status": "OK"}``, or ``{"status": "FAILED", "message"}`` with HTTP 400.

Served by the standard library's ``ThreadingHTTPServer`` in a daemon thread: the agent must
not need an ASGI server, and the traffic is one collector every few hours.

Usage::

    host, port = manager.start_api("127.0.0.1", 0, "collector", "secret")
    ...
    manager.stop_api()
"""

from __future__ import annotations

import base64
import hmac
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from smartlic.errors import SmartlicError
from smartlic.formats.bounds import decimal

__all__ = ["OnBoxApi"]

BASE = "/smartlic-service"
MAX_BODY = 16 * 1024 * 1024


class OnBoxApi:
    def __init__(
        self,
        collect: Callable[[], dict[str, Any]],
        import_data: Callable[[bytes], str],
        username: str,
        password: str,
    ) -> None:
        self.collect, self.import_data = collect, import_data
        self._expected = base64.b64encode(f"{username}:{password}".encode()).decode()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self, host: str, port: int) -> tuple[str, int]:
        self._server = ThreadingHTTPServer((host, port), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="smartlic-onbox-api", daemon=True
        )
        self._thread.start()
        address = self._server.server_address
        return str(address[0]), int(address[1])

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def authorized(self, header: str | None) -> bool:
        given = header[6:] if header and header.startswith("Basic ") else ""
        return hmac.compare_digest(given.encode(), self._expected.encode())


def _handler(api: OnBoxApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "smartlic-agent"

        def log_message(self, format: str, *args: Any) -> None:
            return None  # no stderr chatter; the agent's event log records what matters

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="smartlic"')
            self.end_headers()
            self.wfile.write(data)

        def _allowed(self) -> bool:
            if api.authorized(self.headers.get("Authorization")):
                return True
            self._reply(401, {"status": "FAILED", "message": "authentication required"})
            return False

        def do_GET(self) -> None:
            if not self._allowed():
                return
            if self.path.rstrip("/") != f"{BASE}/all-reports":
                self._reply(404, {"status": "FAILED", "message": "not found"})
                return
            self._call(api.collect)

        def do_POST(self) -> None:
            if not self._allowed():
                return
            if self.path.rstrip("/") != f"{BASE}/import":
                self._reply(404, {"status": "FAILED", "message": "not found"})
                return
            # ASCII digits only (bounds.decimal): int() raised on "abc" or a superscript (the
            # connection dropped with no answer) and read "1_0" as ten
            length = decimal(self.headers.get("Content-Length") or "", max_digits=9) or 0
            if not 0 < length <= MAX_BODY:
                self._reply(400, {"status": "FAILED", "message": "body required (<= 16 MiB)"})
                return
            body = self.rfile.read(length)
            self._call(lambda: {"status": "OK", "message": api.import_data(body)})

        def _call(self, fn: Callable[[], dict[str, Any]]) -> None:
            try:
                self._reply(200, fn())
            except SmartlicError as exc:
                self._reply(400, {"status": "FAILED", "code": exc.code, "message": exc.detail})

    return Handler
