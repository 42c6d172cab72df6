# ruff: noqa: F811 - pytest fixtures imported from tests/collector are parameters here
"""The real agent (``LicenseManager``) through the collector, over loopback:

* policy mode, CSLU transport: reports pushed to ``/cslu/v1/pi``, forwarded, the ACK (with the
  trust code) installed by the device, verified against the authority CA;
* policy mode, collector-initiated: the agent's own on-box API pulled and given its ACK;
* classic mode, ``smart`` transport pointed at a satellite: registration and authorization.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from smartlic.agent import CsluTransport, LicenseManager, SmartTransport, Timers
from smartlic.crypto import Udi
from tests.authority.api.helpers import TAG, ok, pool_line
from tests.collector.conftest import (  # noqa: F401 - fixtures shared with tests/collector
    Collector,
    World,
    collector,
    db_url,
    live_authority,
    world,
)
from tests.collector.test_satellite import Sat, satellite  # noqa: F401 - fixture

pytestmark = pytest.mark.e2e


def agent(world: World, tmp_path: Path, sn: str, **kwargs: Any) -> LicenseManager:
    args: dict[str, Any] = {
        "udi": Udi("C9300-24T", sn),
        "hostname": f"sw-{sn.lower()}",
        "state_dir": tmp_path / "devices" / sn,
        "clock": world.live.clock,
        "timers": Timers(),
        "mode": "policy",
        "authority_ca": world.live.keys.ca_pem,
    }
    return LicenseManager(**(args | kwargs))


def policy(manager: LicenseManager) -> Any:
    status = manager.status().policy
    assert status is not None
    return status


def test_agents_push_through_the_collector(
    world: World, collector: Collector, tmp_path: Path
) -> None:
    devices = [
        agent(world, tmp_path, f"AGT{i}", transport=CsluTransport(f"{collector.pi_url}/cslu/v1/pi"))
        for i in range(3)
    ]
    try:
        for device in devices:
            device.request(TAG)
            device.sync()  # reports handed over: OK_POLL
        assert collector.services.status.totals().reports == 3
        collector.services.forwarder.sync()
        for device in devices:
            device.sync()  # the poll completes: ACK, policy, account info, trust code
            status = policy(device)
            assert status.usage_reporting.last_ack_received is not None
            assert status.trust_code is not None
        assert pool_line(world.api, "Prod")["in_use"] == 3
    finally:
        for device in devices:
            device.close()


def test_collector_pulls_the_agents_onbox_api(
    world: World, collector: Collector, tmp_path: Path
) -> None:
    devices = [agent(world, tmp_path, f"ONB{i}") for i in range(3)]
    try:
        for i, device in enumerate(devices):
            for _ in range(i + 1):
                device.request(TAG)
            host, port = device.start_api("127.0.0.1", 0, "admin", "s3cret")
            body = {"pid": "C9300-24T", "sn": f"ONB{i}", "address": f"http://{host}:{port}",
                    "username": "admin", "password": "s3cret"}  # fmt: skip
            ok(collector.api.post("/api/v1/devices", json=body), 201)
        world.live.clock.advance(hours=1)
        pulled = collector.services.puller.pull_all()
        assert pulled.devices == 3 and pulled.reports >= 3, pulled
        collector.services.forwarder.sync()
        assert collector.services.puller.pull_all().delivered == 3
        for device in devices:
            assert policy(device).usage_reporting.last_ack_received is not None
        assert pool_line(world.api, "Prod")["in_use"] == 1 + 2 + 3
    finally:
        for device in devices:
            device.close()


def test_classic_agents_register_at_the_satellite(
    world: World, satellite: Sat, tmp_path: Path
) -> None:
    from smartlic.collector.satellite import sync_online

    sync_online(satellite.sat, satellite.services)
    devices = [
        agent(world, tmp_path, f"CLS{i}", mode="classic", transport=SmartTransport(satellite.url))
        for i in range(3)
    ]
    try:
        for device in devices:
            device.register(satellite.sat.token(satellite.services.status.prefs()))
            device.request(TAG)
            device.sync()
            status = device.status()
            assert "AUTHORIZED" in str(status).upper()
        sync_online(satellite.sat, satellite.services)
        assert pool_line(world.api, "Prod")["in_use"] == 3
    finally:
        for device in devices:
            device.close()


def test_agent_trust_by_token_through_the_collector(
    world: World, collector: Collector, tmp_path: Path
) -> None:
    from tests.authority.api.helpers import create_token

    transport = CsluTransport(f"{collector.pi_url}/cslu/v1/pi")
    device = agent(world, tmp_path, "TRST1", transport=transport)
    try:
        device.trust(create_token(world.api, "Prod")["text"])
        assert policy(device).trust_code is not None
        [status] = collector.services.status.devices()
        assert status.name == "UDI_PID:C9300-24T; UDI_SN:TRST1"
    finally:
        device.close()
