"""Policy mode through a collector (CSLU), with real processes on loopback: the authority and
the collector as ``python -m smartlic ... serve``, and a ``LicenseManager`` device.

* product-instance initiated: transport ``cslu`` to ``<collector>:<pi port>/cslu/v1/pi``;
* collector initiated: the collector pulls from the device's on-box API and pushes the ACK back.

The collector's process helpers (tests/collector/procs.py) are shared with its own e2e tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from smartlic.agent import CsluTransport, LicenseManager, OffTransport, Transport
from smartlic.clock import SystemClock
from smartlic.crypto import Udi
from tests.collector.procs import TAG, Stack, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = Stack(tmp_path_factory.mktemp("agent-cslu"))
    s.start_authority()
    try:
        yield s
    finally:
        s.stop()


def _device(stack: Stack, tmp_path: Path, sn: str, transport: Transport) -> LicenseManager:
    ca = (stack.tmp / "authority" / "keys" / "ca.pem").read_text()
    return LicenseManager(
        udi=Udi("C9300-24T", sn),
        hostname=f"sw-{sn.lower()}",
        state_dir=tmp_path / sn,
        transport=transport,
        clock=SystemClock(),
        mode="policy",
        authority_ca=ca,
    )


def _acked(device: LicenseManager) -> bool:
    status = device.status().policy
    return status is not None and status.usage_reporting.last_ack_received is not None


def test_transport_cslu_reports_through_the_collector(stack: Stack, tmp_path: Path) -> None:
    env = stack.collector_env("agent-push")
    stack.init_collector(env)
    collector = stack.start_collector(env)
    before = stack.in_use()
    device = _device(stack, tmp_path, "AGENTCSLU1", CsluTransport(collector.pi))
    try:
        device.request(TAG, 2)
        attempt = device.sync()
        assert attempt is not None and attempt.succeeded, attempt
        wait_until(lambda: device.sync() and _acked(device), what="the ACK through CSLU")
        status = device.status().policy
        assert status is not None and status.trust_code is not None  # delivered in the ACK
        assert status.report_summary.acknowledged >= 1
        assert stack.in_use() - before == 2
    finally:
        device.close()


def test_the_collector_pulls_from_the_on_box_api(stack: Stack, tmp_path: Path) -> None:
    env = stack.collector_env("agent-pull")
    stack.init_collector(env)
    collector = stack.start_collector(env)
    device = _device(stack, tmp_path, "AGENTPULL1", OffTransport())
    rest = collector.rest()
    try:
        device.request(TAG)
        host, port = device.start_api("127.0.0.1", 0, "collector", "pull-secret")
        added = rest.post(
            "/devices",
            json={
                "pid": "C9300-24T",
                "sn": "AGENTPULL1",
                "address": f"http://{host}:{port}",
                "username": "collector",
                "password": "pull-secret",
            },
        )
        assert added.status_code == 201, added.text

        def pulled_and_acked() -> bool:
            rest.post("/actions/pull")
            return _acked(device)

        wait_until(pulled_and_acked, what="the ACK pushed back by the collector")
        history = device.status().policy.history.imports  # type: ignore[union-attr]
        assert "RUM ACK" in history
    finally:
        rest.close()
        device.close()
