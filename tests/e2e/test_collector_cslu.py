"""CSLU end to end with real processes on loopback: ``smartlic authority serve`` and
``smartlic collector serve``, three devices (real protocol clients) pushing signed reports.

* CSLU has access: reports forwarded in the background, ACKs back on the devices' next poll.
* CSLU has no access: ``collector export``, upload at the authority, ACK archive,
  ``collector import``, ACKs delivered.
* SIGKILL in the middle of forwarding batches: nothing lost, nothing counted twice.
* CSLU with access, collector-initiated: on-box APIs pulled on the collector's schedule.
* Satellite connected and disconnected: classic agents register and authorize at the
  collector; usage reaches the authority online or through the export file.

One authority process serves the whole module; each test has its own collector and devices.
"""

from __future__ import annotations

import base64
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from smartlic.agent import LicenseManager, SmartTransport, Timers
from smartlic.crypto import Udi
from smartlic.formats.envelope import read_payload
from smartlic.formats.slp import read_file
from tests.authority.api.conftest import serve_in_thread
from tests.collector.onbox import OnBoxDevice
from tests.collector.procs import DOMAIN, TAG, VA, Stack, policy_device, smartlic, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One authority process for the module; each test has its own collector and devices."""
    s = Stack(tmp_path_factory.mktemp("cslu"))
    s.start_authority()
    try:
        yield s
    finally:
        s.stop()


def ack_ids(item: dict[str, object]) -> list[int]:
    [(_, env)] = [
        x
        for x in read_file(base64.b64decode(str(item["smart_license"])))
        if x[0] == "smartLicenseRumAck"
    ]
    return list(read_payload(env)["acknowledged"])


def test_cslu_with_access_push_mode(stack: Stack) -> None:
    env = stack.collector_env("push")
    before = stack.in_use()
    stack.init_collector(env)
    collector = stack.start_collector(env)
    devices = [policy_device(f"PUSH{i}") for i in range(3)]
    answers = [collector.report(d, d.report(TAG, 2)) for d in devices]
    for device, answer in zip(devices, answers, strict=True):
        done = collector.complete(device, answer)
        [item] = done["data"]["acknowledgements"]
        assert ack_ids(item) == [device.next_id]
    assert stack.in_use() - before == 6
    table = smartlic(env | {"COLUMNS": "250"}, "collector", "devices")
    assert "UDI_PID:C9300-24T; UDI_SN:PUSH0" in table
    assert "COMPLETE Usage report acknowledgement to product instance" in table


@pytest.mark.slow  # the same flow runs in-process by default (tests/collector)
def test_cslu_without_access_files(stack: Stack, tmp_path: Path) -> None:
    env = stack.collector_env("files")
    before = stack.in_use()
    stack.init_collector(env, offline=True)
    collector = stack.start_collector(env)
    devices = [policy_device(f"FILE{i}") for i in range(3)]
    answers = [collector.report(d, d.report(TAG, 1)) for d in devices]
    out = smartlic(env, "collector", "export", "--out", str(tmp_path))
    archive = Path(out.split()[1].rstrip(":"))
    with stack.authority() as api:
        va = "/api/v1/accounts/demo.example/virtual-accounts/DEFAULT/usage-files"
        files = {"file": (archive.name, archive.read_bytes(), "application/gzip")}
        created = api.post(va, files=files).json()
        ack = api.get(f"/api/v1/accounts/demo.example/usage-files/{created['id']}/ack")
    ack_file = tmp_path / "ACK.tar.gz"
    ack_file.write_bytes(ack.content)
    assert "3 reports acknowledged" in smartlic(env, "collector", "import", str(ack_file))
    for device, answer in zip(devices, answers, strict=True):
        assert ack_ids(collector.complete(device, answer)["data"]["acknowledgements"][0])
    assert stack.in_use() - before == 3
    assert "0 reports" in smartlic(env, "collector", "export", "--out", str(tmp_path))


def _authority_reports(stack: Stack) -> int:
    with sqlite3.connect(stack.tmp / "authority" / "authority.sqlite3") as db:
        return int(db.execute("SELECT count(*) FROM rum_reports").fetchone()[0])


def test_sigkill_mid_batch_loses_nothing(stack: Stack) -> None:
    env = stack.collector_env("kill", BATCH_SIZE="5", SYNC_INTERVAL_S="0.05")
    stack.init_collector(env)
    collector = stack.start_collector(env)
    devices = [policy_device(f"KILL{i}") for i in range(3)]
    start, before = _authority_reports(stack), stack.in_use()
    sent: list[int] = []  # reports the devices handed over, or tried to
    unanswered: list[tuple[int, list[dict[str, object]]]] = []  # a device retries these
    stop = threading.Event()

    def push() -> None:
        for n in range(600):
            if stop.is_set():
                return
            i = n % 3
            reports = [devices[i].report(TAG, 1 + i) for _ in range(2)]
            sent.append(i)
            try:
                collector.report(devices[i], *reports)
            except (httpx.TransportError, AssertionError):
                unanswered.append((i, reports))

    pusher = threading.Thread(target=push)
    pusher.start()
    wait_until(lambda: _authority_reports(stack) - start >= 16, what="forwarding under way")
    collector.proc.kill()  # mid-batch: devices are still pushing, batches are in flight
    stop.set()
    pusher.join()
    again = stack.start_collector(env)  # same store, new process
    for i, reports in unanswered:  # what a device does with reports nobody answered
        again.report(devices[i], *reports)
    expected = 2 * len(sent)
    wait_until(lambda: _authority_reports(stack) - start >= expected, what="all forwarded")
    assert _authority_reports(stack) - start == expected  # each report exactly once
    assert stack.in_use() - before == 1 + 2 + 3  # each device's latest value, counted once


@pytest.mark.slow  # the same flow runs in-process by default (tests/collector)
def test_cslu_with_access_pull_mode(stack: Stack) -> None:
    """Collector-initiated: the collector process pulls three on-box APIs on its schedule."""
    env = stack.collector_env("pull")
    stack.init_collector(env)
    collector = stack.start_collector(env)
    before = stack.in_use()
    boxes, servers = [], []
    for i in range(3):
        box = OnBoxDevice(policy_device(f"ONBOX{i}"))
        box.reports.append(box.device.report(TAG, i + 1))
        server, thread, url = serve_in_thread(box.app())
        boxes.append(box)
        servers.append((server, thread))
        body = {"pid": box.device.udi.pid, "sn": box.device.udi.sn, "address": url,
                "username": "admin", "password": "cisco123"}  # fmt: skip
        with collector.rest() as rest:
            assert rest.post("/devices", json=body).status_code == 201
    try:
        wait_until(lambda: all(b.imported and not b.pending() for b in boxes), what="ACKs")
        assert stack.in_use() - before == 1 + 2 + 3
    finally:
        for server, thread in servers:
            server.should_exit = True
            thread.join(timeout=10)


def classic_agent(tmp: Path, sn: str, url: str) -> LicenseManager:
    return LicenseManager(
        udi=Udi("ISR4331", sn),
        hostname=f"r-{sn.lower()}",
        state_dir=tmp / "devices" / sn,
        transport=SmartTransport(url),
        timers=Timers(),
        mode="classic",
    )


def satellite_collector(stack: Stack, name: str, *, offline: bool) -> tuple[Any, dict[str, str]]:
    env = stack.collector_env(name)
    stack.init_collector(env, offline=offline)
    smartlic(env, "collector", "satellite", "init")
    return stack.start_collector(env), env


def register_three(stack: Stack, env: dict[str, str], pi: str, prefix: str) -> list[Any]:
    base = pi.removesuffix("/cslu/v1/pi")
    devices = [classic_agent(stack.tmp, f"{prefix}{i}", base) for i in range(3)]
    for device in devices:
        device.register(smartlic(env, "collector", "satellite", "token").strip())
        device.request(TAG)
        device.sync()
        assert str(device.status().authorization.state).upper() == "AUTHORIZED"
    return devices


@pytest.mark.slow  # the same flow runs in-process by default (tests/collector)
def test_satellite_connected_classic_devices(stack: Stack) -> None:
    collector, env = satellite_collector(stack, "sat-on", offline=False)
    before = stack.in_use()
    assert "0 product instances" in smartlic(env, "collector", "satellite", "sync")
    devices = register_three(stack, env, collector.pi, "SATON")
    try:
        assert "3 product instances reported up" in smartlic(env, "collector", "satellite", "sync")
        wait_until(lambda: stack.in_use() - before == 3, what="usage at the authority")
    finally:
        for device in devices:
            device.close()


@pytest.mark.slow  # the same flow runs in-process by default (tests/collector)
def test_satellite_disconnected_classic_devices(stack: Stack, tmp_path: Path) -> None:
    collector, env = satellite_collector(stack, "sat-off", offline=True)
    before = stack.in_use()
    licenses = tmp_path / "licenses.json"
    with stack.authority() as api:  # what a person saves at the authority once a month
        licenses.write_text(
            api.get(f"/api/v1/accounts/{DOMAIN}/virtual-accounts/{VA}/licenses").text
        )
    smartlic(env, "collector", "satellite", "sync", "--licenses", str(licenses))
    devices = register_three(stack, env, collector.pi, "SATOFF")
    try:
        smartlic(env, "collector", "satellite", "sync", "--licenses", str(licenses))
        out = smartlic(env, "collector", "export", "--out", str(tmp_path))
        archive = Path(out.split()[1].rstrip(":"))
        with stack.authority() as api:
            va = f"/api/v1/accounts/{DOMAIN}/virtual-accounts/{VA}/usage-files"
            created = api.post(va, files={"file": (archive.name, archive.read_bytes())}).json()
            ack = api.get(f"/api/v1/accounts/{DOMAIN}/usage-files/{created['id']}/ack").content
        (tmp_path / "ack.tar.gz").write_bytes(ack)
        assert "3 new" in smartlic(env, "collector", "import", str(tmp_path / "ack.tar.gz"))
        assert stack.in_use() - before == 3
    finally:
        for device in devices:
            device.close()
