"""The physical floor of HTTP on this machine: an ASGI app with no framework (no routing, no
middleware, no validation, no thread pool), served by the authority's own uvicorn
configuration (``web.serving.serving_config``: httptools, uvloop, the head deadline; log level
warning, as ``_server.AuthorityServer`` runs the authority). A GET is answered with a small
JSON object; a POST's body is read in full and sent back (as large as the request, like a
device call's signed envelope). ``bench/http_tax.py`` measures the server's CPU per request
against it, with the same client.

Given a database and a key directory (``BareAsgiServer(..., service=(url, keys))``), a POST
to ``/api/device/v1/register`` or ``/authorize`` calls the authority's device service on
anyio's thread pool (as FastAPI runs a sync route; 2 threads, the SQLite default) and
answers its envelope: the device call with nothing of the framework around it.

Usage::

    python bench/_bare_asgi.py PORT [DATABASE_URL KEY_DIR]   # serves until terminated
    with BareAsgiServer(work / "bare") as server: ...        # in a benchmark, like AuthorityServer
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _server import AuthorityServer
from anyio import to_thread

from smartlic.web.logs import log_config
from smartlic.web.serving import run, serving_config
from smartlic.web.settings import LimitSettings

ANSWER = b'{"status":"ok"}'
SERVICE: dict[str, Callable[[Any], Any]] = {}  # path -> device service call, when given


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.startup":
                to_thread.current_default_thread_limiter().total_tokens = 2
            if message["type"] == "lifespan.shutdown":
                return
    chunks, more = [], True
    while more:  # the body in full, as any application reading JSON would
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    answer = b"".join(chunks) if scope["method"] == "POST" else ANSWER
    call = SERVICE.get(scope["path"])
    if call is not None:
        answer = json.dumps(await to_thread.run_sync(call, json.loads(answer))).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(answer))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


class BareAsgiServer(AuthorityServer):
    """This module's app in its own process, started and measured as ``AuthorityServer``."""

    def __init__(self, data_dir: Path, service: tuple[str, Path] | None = None) -> None:
        super().__init__("unused", data_dir, data_dir)
        self.service = service

    def command(self) -> list[str]:
        extra = [self.service[0], str(self.service[1])] if self.service else []
        return [sys.executable, str(Path(__file__)), str(self.port), *extra]


def device_service(url: str, key_dir: str) -> None:
    from smartlic.authority.keys import AuthorityKeys
    from smartlic.authority.services import build_services
    from smartlic.clock import SystemClock
    from smartlic.formats.device_v1 import API_PREFIX
    from smartlic.storage import make_engine

    clock = SystemClock()
    svc = build_services(make_engine(url), clock, AuthorityKeys.load(Path(key_dir)))
    SERVICE[f"{API_PREFIX}/register"] = svc.device.register
    SERVICE[f"{API_PREFIX}/authorize"] = svc.device.authorize


def main() -> None:
    port = int(sys.argv[1])
    if len(sys.argv) > 3:
        device_service(sys.argv[2], sys.argv[3])
    config = serving_config(
        app,
        LimitSettings(),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        log_config=log_config("text"),
        proxy_headers=False,
    )
    run(config)


if __name__ == "__main__":
    main()
