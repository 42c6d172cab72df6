"""The application shell: OpenAPI, /healthz, request ids, problem bodies, create_app from
settings alone."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from anyio import to_thread

from smartlic.authority.app import create_app
from smartlic.authority.settings import AuthoritySettings
from smartlic.clock import ManualClock
from smartlic.storage import upgrade
from smartlic.web.problems import PROBLEM_MEDIA_TYPE, problem
from tests.authority.api.conftest import LiveAuthority, serve_in_thread
from tests.authority.api.helpers import V1, ok


def test_openapi_describes_both_apis(live_authority: LiveAuthority) -> None:
    anonymous = live_authority.client(auth=False)
    spec = ok(anonymous.get("/openapi.json"))
    paths = spec["paths"]
    assert "/api/device/v1/authorize" in paths and "/api/v1/accounts/{domain}/devices" in paths
    schemas = spec["components"]["schemas"]
    assert {"RegisterRequest", "SignedEnvelope", "ProblemPublic", "HoldingCreate"} <= set(schemas)
    assert {"HTTPBearer", "APIKeyHeader"} <= set(spec["components"]["securitySchemes"])
    docs = anonymous.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_healthz_and_request_ids(live_authority: LiveAuthority) -> None:
    anonymous = live_authority.client(auth=False)
    reply = anonymous.get("/healthz")
    assert ok(reply)["status"] == "ok"
    assert ok(reply)["now"] == "2026-01-01T12:00:00Z"  # the injected clock
    assert len(reply.headers["x-request-id"]) == 32
    mine = anonymous.get(f"{V1}/accounts", headers={"X-Request-ID": "trace-42"})
    assert mine.headers["x-request-id"] == "trace-42"
    assert mine.json()["request_id"] == "trace-42"
    hostile = anonymous.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert hostile.headers["x-request-id"] != "bad id\twith spaces"


def test_the_problem_builder_keeps_its_keys() -> None:
    body = problem(status=409, code="conflict", title="Conflict", detail="d", pointer="/x")
    assert body == {
        "type": "urn:smartlic:problem:conflict",
        "title": "Conflict",
        "status": 409,
        "detail": "d",
        "code": "conflict",
        "pointer": "/x",
    }
    assert PROBLEM_MEDIA_TYPE == "application/problem+json"


def test_create_app_builds_everything_from_settings(tmp_path: Path) -> None:
    settings = AuthoritySettings(data_dir=tmp_path / "authority")
    settings.data_dir.mkdir(parents=True)
    upgrade(settings.database)
    app = create_app(settings, clock=ManualClock())
    assert (settings.keys_path / "ca.pem").exists()
    assert (settings.keys_path / "ca.key").stat().st_mode & 0o777 == 0o600
    server, thread, url = serve_in_thread(app)
    try:
        with httpx.Client(base_url=url) as client:
            reply = client.get(f"{V1}/accounts", headers={"X-API-Key": "slk_nothing"})
            assert reply.status_code == 401
            assert reply.headers["content-type"] == PROBLEM_MEDIA_TYPE
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_an_unexpected_failure_is_a_500_problem_without_internals(tmp_path: Path) -> None:
    # A database without the schema: every authenticated request fails inside SQLAlchemy.
    settings = AuthoritySettings(data_dir=tmp_path / "authority")
    settings.data_dir.mkdir(parents=True)
    app = create_app(settings, clock=ManualClock())
    server, thread, url = serve_in_thread(app)
    try:
        with httpx.Client(base_url=url) as client:
            reply = client.get(f"{V1}/accounts", headers={"X-API-Key": "slk_anything"})
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert reply.status_code == 500
    assert reply.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body = reply.json()
    assert body["code"] == "internal" and body["request_id"] == reply.headers["x-request-id"]
    assert "sqlite" not in reply.text.lower() and "table" not in reply.text.lower()


def test_api_docs_work_without_internet(live_authority: LiveAuthority) -> None:
    """Air-gapped sites: /docs and /redoc load their assets from the authority itself."""
    anonymous = live_authority.client(auth=False)
    for page in ("/docs", "/redoc"):
        html = anonymous.get(page).text
        assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', html)
        assert assets and all(a.startswith("/") for a in assets), assets
        for asset in assets:
            assert anonymous.get(asset).status_code == 200


def test_oversized_json_bodies_are_refused_before_reading(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.sqlite3'}"
    upgrade(url)
    settings = AuthoritySettings(data_dir=tmp_path, database_url=url, max_body_bytes=2048)
    app = create_app(settings, clock=ManualClock())
    server, thread, base = serve_in_thread(app)
    try:
        with httpx.Client(base_url=base) as client:
            big = {"data": {"reports": ["x" * 4096]}}
            declared = client.post("/api/device/v1/authorize", json=big)
            assert declared.status_code == 413
            assert declared.json()["code"] == "payload-too-large"
            chunks = (b"x" * 1024 for _ in range(4))  # no Content-Length: chunked
            streamed = client.post(
                "/api/device/v1/authorize",
                content=chunks,
                headers={"content-type": "application/json"},
            )
            assert streamed.status_code == 413
            small = client.post("/api/device/v1/authorize", json={"payload": 1})
            assert small.status_code == 422
    finally:
        server.should_exit = True
        thread.join()


def _server_threads(server: Any) -> int:
    """The thread-pool size the served app's event loop runs sync routes with."""

    async def tokens() -> int:
        return int(to_thread.current_default_thread_limiter().total_tokens)

    loop = server.servers[0].get_loop()
    return asyncio.run_coroutine_threadsafe(tokens(), loop).result(timeout=10)


def test_the_thread_pool_is_sized_by_the_settings(tmp_path: Path) -> None:
    """Unset, a SQLite server works on 2 requests at once (not anyio's 40: the threads only
    pass the interpreter's lock around); REQUEST_THREADS sets it; requests beyond it wait
    their turn and are all answered."""
    for threads, expected in ((None, 2), (3, 3)):
        settings = AuthoritySettings(data_dir=tmp_path / f"a{threads}", request_threads=threads)
        settings.data_dir.mkdir(parents=True)
        upgrade(settings.database)
        server, thread, url = serve_in_thread(create_app(settings, clock=ManualClock()))
        try:
            assert _server_threads(server) == expected
            with ThreadPoolExecutor(8) as pool, httpx.Client(base_url=url, timeout=30) as c:
                # /readyz is a sync route (the pool); /healthz runs on the event loop
                codes = list(pool.map(lambda _: c.get("/readyz").status_code, range(32)))
            assert codes == [200] * 32
        finally:
            server.should_exit = True
            thread.join(timeout=10)
    postgres = AuthoritySettings(data_dir=tmp_path, database_url="postgresql://h/db")
    assert postgres.threads == 4
