"""The product instance service on its own (no authority): malformed messages get clear
problems and change nothing; polls, hellos, dispatch by body; the REST API's preferences and
devices; the background runner forwarding on its schedule."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from smartlic.clock import ManualClock
from smartlic.collector.runner import Runner
from smartlic.crypto import Udi
from smartlic.formats.envelope import make_nonce, timestamp_ms
from tests.authority.api.helpers import TAG, ok, pool_line, problem
from tests.collector.conftest import PI, Collector, World, start_collector, stop_collector
from tests.conftest import START
from tests.devices import PolicyDevice

REPORT = f"{PI}/v2/devices/reportusage"


@pytest.fixture
def lone(tmp_path: Path) -> Iterator[Collector]:
    c = start_collector(tmp_path, ManualClock(START), name="lone")
    yield c
    stop_collector(c)


def device(c: Collector, sn: str = "LONE1") -> PolicyDevice:
    return PolicyDevice(Udi("C9300-24T", sn), c.clock)


def data(c: Collector, **fields: Any) -> dict[str, Any]:
    return {"data": {"timestamp": timestamp_ms(c.clock.now()), "nonce": make_nonce(), **fields}}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"data": []},
        {"data": {"reports": []}},
        {"data": {"reports": [{"sudi": {"udi_pid": "X"}, "usage": []}]}},
        {"data": {"reports": [{"sudi": {"udi_pid": "X", "udi_serial_number": "1"}, "usage": [1]}]}},
        {"data": {"reports": "nope"}},
    ],
)
def test_malformed_reportusage_is_refused(lone: Collector, body: Any) -> None:
    problem(lone.pi.post(REPORT, json=body), 422, "invalid-input")
    assert lone.services.status.totals().reports == 0


def test_a_report_for_another_device_or_not_json_is_refused(lone: Collector) -> None:
    one, two = device(lone, "ONE"), device(lone, "TWO")
    body = one.body(two.report(TAG, 1))
    problem(lone.pi.post(REPORT, json=body), 403, "forbidden")
    broken = one.report(TAG, 1)
    broken["payload"] = "{not json"
    problem(lone.pi.post(REPORT, json=one.body(broken)), 401, "bad-signature")
    unsigned = one.report(TAG, 1)
    del unsigned["signature"]
    problem(lone.pi.post(REPORT, json=one.body(unsigned)), 422, "invalid-input")
    assert lone.services.status.totals().devices == 0  # nothing half-stored


def test_poll_unknown_or_malformed(lone: Collector) -> None:
    url = f"{PI}/v2/accounts/poll"
    problem(lone.pi.post(url, json=data(lone, poll_id=12345)), 404, "not-found")
    problem(lone.pi.post(url, json=data(lone)), 422, "invalid-input")
    problem(lone.pi.post(url, json=data(lone, poll_id=True)), 422, "invalid-input")
    # what str.isdigit takes for digits but int refuses (a 500 before), and beyond 64 bits
    for odd in ("\u00b2", "1" * 5000, "9" * 19, 2**70, -1):
        problem(lone.pi.post(url, json=data(lone, poll_id=odd)), 422, "invalid-input")


def test_authrequest_needs_something_to_do(lone: Collector) -> None:
    url = f"{PI}/v2/devices/authrequest"
    problem(lone.pi.post(url, json=data(lone)), 422, "invalid-input")
    problem(lone.pi.post(url, json=data(lone, requests=["x"])), 422, "invalid-input")
    problem(lone.pi.post(url, json=data(lone, returns=[{"sudi": {}}])), 422, "invalid-input")


def test_dispatch_by_body_and_hello(lone: Collector) -> None:
    dev = device(lone)
    answer = ok(lone.pi.post(PI, json=dev.body(dev.report(TAG, 1))))
    assert answer["action"] == "acknowledgements"
    polled = ok(lone.pi.post(PI, json=data(lone, poll_id=answer["poll_id"])))
    assert polled["status"] == "OK_POLL" and polled["poll_interval"] == 60
    sudi = {"udi_pid": "C9300-24T", "udi_serial_number": "LONE1"}
    assert ok(lone.pi.post(PI, json=data(lone, sudi=sudi))) == {"status": "OK", "known": True}
    assert ok(lone.pi.post(PI, json=data(lone))) == {"status": "OK", "known": False}
    problem(lone.pi.post(PI, json=[1, 2]), 422, "invalid-input")


def test_a_virtual_account_url_must_end_in_dash_one(lone: Collector) -> None:
    dev = device(lone)
    response = lone.pi.post(f"{PI}/Prod/v2/devices/reportusage", json=dev.body(dev.report(TAG, 1)))
    problem(response, 404, "not-found")


@pytest.mark.parametrize(
    "changes",
    [{"connectivity": "off"}, {"connectivity": None}, {"satellite": 1}, {"authority_url": []}],
)
def test_rest_preferences_refuse_wrong_types(lone: Collector, changes: dict[str, Any]) -> None:
    """Finding 12: a truthy "off" kept the collector online; now 422 and nothing stored."""
    ok(lone.api.patch("/api/v1/preferences", json={"connectivity": True}))
    before = ok(lone.api.get("/api/v1/preferences"))
    body = problem(lone.api.patch("/api/v1/preferences", json=changes), 422, "invalid-input")
    assert body["pointer"] == "/" + next(iter(changes))
    assert ok(lone.api.get("/api/v1/preferences")) == before
    assert lone.services.status.prefs().connectivity is True
    off = ok(lone.api.patch("/api/v1/preferences", json={"connectivity": False}))
    assert off["connectivity"] is False


def test_rest_preferences_and_devices(lone: Collector) -> None:
    prefs = ok(lone.api.patch("/api/v1/preferences", json={"api_key": "slk_x", "satellite": False}))
    assert prefs["api_key"] == "set"
    problem(lone.api.patch("/api/v1/preferences", json={"nope": 1}), 422, "invalid-input")
    assert ok(lone.api.get("/api/v1/preferences"))["api_key"] == "set"
    ok(lone.api.post("/api/v1/devices", json={"pid": "P", "sn": "S"}), 201)
    problem(lone.api.post("/api/v1/devices", json={"pid": "", "sn": "S"}), 422, "invalid-input")
    for address in ({"address": "10.0.0.5", "username": "u", "password": "p"},
                    {"address": "https://10.0.0.5"}):  # fmt: skip
        body = {"pid": "P", "sn": "S2", **address}
        problem(lone.api.post("/api/v1/devices", json=body), 422, "invalid-input")
    [row] = ok(lone.api.get("/api/v1/devices"))
    assert row["name"] == "UDI_PID:P; UDI_SN:S" and row["mode"] == "push"
    assert ok(lone.api.get("/api/v1/health")) == {"status": "ok"}
    assert ok(lone.api.get("/api/v1/alerts")) == []
    # found by the fuzzer: a limit past 64 bits was a 500 (the database's integer overflowed)
    for limit in (2**63, 0):
        got = lone.api.get("/api/v1/alerts", params={"limit": limit})
        assert problem(got, 422, "invalid-input")["parameter"] == "limit"


def test_the_runner_forwards_on_its_schedule(world: World, collector: Collector) -> None:
    collector.settings.sync_interval_s = 0.05
    runner = Runner(collector.services, collector.settings)
    dev = world.device("RUN1")
    answer = collector.report(dev, dev.report(TAG, 3))
    runner.start()
    try:
        deadline = time.monotonic() + 20
        while collector.poll(answer)["status"] != "COMPLETE":
            assert time.monotonic() < deadline, "the runner did not forward"
            time.sleep(0.05)
    finally:
        runner.close()
    assert pool_line(world.api, "Prod")["in_use"] == 3


def test_rest_api_needs_its_token(lone: Collector) -> None:
    """Preferences hold the authority's API key and actions move data: no token, no access."""
    with httpx.Client(base_url=lone.api_url, timeout=30) as bare:
        assert bare.get("/api/v1/health").status_code == 200
        for method, path in (
            ("GET", "/api/v1/preferences"),
            ("PATCH", "/api/v1/preferences"),
            ("POST", "/api/v1/import"),
            ("GET", "/api/v1/export"),
            ("GET", "/api/v1/devices"),
        ):
            assert bare.request(method, path).status_code == 401, path
        wrong = bare.get("/api/v1/preferences", headers={"Authorization": "Bearer slk_nope"})
        assert wrong.status_code == 401 and wrong.json()["code"] == "unauthenticated"
    assert lone.api.get("/api/v1/preferences").status_code == 200
