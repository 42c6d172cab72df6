"""``smartlic.web.routing``: a guarded router routes every path its routes can match exactly
as FastAPI does (under an include prefix too, 405 and 404 kept), and a serialised route
answers the JSON FastAPI would, with the OpenAPI document unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel

from smartlic.web.routing import GuardedRouter, SerialisedRoute
from tests.authority.api.conftest import serve_in_thread


class Inner(BaseModel):
    when: datetime
    name: str


class Out(BaseModel):
    total: int
    items: list[Inner]
    note: str | None = None


class Child(Out):
    secret: str = "never sent"


WHEN = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def _routes(router: APIRouter) -> None:
    @router.get("/things/{name}")
    def thing(name: str) -> Out:
        return Out(total=1, items=[Inner(when=WHEN, name=name)])

    @router.post("/things/{name}/made", status_code=201)
    def made(name: str) -> Out:
        return Out(total=0, items=[], note=f"made {name}")

    @router.get("/child")
    def child() -> Out:
        return Child(total=0, items=[])  # not the model itself: left to FastAPI (no secret)

    @router.get("/plain")
    def plain() -> dict[str, int]:
        return {"n": 1}


def _app(router_class: type[APIRouter], route_class: type | None) -> FastAPI:
    app = FastAPI()
    first = router_class(**({"route_class": route_class} if route_class else {}))
    _routes(first)
    other = router_class()

    @other.get("/other")
    def other_route() -> dict[str, str]:
        return {"other": "yes"}

    app.include_router(other)
    app.include_router(first, prefix="/v1")  # the guard must not assume the router's prefix
    return app


@pytest.fixture
def urls() -> Iterator[tuple[str, str]]:
    """The same routes served plainly (FastAPI's routers) and guarded and serialised."""
    servers = [
        serve_in_thread(_app(APIRouter, None)),
        serve_in_thread(_app(GuardedRouter, SerialisedRoute)),
    ]
    try:
        yield servers[0][2], servers[1][2]
    finally:
        for server, thread, _ in servers:
            server.should_exit = True
            thread.join(timeout=10)


CASES = [
    ("GET", "/v1/things/a%20b"),
    ("POST", "/v1/things/x/made"),
    ("GET", "/v1/child"),
    ("GET", "/v1/plain"),
    ("GET", "/other"),
    ("DELETE", "/v1/things/x"),  # 405: the path matches, the method does not
    ("GET", "/things/x"),  # 404: only under the include prefix
    ("GET", "/v1/nothing"),
    ("GET", "/v1/things/x/"),  # the trailing-slash redirect
    ("POST", "/v1/things/x/unmade"),  # the first literal part of a route, not its last
    ("POST", "/v1/things/made"),  # every literal part, but not where the route has them
]


def test_guarded_serialised_routes_answer_as_fastapi_does(urls: tuple[str, str]) -> None:
    plain, guarded = urls
    with (
        httpx.Client(base_url=plain, timeout=30) as a,
        httpx.Client(base_url=guarded, timeout=30) as b,
    ):
        for method, path in CASES:
            want, got = a.request(method, path), b.request(method, path)
            assert (got.status_code, got.content) == (want.status_code, want.content), path
            assert got.headers.get("content-type") == want.headers.get("content-type"), path
            where = [httpx.URL(r.headers.get("location", "")).path for r in (want, got)]
            assert where[0] == where[1], path
        assert b.get("/v1/things/n").json()["items"][0]["when"] == "2026-11-30T08:00:00Z"
        assert "secret" not in b.get("/v1/child").text
        assert b.post("/v1/things/n/made").status_code == 201
        assert b.get("/openapi.json").json() == a.get("/openapi.json").json()
