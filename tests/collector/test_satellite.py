"""Satellite for classic devices: registration and authorization (device protocol v1) at the
collector acting as a local authority for one virtual account; synchronisation with the
authority online and by files; never more than the VA held; conflicts reported."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from smartlic.clock import ManualClock
from smartlic.collector.app import build, create_apps
from smartlic.collector.models import Report
from smartlic.collector.prefs import load, save
from smartlic.collector.satellite import Satellite, licenses_path, sync_online
from smartlic.collector.services import CollectorServices
from smartlic.collector.settings import CollectorSettings
from smartlic.crypto import Udi
from smartlic.formats.signed import open_sealed
from tests.authority.api.conftest import serve_in_thread
from tests.authority.api.helpers import ACCOUNT, DOMAIN, TAG, ok, pool_line, va_path
from tests.collector.conftest import World
from tests.devices import TestDevice


@dataclass
class Sat:
    sat: Satellite
    services: CollectorServices
    url: str
    http: httpx.Client
    clock: ManualClock

    def register(self, sn: str) -> TestDevice:
        dev = TestDevice(Udi("ISR4331", sn), self.clock, hostname=f"r-{sn.lower()}")
        token = self.sat.token(self.services.status.prefs())
        payload = self.open(
            self.http.post("/api/device/v1/register", json=dev.register_request(token))
        )
        dev.accept_registration(payload)
        return dev

    def authorize(self, dev: TestDevice, usage: dict[str, int]) -> dict[str, Any]:
        return self.open(self.http.post("/api/device/v1/authorize", json=dev.authorize(usage)))

    def open(self, response: httpx.Response) -> dict[str, Any]:
        assert response.status_code == 200, response.text
        key = self.sat.keys().signer.certificate.public_key()
        return open_sealed(response.json(), key)  # type: ignore[arg-type]


@pytest.fixture
def satellite(world: World, tmp_path: Path) -> Iterator[Sat]:
    clock = world.live.clock
    conf = CollectorSettings(data_dir=tmp_path / "satellite-collector")
    engine, services = build(conf, clock)
    with services.status.transaction() as s:
        prefs = load(s)
        prefs.update({"connectivity": True, "authority_url": world.live.url, "satellite": True,
                      "api_key": world.collector_key, "smart_account": DOMAIN,
                      "virtual_account": "Prod"})  # fmt: skip
        prefs.authority_ca_pem = world.live.keys.ca_pem  # as ``init --authority-ca`` pins it
        save(s, prefs)
    sat = Satellite(conf.satellite_dir, clock)
    sat.init(prefs)
    pi_app, _ = create_apps(conf, services=services)
    server, thread, url = serve_in_thread(pi_app)
    http = httpx.Client(base_url=url, timeout=30)
    yield Sat(sat, services, url, http, clock)
    http.close()
    server.should_exit = True
    thread.join(timeout=10)
    sat.close()
    engine.dispose()


def test_satellite_connected(world: World, satellite: Sat) -> None:
    state = sync_online(satellite.sat, satellite.services)
    assert state.holdings == {TAG: 10} and state.conflicts == []
    devices = [satellite.register(f"SAT{i}") for i in range(3)]
    for dev in devices:
        assert satellite.authorize(dev, {TAG: 2})["status"] == "AUTHORIZED"
    assert pool_line(world.api, "Prod")["in_use"] == 0  # not synchronised yet
    sync_online(satellite.sat, satellite.services)
    assert pool_line(world.api, "Prod")["in_use"] == 6  # the satellite's instances, up
    instances = ok(world.api.get(f"{ACCOUNT}/devices", params={"search": "ISR4331"}))
    assert instances["total"] == 3


def test_two_syncs_in_one_second_keep_all_usage(world: World, satellite: Sat) -> None:
    # The clock does not move: every sync below happens in the same second.
    sync_online(satellite.sat, satellite.services)
    dev = satellite.register("SAME1")
    satellite.authorize(dev, {TAG: 2})
    sync_online(satellite.sat, satellite.services)
    assert pool_line(world.api, "Prod")["in_use"] == 2
    satellite.authorize(dev, {TAG: 5})
    sync_online(satellite.sat, satellite.services)
    assert pool_line(world.api, "Prod")["in_use"] == 5  # the second sync's report arrived
    satellite.authorize(dev, {})
    sync_online(satellite.sat, satellite.services)
    assert pool_line(world.api, "Prod")["in_use"] == 0
    with satellite.services.status.transaction() as s:
        ids = [int(i) for i in s.scalars(select(Report.report_id).order_by(Report.id))]
    assert len(ids) == 3 and ids == sorted(set(ids))  # unique and increasing


def test_never_more_than_the_va_held_and_conflicts(world: World, satellite: Sat) -> None:
    sync_online(satellite.sat, satellite.services)
    first, second = satellite.register("C1"), satellite.register("C2")
    assert satellite.authorize(first, {TAG: 6})["status"] == "AUTHORIZED"
    assert satellite.authorize(second, {TAG: 5})["status"] == "OUT OF COMPLIANCE"  # 11 > 10
    satellite.authorize(second, {})
    transfer = {"target": "Spare", "tag": TAG, "quantity": 8}
    ok(world.api.post(va_path("Prod", "/licenses/actions/transfer"), json=transfer))
    state = sync_online(satellite.sat, satellite.services)
    assert state.holdings == {TAG: 2}
    [conflict] = state.conflicts
    assert conflict.startswith("CONFLICT") and "6 in use" in conflict and "holds 2" in conflict
    assert satellite.authorize(first, {TAG: 6})["status"] == "OUT OF COMPLIANCE"


def test_satellite_disconnected_by_files(world: World, satellite: Sat) -> None:
    services = satellite.services
    with services.status.transaction() as s:
        prefs = load(s)
        prefs.connectivity = False
        save(s, prefs)
    # once a month: the license list comes on a file ...
    licenses = json.loads(json.dumps(ok(world.api.get(licenses_path(prefs)))))
    state = satellite.sat.sync(services, prefs, licenses)
    assert state.holdings == {TAG: 10}
    for i in range(3):
        satellite.authorize(satellite.register(f"OFF{i}"), {TAG: 1})
    satellite.sat.sync(services, prefs, None)  # usage into the collector's store
    # ... and the usage goes back on one: the collector's ordinary export
    export = services.transfer.export()
    assert export.devices == 3
    files = {"file": (export.name, export.content, "application/gzip")}
    api = world.live.client(world.collector_key)
    created = ok(api.post(va_path("Prod", "/usage-files"), files=files), 201)
    ack = api.get(f"{ACCOUNT}/usage-files/{created['id']}/ack").content
    assert services.transfer.import_acks(ack).acknowledged == 3
    assert pool_line(world.api, "Prod")["in_use"] == 3


def test_deregistered_instances_are_reported_as_zero(world: World, satellite: Sat) -> None:
    sync_online(satellite.sat, satellite.services)
    dev = satellite.register("GONE1")
    satellite.authorize(dev, {TAG: 4})
    state = sync_online(satellite.sat, satellite.services)
    assert pool_line(world.api, "Prod")["in_use"] == 4
    # the saved state's key, as existing satellites' files hold it: "<pid>:<sn>", exact
    assert state.pushed == {"ISR4331:GONE1": [TAG]}
    assert satellite.sat.load_status(satellite.services).pushed == state.pushed
    satellite.clock.advance(seconds=5)  # the next report ends later than the last one
    satellite.open(satellite.http.post("/api/device/v1/deregister", json=dev.deregister()))
    state = sync_online(satellite.sat, satellite.services)
    assert pool_line(world.api, "Prod")["in_use"] == 0
    assert state.pushed == {}  # reported as zero once, then forgotten
