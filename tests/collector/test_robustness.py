"""Bad input and bad weather: unknown devices with Validate Device, forged and altered reports,
an authority that is down (nothing lost, FAILED alert, forwarded once it is back), a collector
restarted mid-transfer, the store's migrations (own version table, no drift)."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import inspect

from smartlic.collector.runner import Backoff
from smartlic.collector.services import _base
from smartlic.collector.store import VERSION_TABLE, check, open_store
from smartlic.crypto import generate_key
from smartlic.formats.rum import read_report as parse
from smartlic.formats.rum import sign_report
from smartlic.formats.signed import open_report
from smartlic.storage import upgrade
from tests.authority.api.helpers import TAG, pool_line, problem
from tests.collector.conftest import PI, Collector, World, start_collector, stop_collector
from tests.conftest import _admin


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_validate_device_refuses_unknown_devices(world: World, collector: Collector) -> None:
    known = world.device("KNOWN")
    collector.report(known, known.report(TAG, 1))
    collector.prefs(validate_device=True)
    stranger = world.device("STRANGER")
    url = f"{PI}/v2/devices/reportusage"
    body = problem(collector.pi.post(url, json=stranger.body(stranger.report(TAG, 1))), 403,
                   "unknown-device")  # fmt: skip
    assert "STRANGER" in body["detail"]
    collector.report(known, known.report(TAG, 2))  # a known device still reports
    assert collector.services.status.totals().devices == 1


def test_altered_or_forged_reports_are_refused(world: World, collector: Collector) -> None:
    dev = world.device("SIG1")
    url = f"{PI}/v2/devices/reportusage"
    altered = dev.report(TAG, 1)
    altered["payload"] = altered["payload"].replace('"value":"1"', '"value":"9"')
    problem(collector.pi.post(url, json=dev.body(altered)), 401, "bad-signature")
    collector.report(dev, dev.report(TAG, 1))
    collector.services.forwarder.sync()  # the ACK carries the trust code: the key is now pinned
    impostor = sign_report(parse(dev.report(TAG, 5)), generate_key())
    problem(collector.pi.post(url, json=dev.body(impostor)), 401, "bad-signature")
    assert collector.services.status.totals().reports == 1


def test_reports_are_forwarded_byte_for_byte(world: World, collector: Collector) -> None:
    dev = world.device("BYTES")
    report = dev.report(TAG, 2)
    collector.report(dev, report)
    with collector.services.status.transaction() as s:
        from smartlic.collector.models import Report

        stored = json.loads(s.query(Report).one().envelope)
    assert stored == report
    open_report(stored, dev.key.public_key())


def test_authority_down_nothing_lost_then_forwarded(world: World, collector: Collector) -> None:
    good_url = world.live.url
    collector.prefs(authority_url=f"http://127.0.0.1:{free_port()}")
    dev = world.device("DOWN1")
    answer = collector.report(dev, dev.report(TAG, 3))
    problem(collector.api.post("/api/v1/actions/sync"), 503, "unavailable")
    [status] = collector.services.status.devices()
    assert status.alerts[0].startswith("FAILED Usage report upload to CSSM: authority unreachable")
    assert collector.poll(answer)["status"] == "OK_POLL"
    collector.prefs(authority_url=good_url)
    assert collector.services.forwarder.sync().uploaded == 1
    assert collector.poll(answer)["status"] == "COMPLETE"
    assert pool_line(world.api, "Prod")["in_use"] == 3


def test_restart_keeps_everything_and_resends_unrecorded_batch(
    world: World, collector: Collector, tmp_path: Path
) -> None:
    dev = world.device("RST1")
    answer = collector.report(dev, dev.report(TAG, 2))
    collector.services.forwarder.sync()
    # As if the collector died after the authority answered but before it recorded the batch:
    with collector.services.status.transaction() as s:
        from sqlalchemy import delete, update

        from smartlic.collector.models import Delivery, Report, UpstreamTask

        s.execute(update(Report).values(uploaded_at=None, acked_at=None))
        s.execute(delete(UpstreamTask))
        s.execute(delete(Delivery))
    stop_collector(collector)
    again = start_collector(tmp_path, world.live.clock)
    try:
        assert again.services.forwarder.sync().uploaded == 1  # sent again ...
        assert pool_line(world.api, "Prod")["in_use"] == 2  # ... counted once
        assert again.poll(answer)["status"] == "COMPLETE"
    finally:
        stop_collector(again)


def test_backoff_doubles_up_to_the_maximum() -> None:
    b = Backoff(30, 1, 10)
    assert [b.failure() for _ in range(5)] == [1, 2, 4, 8, 10]
    assert b.success() == 30 and b.failure() == 1


def test_store_migrations_have_their_own_version_table_and_no_drift(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    engine = open_store(url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert VERSION_TABLE in tables and "alembic_version" not in tables
    check(url)


@pytest.mark.postgresql
def test_store_shares_a_postgresql_database_with_the_authority(pg_server_url: str) -> None:
    name = f"smartlic_collector_{os.getpid()}"
    _admin(
        pg_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'
    )
    url = pg_server_url.rsplit("/", 1)[0] + "/" + name
    try:
        upgrade(url)  # the authority's schema first, then the collector's beside it
        engine = open_store(url)
        tables = set(inspect(engine).get_table_names())
        engine.dispose()
        assert {"alembic_version", VERSION_TABLE, "devices", "reports", "smart_accounts"} <= tables
        check(url)
    finally:
        _admin(pg_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_hello_updates_last_contact(world: World, collector: Collector) -> None:
    dev = world.device("HELLO")
    collector.report(dev, dev.report(TAG, 1))
    header = json.dumps({"udi_pid": dev.udi.pid, "udi_serial_number": "HELLO"})
    answer = collector.pi.post(
        f"{PI}/v1/hello", json={}, headers={"X-CSW-REQUESTING-SYSTEM": header}
    )
    assert answer.json() == {"status": "OK", "known": True}
    assert _base.FROM_DEVICE in collector.services.status.devices()[0].alerts


def test_a_bad_api_key_fails_clearly_and_keeps_everything(
    world: World, collector: Collector
) -> None:
    collector.prefs(api_key="slk_not-a-key")
    dev = world.device("KEY1")
    answer = collector.report(dev, dev.report(TAG, 1))
    body = problem(collector.api.post("/api/v1/actions/sync"), 401, "unauthenticated")
    assert body["detail"]
    [status] = collector.services.status.devices()
    assert status.alerts[0].startswith("FAILED Usage report upload to CSSM: ")
    assert collector.services.status.totals().not_uploaded == 1
    collector.prefs(api_key=world.collector_key)
    collector.services.forwarder.sync()
    assert collector.poll(answer)["status"] == "COMPLETE"


def test_an_unknown_virtual_account_is_retried_not_dropped(
    world: World, collector: Collector
) -> None:
    dev, other = world.device("VA1"), world.device("VA2")
    answer = collector.report(dev, dev.report(TAG, 1), path=f"{PI}/Nope-1")
    fine = collector.report(other, other.report(TAG, 2))  # queued behind it, in Prod
    problem(collector.api.post("/api/v1/actions/sync"), 404, "not-found")
    assert collector.services.status.totals().not_uploaded == 1
    assert collector.poll(answer, path=f"{PI}/Nope-1")["status"] == "OK_POLL"
    assert collector.poll(fine)["status"] == "COMPLETE"  # not held up by the other account


def test_validate_device_accepts_devices_known_to_the_account(
    world: World, collector: Collector
) -> None:
    from tests.authority.api.helpers import create_token, ok

    collector.prefs(validate_device=True)
    at_authority = world.device("ACCT1")  # trusted directly at the authority, new to us
    token = create_token(world.api, "Prod")["text"]
    anon = world.live.client(auth=False)
    ok(anon.post("/api/device/v1/trust", json=at_authority.trust_request(token)))
    collector.report(at_authority, at_authority.report(TAG, 1))
    added = world.device("ADDED1")  # added by a person
    ok(collector.api.post("/api/v1/devices", json={"pid": added.udi.pid, "sn": "ADDED1"}), 201)
    collector.report(added, added.report(TAG, 1))
    stranger = world.device("NOBODY")
    url = f"{PI}/v2/devices/reportusage"
    problem(collector.pi.post(url, json=stranger.body(stranger.report(TAG, 1))), 403,
            "unknown-device")  # fmt: skip
    collector.prefs(connectivity=False)  # the authority cannot vouch any more
    other = world.device("ACCT2")
    ok(anon.post("/api/device/v1/trust", json=other.trust_request(token)))
    problem(collector.pi.post(url, json=other.body(other.report(TAG, 1))), 403, "unknown-device")


def test_a_slow_authority_times_out_and_nothing_is_lost(world: World, tmp_path: Path) -> None:
    import threading as th

    from fastapi import FastAPI

    from tests.authority.api.conftest import serve_in_thread

    release = th.Event()
    slow = FastAPI()

    @slow.post("/services/api/smart-accounts-and-licensing/v2/devices/reportusage")
    def stuck() -> dict[str, str]:
        release.wait(10)
        return {"status": "late"}

    server, thread, url = serve_in_thread(slow)
    c = start_collector(tmp_path, world.live.clock, name="slow", http_timeout_s=0.3)
    try:
        c.prefs(connectivity=True, authority_url=url, api_key=world.collector_key,
                smart_account="acme.example", virtual_account="Prod")  # fmt: skip
        dev = world.device("SLOW1")
        answer = c.report(dev, dev.report(TAG, 2))
        problem(c.api.post("/api/v1/actions/sync"), 503, "unavailable")
        assert "ReadTimeout" in c.services.status.devices()[0].alerts[0]
        release.set()
        c.prefs(authority_url=world.live.url)
        c.services.forwarder.settings.http_timeout_s = 30  # a loaded test machine is slow too
        c.services.forwarder.sync()
        assert c.poll(answer)["status"] == "COMPLETE"
        assert pool_line(world.api, "Prod")["in_use"] == 2
    finally:
        release.set()
        stop_collector(c)
        server.should_exit = True
        thread.join(timeout=10)


def _sent(client: httpx.Client, url: str, body: Any) -> httpx.Response:
    """``body`` as ``json.dumps`` writes it: a lone surrogate travels as ``\\ud800``."""
    return client.post(url, content=json.dumps(body), headers={"Content-Type": "application/json"})


def test_lone_surrogates_in_signed_requests_are_refused(world: World, collector: Collector) -> None:
    """A report whose payload held a lone surrogate (valid JSON: ``"\\ud800"``) answered 500
    (its signature check encoded it to UTF-8), and so did a trust request holding one anywhere
    (relayed as it came, the collector's own request to the authority could not encode it)."""
    dev = world.device("SUR1")
    report = dev.report(TAG, 1)
    report["payload"] = report["payload"][:-1] + '\ud800"'
    url = f"{PI}/v2/devices/reportusage"
    assert problem(_sent(collector.pi, url, dev.body(report)), 422, "invalid-input")["pointer"] == (
        "/payload"
    )
    for field in ("alg", "key_id", "value"):
        trust = dev.trust_request("token")
        trust["signature"][field] = "\ud800"
        problem(_sent(collector.pi, f"{PI}/v1/trust", trust), 422, "invalid-input")
    assert collector.services.status.totals().reports == 0
    collector.report(dev, dev.report(TAG, 1))  # the device goes on
    assert collector.services.status.totals().reports == 1
