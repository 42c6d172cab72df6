"""``smartlic lab fleet``: devices enrolled with a live authority while served over SSH, the
files written for the tools, and the refusals of the command line.

The fleet runs in this process's event loop (``fleet.run`` with a ``stop`` event) on the
authority's manual clock; tests/e2e/test_automation_tools.py starts it as a user does.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from typer.testing import CliRunner

from smartlic.agent.shell import fleet as fleet_module
from smartlic.agent.shell.fleet import Enrolment, enrolment_lines, plan, run
from smartlic.agent.shell.ssh import Credentials
from smartlic.authority.services.scope import SYSTEM
from smartlic.cli import app
from smartlic.clock import Clock, ManualClock
from tests.e2e.conftest_agent import Authority, authority_fixture  # noqa: F401 - fixture

pytestmark = pytest.mark.e2e

CREDS = Credentials("admin", "pw", "en")


def run_fleet(root: Path, count: int, enrolment: Enrolment, clock: Clock,
              command: str, mode: str = "classic") -> tuple[dict[str, Any], list[str]]:  # fmt: skip
    """Serve ``count`` devices until ``command`` ran on each over SSH."""
    members = plan(count, 0, root, ["asr903"])

    async def main() -> tuple[dict[str, Any], list[str]]:
        stop = asyncio.Event()
        free = [_free_port() for _ in members]
        ported = [replace(m, port=port) for m, port in zip(members, free, strict=True)]
        fleet = run(root, ported, "127.0.0.1", CREDS, enrolment, mode, stop, clock)
        serving = asyncio.create_task(fleet)
        while not (root / "fleet.json").exists():
            assert not serving.done(), serving.result()
            await asyncio.sleep(0.05)
        outputs = [await _exec(port, command) for port in free]
        record = json.loads((root / "fleet.json").read_text())
        stop.set()
        await serving
        return record, outputs

    return asyncio.run(main())


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _exec(port: int, command: str) -> str:
    async with asyncssh.connect("127.0.0.1", port, username="admin", password="pw",
                                known_hosts=None, client_keys=None) as conn:  # fmt: skip
        return str((await conn.run(command)).stdout)


def test_fleet_registers_every_device_with_the_authority(
    authority: Authority, tmp_path: Path
) -> None:
    enrolment = Enrolment(authority=authority.url, token=authority.token())
    record, outputs = run_fleet(tmp_path, 2, enrolment, authority.clock, "show license status")
    assert record["failures"] == []
    for out in outputs:
        assert "  Status: REGISTERED\n  Smart Account: Example Corp\n" in out
        assert "Status: AUTHORIZED on " in out
    assert authority.services.instances.list_instances("example.com", scope=SYSTEM).total == 2


def test_fleet_installs_trust_on_policy_devices(authority: Authority, tmp_path: Path) -> None:
    enrolment = Enrolment(authority=authority.url, token=authority.token())
    record, outputs = run_fleet(
        tmp_path, 2, enrolment, authority.clock, "show license status", mode="policy"
    )
    assert record["failures"] == []
    for out in outputs:
        assert "Trust Code Installed:" in out
        assert "Trust Code Installed: <none>" not in out


def test_a_refused_token_is_reported_and_nothing_is_registered(
    authority: Authority, tmp_path: Path
) -> None:
    enrolment = Enrolment(authority=authority.url, token="not-a-token")
    record, outputs = run_fleet(tmp_path, 1, enrolment, authority.clock, "show license status")
    assert record["failures"][0].startswith("r1: license smart register idtoken not-a-token:")
    assert "Status: UNREGISTERED" in outputs[0]
    assert authority.services.instances.list_instances("example.com", scope=SYSTEM).total == 0


def test_fleet_points_policy_devices_at_a_collector(clock: ManualClock, tmp_path: Path) -> None:
    url = "http://127.0.0.1:8182/cslu/v1/pi"
    record, outputs = run_fleet(
        tmp_path, 1, Enrolment(collector=url), clock, "show license status", mode="policy"
    )
    assert record["failures"] == []
    assert f"  Type: cslu\n  Cslu address: {url}\n" in outputs[0]


def test_enrolment_lines_follow_the_mode_and_the_target() -> None:
    authority = Enrolment(authority="http://a", token="T")
    assert enrolment_lines(authority, policy_mode=False) == [
        *("configure terminal", "license smart enable", "end"),
        "license smart register idtoken T",
    ]
    assert enrolment_lines(authority, policy_mode=True) == ["license smart trust idtoken T local"]
    collector = enrolment_lines(Enrolment(collector="http://c/cslu/v1/pi"), policy_mode=True)
    assert collector[1:3] == ["license smart transport cslu",
                              "license smart url cslu http://c/cslu/v1/pi"]  # fmt: skip
    assert enrolment_lines(Enrolment(), policy_mode=True) == []


def test_the_testbed_loads_in_pyats(tmp_path: Path) -> None:
    from pyats.topology import loader

    path = tmp_path / "testbed.yaml"
    members = plan(2, 2201, tmp_path, ["asr903", "ixm"])
    path.write_text(fleet_module.testbed_yaml(members, "127.0.0.1", CREDS))
    testbed = loader.load(str(path))
    r2 = testbed.devices["r2"]
    assert (r2.os, r2.connections.cli.port) == ("iosxe", 2202)
    assert testbed.credentials["enable"]["password"].plaintext == "en"


runner = CliRunner()


@pytest.mark.parametrize(
    "options,message",
    [
        (["--token", "T"], "either --authority and --token, or --collector"),
        (["--authority", "http://a", "--token", "T", "--collector", "http://c"], "either"),
        (["--first-port", "65535", "--count", "2"], "go past 65535"),
    ],
)
def test_fleet_up_refuses_bad_options(tmp_path: Path, options: list[str], message: str) -> None:
    base = {"--count": "1", "--first-port": "2201"}
    for name, value in zip(options[::2], options[1::2], strict=True):
        base[name] = value
    argv = [arg for pair in base.items() for arg in pair]
    result = runner.invoke(app, ["lab", "fleet", "up", "--state-root", str(tmp_path), *argv])
    assert result.exit_code == 1
    assert message in result.output
    assert list(tmp_path.iterdir()) == []  # nothing started, nothing written


def test_fleet_down_without_a_fleet_fails_and_kills_nothing(tmp_path: Path) -> None:
    (tmp_path / "fleet.pid").write_text(str(os.getpid()))  # a pid that is not a fleet
    result = runner.invoke(app, ["lab", "fleet", "down", "--state-root", str(tmp_path)])
    assert result.exit_code == 1
    assert "no fleet is running" in result.output
    assert not (tmp_path / "fleet.pid").exists()  # the stale pid file is cleared
