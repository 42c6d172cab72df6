"""Collector-initiated mode: the collector pulls reports from devices' on-box API and pushes the
authority's ACKs back; bad credentials and unreachable devices show as FAILED alerts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from smartlic.collector.services import _base
from tests.authority.api.conftest import serve_in_thread
from tests.authority.api.helpers import TAG, ok, pool_line
from tests.collector.conftest import Collector, World
from tests.collector.onbox import OnBoxDevice
from tests.collector.procs import free_port


@pytest.fixture
def onbox(world: World) -> Iterator[list[tuple[OnBoxDevice, str]]]:
    boxes = []
    for i in range(3):
        box = OnBoxDevice(world.device(f"PULL{i}"))
        server, thread, url = serve_in_thread(box.app())
        boxes.append((box, url, server, thread))
    yield [(box, url) for box, url, _, _ in boxes]
    for _, _, server, thread in boxes:
        server.should_exit = True
        thread.join(timeout=10)


def add(collector: Collector, box: OnBoxDevice, url: str, password: str = "cisco123") -> None:
    body = {
        "pid": box.device.udi.pid,
        "sn": box.device.udi.sn,
        "address": url,
        "username": "admin",
        "password": password,
    }
    ok(collector.api.post("/api/v1/devices", json=body), 201)


def test_pull_forward_and_push_acks(
    world: World, collector: Collector, onbox: list[tuple[OnBoxDevice, str]]
) -> None:
    for i, (box, url) in enumerate(onbox):
        box.reports += [box.device.report(TAG, i + 1), box.device.report(TAG, i + 1)]
        add(collector, box, url)
    pulled = ok(collector.api.post("/api/v1/actions/pull"))
    assert pulled["devices"] == 3 and pulled["reports"] == 6, pulled
    collector.services.forwarder.sync()
    pushed = ok(collector.api.post("/api/v1/actions/pull"))
    assert pushed["delivered"] == 3
    for box, _ in onbox:
        assert box.pending() == []  # the device has imported its ACK
        world.sections(box.imported[0])  # signed by the authority, unchanged
    assert pool_line(world.api, "Prod")["in_use"] == 1 + 2 + 3
    assert {d.alerts[0] for d in collector.services.status.devices()} == {_base.ACK_TO_DEVICE}


def test_bad_credentials_and_unreachable_devices(
    world: World, collector: Collector, onbox: list[tuple[OnBoxDevice, str]]
) -> None:
    (box, url), (other, _) = onbox[0], onbox[1]
    box.reports.append(box.device.report(TAG, 1))
    add(collector, box, url, password="wrong")
    add(collector, other, f"http://127.0.0.1:{free_port()}")
    result = collector.services.puller.pull_all()
    assert result.devices == 0 and len(result.errors) == 2
    alerts = [d.alerts[0] for d in collector.services.status.devices()]
    assert all(a.startswith("FAILED Usage report from product instance") for a in alerts)
    assert "401" in alerts[0] and "unreachable" in alerts[1]


def test_a_device_answering_for_another_udi_is_refused(
    world: World, collector: Collector, onbox: list[tuple[OnBoxDevice, str]]
) -> None:
    (box, url), (other, _) = onbox[0], onbox[1]
    box.reports.append(box.device.report(TAG, 1))
    add(collector, other, url)  # other's UDI, but box answers at that address
    result = collector.services.puller.pull_all()
    assert result.reports == 0 and "not UDI_PID" in result.errors[0]
    assert collector.services.status.totals().reports == 0


@pytest.mark.parametrize(
    "claimed", [{"pid": "PULL0"}, {"pid": 7, "sn": "x"}, {"pid": "\x00", "sn": "x"}]
)
def test_a_device_answering_a_malformed_udi_is_refused_naming_it(
    world: World, collector: Collector, onbox: list[tuple[OnBoxDevice, str]], claimed: Any
) -> None:
    """Read with the protocol's parser, a udi that is no {pid, sn} is a mismatch, and the
    refusal names what the device sent; nothing is stored."""
    box, url = onbox[0]
    box.reports.append(box.device.report(TAG, 1))
    box.claimed_udi = claimed
    add(collector, box, url)
    result = collector.services.puller.pull_all()
    device = collector.services.status.devices()[0]
    assert result.reports == 0
    assert result.errors == [f"{device.name}: the device at {url} is {claimed}, not {device.name}"]
    assert collector.services.status.totals().reports == 0


def test_pull_is_idempotent_and_acks_are_pushed_once(
    world: World, collector: Collector, onbox: list[tuple[OnBoxDevice, str]]
) -> None:
    box, url = onbox[0]
    box.reports.append(box.device.report(TAG, 2))
    add(collector, box, url)
    collector.services.puller.pull_all()
    collector.services.puller.pull_all()  # the same report again: stored once
    assert collector.services.status.totals().reports == 1
    collector.services.forwarder.sync()
    assert collector.services.puller.pull_all().delivered == 1
    assert collector.services.puller.pull_all().delivered == 0
    assert len(box.imported) == 1
