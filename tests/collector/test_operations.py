"""The collector's operations endpoints on its REST port: ``/healthz``, ``/readyz``, ``/metrics``
(no token needed: they tell counts, never a device or a report)."""

from __future__ import annotations

import httpx

from tests.authority.api.helpers import TAG
from tests.authority.api.test_operations import samples
from tests.collector.conftest import Collector, World


def test_health_readiness_and_queue_figures(world: World, collector: Collector) -> None:
    anonymous = httpx.Client(base_url=collector.api_url)
    assert anonymous.get("/healthz").json()["status"] == "ok"
    ready = anonymous.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert anonymous.get("/api/v1/status").status_code == 401  # the rest still needs the token

    devices = [world.device(f"MET{i}") for i in range(2)]
    for d in devices:
        collector.report(d, d.report(TAG, 1))
    got = samples(anonymous.get("/metrics").text)
    assert got[("smartlic_collector_reports", frozenset({("state", "not_uploaded")}))] == 2
    assert got[("smartlic_collector_devices", frozenset())] == 2
    pi_requests = {
        labels: value
        for (name, labels), value in got.items()
        if name == "smartlic_http_requests_total" and ("app", "collector-pi") in labels
    }
    assert sum(pi_requests.values()) == 2

    collector.services.forwarder.sync()
    got = samples(anonymous.get("/metrics").text)
    assert got[("smartlic_collector_reports", frozenset({("state", "acknowledged")}))] == 2
    assert got[("smartlic_collector_reports", frozenset({("state", "not_uploaded")}))] == 0
    anonymous.close()
