"""Issue 14, scale-out: one ``smartlic authority serve --workers 2`` on PostgreSQL, loaded from
many threads at once, keeps the rules that several processes on one database could break.

* a token limited to N uses admits exactly N of many simultaneous registrations;
* the pool counter equals the sum of the instances' usage after simultaneous authorizations
  that each move it;
* a usage report posted twice at once (new request nonces) is stored, and counted, once;
* simultaneous "run the due jobs" calls run each job once.

(bench/scaleout.py measures the throughput of the same server; test_multiprocess_registration.py
covers two separate processes on SQLite and PostgreSQL.) The background job runner is off
(``JOBS_INTERVAL_S=0``), so every job run is one the test asked for.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.services import Services, build_services
from smartlic.authority.services.scope import system
from smartlic.clock import SystemClock
from smartlic.crypto import Udi
from smartlic.domain.enums import Role
from smartlic.domain.products import make_tag
from smartlic.formats.signed import open_sealed
from smartlic.storage import make_engine
from tests.conftest import _empty
from tests.devices import PolicyDevice, TestDevice
from tests.e2e.test_multiprocess_registration import _free_port

# slow: two workers start in about 15 s on a quiet 2-core machine (a minute on a busy one)
pytestmark = [pytest.mark.e2e, pytest.mark.postgresql, pytest.mark.slow]

DOMAIN = "scaleout.example"
TAG = make_tag("scaleout")
ACTOR = system("test")
DEVICE = "/api/device/v1"
REPORTUSAGE = "/services/api/smart-accounts-and-licensing/v2/devices/reportusage"
THREADS = 12


@pytest.fixture
def server(pg_database_url: str, tmp_path: Path) -> Iterator[str]:
    """``serve --workers 2`` on the session's PostgreSQL database, its key directory made
    first (two workers racing to create one would each write their own CA)."""
    _empty(pg_database_url)
    AuthorityKeys.create(tmp_path / "keys", SystemClock().now())
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTLIC_")}
    env.update(
        SMARTLIC_AUTHORITY_DATABASE_URL=pg_database_url,
        SMARTLIC_AUTHORITY_KEY_DIR=str(tmp_path / "keys"),
        SMARTLIC_AUTHORITY_DATA_DIR=str(tmp_path / "data"),
        SMARTLIC_AUTHORITY_LOG_LEVEL="warning",
        SMARTLIC_AUTHORITY_JOBS_INTERVAL_S="0",
    )
    cmd = [sys.executable, "-m", "smartlic", "authority", "serve", "--host", "127.0.0.1",
           "--port", str(port), "--workers", "2"]  # fmt: skip
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, proc, log)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    with httpx.Client(base_url=url, timeout=2) as client:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if client.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    raise RuntimeError(f"authority not ready:\n{log.read_text(errors='replace')[-3000:]}")


def _at_once(url: str, calls: list[Callable[[httpx.Client], httpx.Response]]) -> list[Any]:
    """Run every call at once (a barrier releases them together after each has connected)."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[httpx.Client], httpx.Response]) -> httpx.Response:
        with httpx.Client(base_url=url, timeout=60) as client:
            client.get("/healthz")
            barrier.wait(timeout=60)
            return call(client)

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def _post(path: str, body: dict[str, Any], **kw: Any) -> Callable[[httpx.Client], Any]:
    return lambda c: c.post(path, json=body, **kw)


def _world(engine: Engine, keys: AuthorityKeys) -> Services:
    svc = build_services(engine, SystemClock(), keys)
    svc.accounts.create_smart_account(name="Out", domain=DOMAIN, scope=ACTOR)
    svc.accounts.create_virtual_account(DOMAIN, name="Pool", scope=ACTOR)
    svc.licenses.define_license(tag=TAG, name="scaleout", display_name="S", scope=ACTOR)
    svc.licenses.add_holding(DOMAIN, "Pool", tag=TAG, quantity=1000, scope=ACTOR)
    return svc


def test_two_workers_keep_the_rules_under_load(
    server: str, pg_database_url: str, tmp_path: Path
) -> None:
    engine = make_engine(pg_database_url)
    try:
        keys = AuthorityKeys.load(tmp_path / "keys")
        svc = _world(engine, keys)
        _token_limit(svc, server)
        _pool_counter(svc, keys, engine, server)
        _reports_once(svc, engine, server)
        _jobs_once(svc, engine, server)
    finally:
        engine.dispose()


def _token_limit(svc: Services, url: str) -> None:
    limited = svc.tokens.create_token(DOMAIN, "Pool", max_uses=3, scope=ACTOR).text
    devices = [TestDevice(Udi("C9300", f"TL{n:03d}"), SystemClock()) for n in range(THREADS)]
    answers = _at_once(url, [_post(f"{DEVICE}/register", d.register_request(limited))
                             for d in devices])  # fmt: skip
    codes = sorted(r.status_code for r in answers)
    assert codes == [200] * 3 + [403] * (THREADS - 3), [r.text for r in answers]


def _pool_counter(svc: Services, keys: AuthorityKeys, engine: Engine, url: str) -> None:
    token = svc.tokens.create_token(DOMAIN, "Pool", scope=ACTOR).text
    devices = [TestDevice(Udi("C9300", f"PC{n:03d}"), SystemClock()) for n in range(THREADS)]
    signer = keys.signer.certificate.public_key()
    with httpx.Client(base_url=url) as c:  # one by one: the race under test is the counter's
        for d in devices:
            answer = c.post(f"{DEVICE}/register", json=d.register_request(token)).json()
            d.accept_registration(open_sealed(answer, signer))  # type: ignore[arg-type]
    for round_ in (1, 2):  # each round moves every device's count, hence the shared counter
        answers = _at_once(url, [_post(f"{DEVICE}/authorize", d.authorize({TAG: round_ + n % 3}))
                                 for n, d in enumerate(devices)])  # fmt: skip
        assert {r.status_code for r in answers} == {200}, [r.text for r in answers]
    with engine.connect() as conn:
        counted = conn.execute(text("SELECT in_use FROM pool_counters")).scalar_one()
        summed = conn.execute(text("SELECT sum(count) FROM instance_usage")).scalar_one()
    assert counted == summed == sum(2 + n % 3 for n in range(THREADS))


def _reports_once(svc: Services, engine: Engine, url: str) -> None:
    token = svc.tokens.create_token(DOMAIN, "Pool", scope=ACTOR).text
    devices = [PolicyDevice(Udi("IR1101", f"RO{n:03d}"), SystemClock()) for n in range(4)]
    for d in devices:
        svc.trust.establish(d.trust_request(token))
    reports = [[d.report(TAG, 5), d.report(TAG, 7)] for d in devices]
    # three requests per device (fresh nonces, the same reports), all at once
    twice = [
        _post(REPORTUSAGE, d.body(*rs))
        for _ in range(3)
        for d, rs in zip(devices, reports, strict=True)
    ]
    answers = _at_once(url, twice)
    assert {r.status_code for r in answers} == {202}, [r.text for r in answers]
    with engine.connect() as conn:
        stored, distinct = conn.execute(
            text("SELECT count(*), count(DISTINCT (instance_id, report_id)) FROM rum_reports")
        ).one()
    assert stored == distinct == 2 * len(devices)


def _jobs_once(svc: Services, engine: Engine, url: str) -> None:
    admin = svc.api_keys.create_api_key(name="a", role=Role.ADMIN, smart_account=None, actor="t")
    auth = {"headers": {"Authorization": f"Bearer {admin.text}"}}
    answers = _at_once(url, [_post("/api/v1/jobs/actions/run-due", {}, **auth)] * 6)
    assert {r.status_code for r in answers} == {200}, [r.text for r in answers]
    ran = [run["name"] for r in answers for run in r.json()]
    with engine.connect() as conn:
        runs = dict(conn.execute(text("SELECT name, runs FROM jobs")).all())
    assert sorted(ran) == sorted(runs) and set(runs.values()) == {1}
