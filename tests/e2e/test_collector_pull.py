"""CSLU with access, collector-initiated: ``smartlic collector serve`` (a real process) pulls
three devices' on-box APIs on its schedule, forwards to ``smartlic authority serve`` and pushes
the ACKs back to the devices."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.authority.api.conftest import serve_in_thread
from tests.collector.onbox import OnBoxDevice
from tests.collector.procs import TAG, Stack, policy_device, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    s = Stack(tmp_path)
    s.start_authority()
    try:
        yield s
    finally:
        s.stop()


def test_cslu_with_access_pull_mode(stack: Stack) -> None:
    env = stack.collector_env("pull")
    stack.init_collector(env)
    collector = stack.start_collector(env)
    boxes, servers = [], []
    for i in range(3):
        box = OnBoxDevice(policy_device(f"ONBOX{i}"))
        box.reports.append(box.device.report(TAG, i + 1))
        server, thread, url = serve_in_thread(box.app())
        boxes.append(box)
        servers.append((server, thread))
        body = {"pid": box.device.udi.pid, "sn": box.device.udi.sn, "address": url,
                "username": "admin", "password": "cisco123"}  # fmt: skip
        assert httpx.post(f"{collector.api}/api/v1/devices", json=body).status_code == 201
    try:
        wait_until(lambda: all(b.imported and not b.pending() for b in boxes), what="ACKs")
        assert stack.in_use() == 1 + 2 + 3
    finally:
        for server, thread in servers:
            server.should_exit = True
            thread.join(timeout=10)
