"""Issue 10, "done when": the real automation tools reach our devices over SSH on loopback.

One fleet per module, started the way a user starts it (``smartlic lab fleet up``, a separate
process) and stopped with ``smartlic lab fleet down``; each tool gets its own device:

* netmiko (``cisco_xe``): ``send_command(..., use_genie=True)`` parses live output and
  ``send_config_set`` changes the device;
* scrapli (``IOSXEDriver``, system OpenSSH transport, and asyncssh): open, ``show license
  status``, a configuration set;
* unicon/pyATS: connects through the testbed the fleet wrote and ``device.parse`` works live.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

PASSWORD, SECRET = "fleet-pw", "fleet-en"
COUNT = 4


@dataclass(frozen=True)
class Fleet:
    root: Path
    ports: dict[str, int]  # device name -> SSH port

    def netmiko(self, name: str) -> dict[str, Any]:
        return {"device_type": "cisco_xe", "host": "127.0.0.1", "port": self.ports[name],
                "username": "admin", "password": PASSWORD, "secret": SECRET}  # fmt: skip

    def scrapli(self, name: str) -> dict[str, Any]:
        return {"host": "127.0.0.1", "port": self.ports[name], "auth_username": "admin",
                "auth_password": PASSWORD, "auth_secondary": SECRET, "auth_strict_key": False,
                "timeout_ops": 20}  # fmt: skip


def _free_run(count: int) -> int:
    """The first of ``count`` consecutive free loopback ports."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = int(probe.getsockname()[1])
        if first + count < 65535 and all(_free(first + i) for i in range(count)):
            return first
    raise RuntimeError("no run of free ports")  # pragma: no cover


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def smartlic(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "smartlic", *args], env=env, text=True,
                          capture_output=True, timeout=120)  # fmt: skip


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    root = tmp_path_factory.mktemp("fleet")
    env = {**os.environ, "SMARTLIC_LAB_CLOCK": str(root / "lab-clock.json")}
    first = _free_run(COUNT)
    up = smartlic("lab", "fleet", "up", "--count", str(COUNT), "--first-port", str(first),
                  "--state-root", str(root), "--password", PASSWORD, "--enable-secret", SECRET,
                  env=env)  # fmt: skip
    assert up.returncode == 0, up.stdout + up.stderr
    assert PASSWORD not in up.stdout  # given, so not printed
    try:
        record = json.loads((root / "fleet.json").read_text())
        yield Fleet(root, {d["name"]: d["port"] for d in record["devices"]})
    finally:
        down = smartlic("lab", "fleet", "down", "--state-root", str(root), env=env)
        assert down.returncode == 0, down.stdout + down.stderr
    assert not (root / "fleet.pid").exists()


def test_fleet_up_writes_the_tools_files(fleet: Fleet) -> None:
    assert list(fleet.ports) == [f"r{i}" for i in range(1, COUNT + 1)]
    for name in ("testbed.yaml", "inventory.yaml", "netmiko.yaml", "fleet.json"):
        assert (fleet.root / name).stat().st_mode & 0o077 == 0, name  # they hold passwords
    inventory = (fleet.root / "inventory.yaml").read_text()
    assert "ansible_network_os: cisco.ios.ios" in inventory
    assert f"ansible_port: {fleet.ports['r4']}" in inventory


def test_netmiko_parses_live_output_and_configures(fleet: Fleet) -> None:
    from netmiko import ConnectHandler

    with ConnectHandler(**fleet.netmiko("r1")) as conn:
        assert conn.find_prompt() == "r1>"
        conn.enable()
        conn.send_config_set(["license boot level metroipaccess", "license feature ptp"])
        summary = conn.send_command("show license summary", use_genie=True)
        usage = summary["license_usage"]
        assert usage["Device METRO IP ACCESS"] == {"license": "metroipaccess",
            "entitlement": "Device METRO IP ACCESS", "count": "1", "status": "IN USE"}  # fmt: skip
        assert usage["Device 1588"]["status"] == "IN USE"
        conn.send_config_set(["hostname edge-1"])
        assert conn.find_prompt() == "edge-1#"
        assert "hostname edge-1" in conn.send_command("show running-config")


# scrapli's vendored ptyprocess drops its pty file object unclosed on purpose (see its
# PtyProcess.close: closing "seemed to hang forever"): the ResourceWarning is theirs.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_scrapli_system_transport_runs_show_and_a_config_set(fleet: Fleet) -> None:
    from scrapli.driver.core import IOSXEDriver

    with IOSXEDriver(**fleet.scrapli("r2")) as conn:
        status = conn.send_command("show license status")
        assert not status.failed
        assert "Smart Licensing Using Policy:" in status.result
        configured = conn.send_configs(["license smart transport off"])
        assert not configured.failed
        assert "Type: Transport Off" in conn.send_command("show license status").result


def test_scrapli_asyncssh_transport(fleet: Fleet) -> None:
    from scrapli.driver.core import AsyncIOSXEDriver

    async def run() -> str:
        async with AsyncIOSXEDriver(**fleet.scrapli("r3"), transport="asyncssh") as conn:
            await conn.send_configs(["license smart transport off"])
            reply = await conn.send_command("show license status")
            return str(reply.result)

    assert "Type: Transport Off" in asyncio.run(run())


def test_unicon_connects_through_the_written_testbed_and_parses(
    fleet: Fleet, tmp_path: Path
) -> None:
    from pyats.topology import loader

    testbed = loader.load(str(fleet.root / "testbed.yaml"))
    device = testbed.devices["r4"]
    device.connect(log_stdout=False, learn_hostname=False, logfile=str(tmp_path / "r4.log"))
    try:
        device.configure(["license boot level metroipaccess"])
        usage = device.parse("show license usage")
        assert usage["license_name"]["metroipaccess (Device METRO IP ACCESS):"]["status"] == (
            "IN USE"
        )
        assert device.execute("show version | include Version").startswith("Cisco IOS XE")
    finally:
        device.disconnect()
