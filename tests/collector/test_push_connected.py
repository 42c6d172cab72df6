"""CSLU has access: devices push to /cslu/v1/pi, the collector forwards to the authority, the
authority's ACK files reach the devices unchanged on their next poll."""

from __future__ import annotations

from smartlic.collector.services import _base
from tests.authority.api.helpers import TAG, ok, pool_line
from tests.collector.conftest import PI, Collector, World


def in_use(world: World, va: str = "Prod") -> int:
    return int(pool_line(world.api, va)["in_use"])


def test_three_devices_push_forward_and_get_their_acks(world: World, collector: Collector) -> None:
    devices = [world.device(f"FOC{i}") for i in range(3)]
    answers = [collector.report(d, d.report(TAG, 2)) for d in devices]
    assert all(a["status"] == "OK_POLL" and a["action"] == "acknowledgements" for a in answers)
    assert collector.poll(answers[0])["status"] == "OK_POLL"  # nothing from the authority yet

    result = collector.services.forwarder.sync()
    assert result.uploaded == 3 and result.acknowledged == 3

    for device, answer in zip(devices, answers, strict=True):
        done = collector.poll(answer)
        assert done["status"] == "COMPLETE" and done["type"] == "acknowledgements"
        [item] = done["data"]["acknowledgements"]
        ack = world.ack_of(item)
        assert ack["udi"] == {"pid": device.udi.pid, "sn": device.udi.sn}
        assert len(ack["acknowledged"]) == 1
    assert in_use(world) == 6
    statuses = collector.services.status.devices(alerts=1)
    assert [s.alerts for s in statuses] == [[_base.ACK_TO_DEVICE]] * 3
    assert statuses[0].name == f"UDI_PID:{devices[0].udi.pid}; UDI_SN:FOC0"


def test_duplicate_reports_are_counted_once(world: World, collector: Collector) -> None:
    dev = world.device("FOC9")
    report = dev.report(TAG, 3)
    first = collector.report(dev, report)
    collector.report(dev, report)
    collector.services.forwarder.sync()
    collector.report(dev, report)  # again after the ACK
    collector.services.forwarder.sync()
    assert collector.poll(first)["status"] == "COMPLETE"
    assert in_use(world) == 3
    assert collector.services.status.totals().reports == 1


def test_routes_by_body_and_virtual_account_url(world: World, collector: Collector) -> None:
    dev = world.device("FOC7")
    answer = ok(collector.pi.post(PI, json=dev.body(dev.report(TAG, 1))))
    assert answer["action"] == "acknowledgements"
    path = f"{PI}/Spare-1"
    other = world.device("FOC8")
    collector.report(other, other.report(TAG, 4), path=path)
    collector.services.forwarder.sync()
    vendor = world.device("FOC6")  # a device configured with the authority's URL layout
    url = f"{PI}/services/api/smart-accounts-and-licensing/v2/devices/reportusage"
    ok(collector.pi.post(url, json=vendor.body(vendor.report(TAG, 2))))
    collector.services.forwarder.sync()
    assert collector.poll(answer, path=PI)["status"] == "COMPLETE"
    assert in_use(world, "Spare") == 4 and in_use(world, "Prod") == 1 + 2
    schema = ok(collector.pi.get("/openapi.json"))
    assert f"{PI}/v2/devices/reportusage" in schema["paths"]
