"""The HTTP layer's tax per device-protocol call: the server's CPU per request minus the same
call in-process, in one run (issue 14). One client thread, so the server's CPU is one
request at a time; plus Python function calls per request (cProfile, deterministic): the
service called alone, and the ASGI app called in-process on one event loop with sync routes
run inline (cProfile follows one thread), the difference being the framework's share.

Beside them, the physical floor of HTTP itself: a bare ASGI app (``_bare_asgi.py``: no
framework, no middleware, no thread pool) under the same uvicorn configuration, measured with
the same client in the same runs: a GET (against the authority's ``GET /healthz``) and a POST
of a registration's body, echoed back. Server CPU beyond that floor is the framework's and
ours; the floor is uvicorn's, httptools', uvloop's and the kernel's. And the device calls
themselves through that bare app (``bare+service``: the service on anyio's thread pool, as
FastAPI runs a sync route): what registration and authorization cost over HTTP with no
framework and no middleware at all.

Usage::

    .venv/bin/python bench/http_tax.py                  # 200 registrations / authorizations
    .venv/bin/python bench/http_tax.py --calls 400 --reports 50
    # another commit's code, the same minute:
    git archive <commit> src | tar -x -C /tmp/snap
    PYTHONPATH=/tmp/snap/src .venv/bin/python bench/http_tax.py
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import os
import pstats
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import fastapi.dependencies.utils
import fastapi.routing
import httpx
from _bare_asgi import BareAsgiServer
from _devices import make_devices
from _ingest_helpers import body, sign_batches
from _server import AuthorityServer
from ingest import Config, setup, trust_fleet

from authority import DEVICE, accept_all, authorize_items, register_items, setup_world
from smartlic.authority.app import create_app
from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.settings import AuthoritySettings
from smartlic.clock import SystemClock
from smartlic.formats.device_api import VENDOR_PREFIX
from smartlic.storage import make_engine, upgrade

REPORT = f"{VENDOR_PREFIX}/v2/devices/reportusage"
LOOP = asyncio.new_event_loop()  # one loop for every in-process ASGI call, as a server has


def asgi_post(app: Any, path: str, payload: Any) -> int:
    """One POST through the ASGI app, in-process (no socket, no uvicorn)."""
    data = json.dumps(payload).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 5000),
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(data)).encode()),
        ],
    }
    status = [0]

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": data, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status[0] = message["status"]

    LOOP.run_until_complete(app(scope, receive, send))
    assert status[0] in (200, 202), status[0]
    return status[0]


async def _inline(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


@contextlib.contextmanager
def no_thread_hop() -> Iterator[None]:
    """Sync routes and dependencies run on the calling thread, so cProfile (which follows one
    thread) counts the route's own work too; only the hop itself is not counted."""
    saved = fastapi.routing.run_in_threadpool, fastapi.dependencies.utils.run_in_threadpool
    fastapi.routing.run_in_threadpool = _inline  # type: ignore[assignment]
    fastapi.dependencies.utils.run_in_threadpool = _inline  # type: ignore[assignment]
    try:
        yield
    finally:
        fastapi.routing.run_in_threadpool, fastapi.dependencies.utils.run_in_threadpool = saved


def calls_of(fn: Callable[[Any], Any], items: Iterable[Any], warm: int = 5) -> float:
    """Python calls per item, after ``warm`` items untimed (lazy first-call set-ups)."""
    items = list(items)
    with no_thread_hop():
        for item in items[:warm]:
            fn(item)
        prof = cProfile.Profile()
        prof.enable()
        for item in items[warm:]:
            fn(item)
        prof.disable()
    items = items[warm:]
    if os.environ.get("HTTP_TAX_PROFILE"):
        pstats.Stats(prof).sort_stats("cumulative").print_stats(60)
    return pstats.Stats(prof).total_calls / len(items)  # type: ignore[attr-defined]


def cpu_of(fn: Callable[[Any], Any], items: Iterable[Any], cpu: Callable[[], float]) -> float:
    items = list(items)
    start = cpu()
    for item in items:
        fn(item)
    return 1000 * (cpu() - start) / len(items)


def device_phase(args: argparse.Namespace, work: Path) -> None:
    url = f"sqlite:///{work}/device.sqlite3"
    upgrade(url)
    keys = AuthorityKeys.create(work / "keys", SystemClock().now())
    engine = make_engine(url)
    world = setup_world(engine, keys, 2, url)
    svc = world.services
    n = args.calls
    rows: dict[str, list[float]] = {}
    floor: dict[str, list[float]] = {}
    with (
        AuthorityServer(url, work / "keys", work / "server") as server,
        BareAsgiServer(work / "bare") as bare,
        BareAsgiServer(work / "bare-svc", service=(url, work / "keys")) as bare_svc,
    ):
        client = httpx.Client(base_url=server.url, timeout=60)
        bare_client = httpx.Client(base_url=bare.url, timeout=60)
        svc_client = httpx.Client(base_url=bare_svc.url, timeout=60)

        def http(path: str, via: httpx.Client = client) -> Callable[[Any], Any]:
            def post(item: Any) -> None:
                device, request = item if isinstance(item, tuple) else (None, item)
                r = via.post(path, json=request)
                assert r.status_code == 200, r.text
                if device is not None:
                    device.envelope = r.json()

            return post

        def inproc_reg(item: Any) -> None:
            device, request = item
            device.envelope = svc.device.register(request)

        def get(c: httpx.Client) -> Callable[[Any], Any]:
            return lambda _: c.get("/healthz").raise_for_status()

        def bare_post(item: Any) -> None:
            bare_client.post("/register", json=item[1]).raise_for_status()

        for _ in range(args.runs):
            warm = make_devices(f"W{time.monotonic_ns()}-", 20)
            cpu_of(http(f"{DEVICE}/register"), register_items(world, warm), server.cpu_seconds)
            cpu_of(bare_post, register_items(world, warm), bare.cpu_seconds)
            for key, c, cpu in (
                ("bare GET", bare_client, bare.cpu_seconds),
                ("healthz", client, server.cpu_seconds),
            ):
                floor.setdefault(key, []).append(cpu_of(get(c), range(n), cpu))
            bodies = register_items(world, make_devices(f"F{time.monotonic_ns()}-", n))
            floor.setdefault("bare POST", []).append(cpu_of(bare_post, bodies, bare.cpu_seconds))
            tag = f"R{time.monotonic_ns()}-"
            a, b = make_devices(tag + "a", n), make_devices(tag + "b", n)
            reg_in = cpu_of(inproc_reg, register_items(world, a), time.process_time)
            reg_http = cpu_of(
                http(f"{DEVICE}/register"), register_items(world, b), server.cpu_seconds
            )
            auth_in = cpu_of(
                svc.device.authorize, authorize_items(world, accept_all(a), n), time.process_time
            )
            auth_http = cpu_of(
                http(f"{DEVICE}/authorize"),
                authorize_items(world, accept_all(b), n),
                server.cpu_seconds,
            )
            for k, v in (("register", (reg_in, reg_http)), ("authorize", (auth_in, auth_http))):
                rows.setdefault(k + " in", []).append(v[0])
                rows.setdefault(k + " http", []).append(v[1])
            e = make_devices(tag + "e", n)
            floor.setdefault("bare+service register", []).append(
                cpu_of(
                    http(f"{DEVICE}/register", svc_client),
                    register_items(world, e),
                    bare_svc.cpu_seconds,
                )
            )
            floor.setdefault("bare+service authorize", []).append(
                cpu_of(
                    http(f"{DEVICE}/authorize", svc_client),
                    authorize_items(world, accept_all(e), n),
                    bare_svc.cpu_seconds,
                )
            )
        for c in (client, bare_client, svc_client):
            c.close()
    app = create_app(AuthoritySettings(data_dir=work / "app"), clock=SystemClock(), services=svc)
    m = max(20, n // 5)
    c = make_devices(f"P{time.monotonic_ns()}-", m)
    d = make_devices(f"Q{time.monotonic_ns()}-", m)
    calls = {
        "register in": calls_of(lambda it: svc.device.register(it[1]), register_items(world, c)),
        "register http": calls_of(
            lambda it: asgi_post(app, f"{DEVICE}/register", it[1]), register_items(world, d)
        ),
    }
    # devices registered for real (in-process, untimed) to profile their authorizations
    e = make_devices(f"S{time.monotonic_ns()}-", m)
    for x, (_, req) in zip(e, register_items(world, e), strict=True):
        x.envelope = svc.device.register(req)
    ok = accept_all(e)
    calls["authorize in"] = calls_of(svc.device.authorize, authorize_items(world, ok, m))
    calls["authorize http"] = calls_of(
        lambda it: asgi_post(app, f"{DEVICE}/authorize", it), authorize_items(world, ok, m)
    )
    engine.dispose()
    report("device protocol", rows, calls)
    report_floor(floor, rows)


def ingest_phase(args: argparse.Namespace, work: Path) -> None:
    url = f"sqlite:///{work}/ingest.sqlite3"
    upgrade(url)
    keys = AuthorityKeys.create(work / "ikeys", SystemClock().now())
    engine = make_engine(url)
    cfg = Config(devices=args.devices, reports=args.reports, threads=1, tags=2, rounds=1)
    svc, tags, token = setup(engine, keys, cfg)
    fleet = trust_fleet(svc, token, tags, cfg.devices)
    rows: dict[str, list[float]] = {}
    with AuthorityServer(url, work / "ikeys", work / "iserver") as server:
        client = httpx.Client(base_url=server.url, timeout=60)

        def post(b: Any) -> None:
            r = client.post(REPORT, json=b)
            assert r.status_code == 202, r.text

        def inproc(b: Any) -> None:
            assert svc.usage.report_usage(b)["status"] == "OK_POLL"

        for _ in range(args.runs):
            bodies = [body(b) for b in sign_batches(fleet, tags, cfg.reports)]
            rows.setdefault("reportusage in", []).append(cpu_of(inproc, bodies, time.process_time))
            bodies = [body(b) for b in sign_batches(fleet, tags, cfg.reports)]
            rows.setdefault("reportusage http", []).append(cpu_of(post, bodies, server.cpu_seconds))
        client.close()
    app = create_app(AuthoritySettings(data_dir=work / "iapp"), clock=SystemClock(), services=svc)
    calls = {
        "reportusage in": calls_of(
            svc.usage.report_usage, [body(b) for b in sign_batches(fleet, tags, cfg.reports)]
        ),
        "reportusage http": calls_of(
            lambda b: asgi_post(app, REPORT, b),
            [body(b) for b in sign_batches(fleet, tags, cfg.reports)],
        ),
    }
    engine.dispose()
    report(f"reportusage of {cfg.reports} reports", rows, calls)


def report(title: str, rows: dict[str, list[float]], calls: dict[str, float]) -> None:
    print(f"{title} (load {os.getloadavg()[0]:.2f}):")
    kinds = sorted({k.rsplit(" ", 1)[0] for k in rows})
    for k in kinds:
        i, h = min(rows[k + " in"]), min(rows[k + " http"])
        ci, ch = calls[k + " in"], calls[k + " http"]
        print(
            f"  {k}: in-process {i:.3f} ms, server {h:.3f} ms, HTTP tax {h - i:.3f} ms CPU"
            f" (runs in {[round(x, 3) for x in rows[k + ' in']]},"
            f" http {[round(x, 3) for x in rows[k + ' http']]});"
            f" Python calls {ci:.0f} in the service, {ch:.0f} through the app, tax {ch - ci:.0f}"
        )


def report_floor(floor: dict[str, list[float]], rows: dict[str, list[float]]) -> None:
    """The bare-ASGI floor of HTTP beside the authority's server CPU (minimum of the runs)."""
    best = {k: min(v) for k, v in floor.items()}
    runs = "; ".join(f"{k} {[round(x, 3) for x in v]}" for k, v in floor.items())
    print(
        f"HTTP floor (bare ASGI app, same uvicorn config and client): GET {best['bare GET']:.3f}"
        f" ms, POST of a registration's body {best['bare POST']:.3f} ms server CPU per request;"
        f" the authority's GET /healthz {best['healthz']:.3f} ms (runs: {runs})"
    )
    for k in ("register", "authorize"):
        h, i, b = min(rows[k + " http"]), min(rows[k + " in"]), best[f"bare+service {k}"]
        print(
            f"  {k}: the authority's server {h:.3f} ms; the same service under the bare app"
            f" {b:.3f} ms (in-process {i:.3f} + {b - i:.3f} of HTTP and the thread hop); the"
            f" framework and our middlewares {h - b:.3f} ms"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--devices", type=int, default=40, help="reportusage requests per run")
    p.add_argument("--reports", type=int, default=50, help="reports per reportusage request")
    p.add_argument("--only", choices=["device", "ingest"])
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="smartlic-http-tax-"))
    print(f"load average {os.getloadavg()}")
    if args.only != "ingest":
        device_phase(args, work)
    if args.only != "device":
        ingest_phase(args, work)


if __name__ == "__main__":
    main()
