"""The physical floor of HTTP on this machine: an ASGI app with no framework (no routing, no
middleware, no validation, no thread pool), served by the authority's own uvicorn
configuration (``web.serving.serving_config``: httptools, uvloop, the head deadline; log level
warning, as ``_server.AuthorityServer`` runs the authority). A GET is answered with a small
JSON object; a POST's body is read in full and sent back (as large as the request, like a
device call's signed envelope). ``bench/http_tax.py`` measures the server's CPU per request
against it, with the same client.

Usage::

    python bench/_bare_asgi.py PORT                     # serves until terminated
    with BareAsgiServer(work / "bare") as server: ...   # in a benchmark, like AuthorityServer
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from _server import AuthorityServer

from smartlic.web.logs import log_config
from smartlic.web.serving import run, serving_config
from smartlic.web.settings import LimitSettings

ANSWER = b'{"status":"ok"}'


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    chunks, more = [], True
    while more:  # the body in full, as any application reading JSON would
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    answer = b"".join(chunks) if scope["method"] == "POST" else ANSWER
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(answer))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


class BareAsgiServer(AuthorityServer):
    """This module's app in its own process, started and measured as ``AuthorityServer``."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__("unused", data_dir, data_dir)

    def command(self) -> list[str]:
        return [sys.executable, str(Path(__file__)), str(self.port)]


def main() -> None:
    port = int(sys.argv[1])
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
