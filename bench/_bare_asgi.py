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
answers its envelope: the device call with nothing of the framework around it. With
``calls="cssm"`` the paths are ``bench/cssm.py``'s three: ``POST /as/token.oauth2`` (a form:
``services.api_clients.issue_token``), ``POST /licenses`` (``licenses.compliance_of`` of the
account ``/licenses?domain=D`` names) and ``GET /devices?domain=D`` (``instances.list_instances``,
a page of 100), each answered as the JSON of what the service returned (pydantic-core's
``to_json``, no model). ``tls=(cert, key)`` serves HTTPS as ``authority serve --tls`` does.

Usage::

    python bench/_bare_asgi.py PORT [DATABASE_URL KEY_DIR [device|cssm [CERT KEY]]]
    with BareAsgiServer(work / "bare") as server: ...        # in a benchmark, like AuthorityServer
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl

import pydantic_core
from _server import AuthorityServer
from anyio import to_thread

from smartlic.web.logs import log_config
from smartlic.web.serving import run, serving_config
from smartlic.web.settings import LimitSettings

ANSWER = b'{"status":"ok"}'
SERVICE: dict[str, Callable[[Any], Any]] = {}  # path -> device service call, when given
CSSM: dict[str, Callable[[bytes, dict[str, list[str]]], Any]] = {}  # path -> (body, query) call


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
    cssm = CSSM.get(scope["path"])
    if cssm is not None:
        query = parse_qs(scope["query_string"].decode())
        answer = pydantic_core.to_json(await to_thread.run_sync(cssm, answer, query))
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(answer))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


class BareAsgiServer(AuthorityServer):
    """This module's app in its own process, started and measured as ``AuthorityServer``."""

    def __init__(
        self,
        data_dir: Path,
        service: tuple[str, Path] | None = None,
        *,
        calls: str = "device",
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        super().__init__("unused", data_dir, data_dir)
        self.service, self.calls, self.tls = service, calls, tls
        if tls is not None:
            self.url = f"https://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        extra = [self.service[0], str(self.service[1]), self.calls] if self.service else []
        if self.tls is not None:
            extra += [str(self.tls[0]), str(self.tls[1])]
        return [sys.executable, str(Path(__file__)), str(self.port), *extra]

    def _wait_ready(self, deadline: float) -> None:
        if self.tls is None:
            super()._wait_ready(deadline)
            return
        import ssl

        import httpx

        assert self.proc is not None
        verify = ssl.create_default_context()
        verify.check_hostname = False
        verify.verify_mode = ssl.CERT_NONE  # readiness only; the clients verify the chain
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if httpx.get(f"{self.url}/healthz", verify=verify).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"bare ASGI server did not start:\n{self.log_path.read_text()}")


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


def cssm_calls(url: str, key_dir: str) -> None:
    """``bench/cssm.py``'s three service calls, as its in-process side makes them."""
    from smartlic.authority.keys import AuthorityKeys
    from smartlic.authority.services import build_services
    from smartlic.authority.services.scope import system
    from smartlic.clock import SystemClock
    from smartlic.storage import make_engine

    svc = build_services(make_engine(url), SystemClock(), AuthorityKeys.load(Path(key_dir)))
    p = system("bench")

    def token(body: bytes, query: dict[str, list[str]]) -> Any:
        form = dict(parse_qsl(body.decode("latin-1")))
        return svc.api_clients.issue_token(form["client_id"], form["client_secret"])

    def licenses(body: bytes, query: dict[str, list[str]]) -> Any:
        return svc.licenses.compliance_of(query["domain"][0], scope=p)

    def devices(body: bytes, query: dict[str, list[str]]) -> Any:
        return svc.instances.list_instances(query["domain"][0], "DEFAULT", limit=100, scope=p)

    CSSM.update({"/as/token.oauth2": token, "/licenses": licenses, "/devices": devices})


def main() -> None:
    port = int(sys.argv[1])
    if len(sys.argv) > 3:
        kind = sys.argv[4] if len(sys.argv) > 4 else "device"
        (cssm_calls if kind == "cssm" else device_service)(sys.argv[2], sys.argv[3])
    tls = sys.argv[5:7]
    config = serving_config(
        app,
        LimitSettings(),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        log_config=log_config("text"),
        proxy_headers=False,
        **({"ssl_certfile": tls[0], "ssl_keyfile": tls[1]} if tls else {}),
    )
    run(config)


if __name__ == "__main__":
    main()
