"""A lab fleet: N simulated devices served over SSH from one process, and the files that
let automation tools find them (a pyATS testbed, an Ansible inventory, a netmiko inventory).

Device ``i`` (1-based) is ``r<i>``: state in ``<state-root>/r<i>``, SSH on ``first_port + i - 1``,
profile ``profiles[(i - 1) % len(profiles)]``. Enrolment, when asked, runs the commands an
engineer would type, through the device's own shell session:

* ``authority`` + ``token``: transport smart to the authority, then ``license smart enable``
  and ``license smart register idtoken <token>`` (classic) or ``license smart trust idtoken
  <token> local`` (policy);
* ``collector``: ``license smart transport cslu`` and ``license smart url cslu <url>``.

The written files hold the credentials (a pyATS testbed holds passwords too): they are
created mode 0600 in the state root.

Usage::

    members = plan(3, 2201, Path("var/fleet"), ["asr903"])
    write_files(Path("var/fleet"), members, "127.0.0.1", credentials)
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

from smartlic.agent.shell.cli import open_device
from smartlic.agent.shell.session import Session
from smartlic.agent.shell.ssh import Credentials, ServedDevice, serve_until_stopped
from smartlic.clock import Clock

__all__ = [
    "INVENTORY_FILE",
    "LOG_FILE",
    "NETMIKO_FILE",
    "PID_FILE",
    "STATE_FILE",
    "TESTBED_FILE",
    "Enrolment",
    "Member",
    "enrol",
    "plan",
    "run",
    "write_files",
]

PID_FILE = "fleet.pid"
STATE_FILE = "fleet.json"
TESTBED_FILE = "testbed.yaml"
INVENTORY_FILE = "inventory.yaml"
NETMIKO_FILE = "netmiko.yaml"
LOG_FILE = "fleet.log"


@dataclass(frozen=True)
class Member:
    name: str
    state: Path
    port: int
    profile: str


@dataclass(frozen=True)
class Enrolment:
    """Where the fleet's devices report; all None: they stay unregistered."""

    authority: str | None = None
    token: str | None = None
    collector: str | None = None


def plan(count: int, first_port: int, state_root: Path, profiles: list[str]) -> list[Member]:
    names = [f"r{i}" for i in range(1, count + 1)]
    return [
        Member(name, state_root / name, first_port + i, profiles[i % len(profiles)])
        for i, name in enumerate(names)
    ]


def enrolment_lines(enrolment: Enrolment, policy_mode: bool) -> list[str]:
    """The exec/configuration lines that enrol a device (the transport comes first)."""
    if enrolment.collector:
        url = enrolment.collector
        return ["configure terminal", "license smart transport cslu",
                f"license smart url cslu {url}", "end"]  # fmt: skip
    if enrolment.authority and enrolment.token:
        if policy_mode:
            return [f"license smart trust idtoken {enrolment.token} local"]
        enable = ["configure terminal", "license smart enable", "end"]
        return [*enable, f"license smart register idtoken {enrolment.token}"]
    return []


def enrol(session: Session, enrolment: Enrolment) -> str | None:
    """Run the enrolment lines; the first failure's output, or None."""
    for line in enrolment_lines(enrolment, session.device.policy_mode):
        outcome = session.execute(line)
        if outcome.failed:
            return f"{line}: {outcome.text.strip()}"
    return None


# -- files for the tools ---------------------------------------------------------------------


def _q(value: str | int) -> str:
    """A YAML scalar: JSON's quoting is valid YAML."""
    return json.dumps(value)


def testbed_yaml(members: list[Member], host: str, creds: Credentials) -> str:
    """A pyATS/unicon testbed: ``os: iosxe``, enable secret and SSH port per device.

    unicon waits 10 s after a disconnect by default (for a console server's line to clear);
    a simulated device has none, so the waits are 0."""
    lines = [
        "testbed:",
        "  name: smartlic-fleet",
        "  credentials:",
        "    default:",
        f"      username: {_q(creds.username)}",
        f"      password: {_q(creds.password)}",
        "    enable:",
        f"      password: {_q(creds.enable_secret)}",
        "devices:",
    ]
    for m in members:
        lines += [
            f"  {m.name}:",
            "    os: iosxe",
            "    type: router",
            "    connections:",
            "      cli:",
            "        protocol: ssh",
            f"        ip: {_q(host)}",
            f"        port: {m.port}",
            "        ssh_options: -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
            "        settings:",
            "          GRACEFUL_DISCONNECT_WAIT_SEC: 0",
            "          POST_DISCONNECT_WAIT_SEC: 0",
        ]
    return "\n".join(lines) + "\n"


def ansible_inventory_yaml(members: list[Member], host: str, creds: Credentials) -> str:
    """An Ansible inventory for ``network_cli`` with ``cisco.ios``."""
    lines = [
        "all:",
        "  vars:",
        "    ansible_connection: ansible.netcommon.network_cli",
        "    ansible_network_os: cisco.ios.ios",
        f"    ansible_user: {_q(creds.username)}",
        f"    ansible_password: {_q(creds.password)}",
        "    ansible_become: true",
        "    ansible_become_method: enable",
        f"    ansible_become_password: {_q(creds.enable_secret)}",
        "    ansible_host_key_checking: false",
        "  hosts:",
    ]
    for m in members:
        lines += [
            f"    {m.name}:",
            f"      ansible_host: {_q(host)}",
            f"      ansible_port: {m.port}",
        ]
    return "\n".join(lines) + "\n"


def netmiko_yaml(members: list[Member], host: str, creds: Credentials) -> str:
    """netmiko's inventory format (``.netmiko.yml``): one ConnectHandler dict per device."""
    lines: list[str] = []
    for m in members:
        lines += [
            f"{m.name}:",
            "  device_type: cisco_xe",
            f"  host: {_q(host)}",
            f"  port: {m.port}",
            f"  username: {_q(creds.username)}",
            f"  password: {_q(creds.password)}",
            f"  secret: {_q(creds.enable_secret)}",
        ]
    return "\n".join(lines) + "\n"


def _private(path: Path, text: str) -> None:
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text)


def write_files(
    root: Path,
    members: list[Member],
    host: str,
    creds: Credentials,
    pid: int,
    failures: list[str] | None = None,
) -> dict[str, str]:
    """Write the testbed, both inventories and ``fleet.json``; returns the files' paths."""
    files = {
        "testbed": (TESTBED_FILE, testbed_yaml(members, host, creds)),
        "ansible": (INVENTORY_FILE, ansible_inventory_yaml(members, host, creds)),
        "netmiko": (NETMIKO_FILE, netmiko_yaml(members, host, creds)),
    }
    paths = {}
    for kind, (name, text) in files.items():
        _private(root / name, text)
        paths[kind] = str(root / name)
    record = {
        "pid": pid,
        "host": host,
        "username": creds.username,
        "devices": [{**asdict(m), "state": str(m.state)} for m in members],
        "files": paths,
        "failures": failures or [],
    }
    _private(root / STATE_FILE, json.dumps(record, indent=2))
    return paths


# -- the serving process ---------------------------------------------------------------------


def open_member(
    member: Member,
    creds: Credentials,
    authority: str | None,
    mode: str | None,
    clock: Clock | None = None,
) -> ServedDevice:
    device = open_device(member.state, hostname=member.name, profile=member.profile, mode=mode,
                         authority=authority, clock=clock)  # fmt: skip
    return ServedDevice.open(device, member.state, creds)


async def run(
    root: Path,
    members: list[Member],
    host: str,
    creds: Credentials,
    enrolment: Enrolment,
    mode: str | None = None,
    stop: asyncio.Event | None = None,
    clock: Clock | None = None,
) -> None:
    """Open, enrol and serve every member until stopped (SIGTERM/SIGINT, or ``stop``); the
    files are written once every port listens (``fleet.json`` last: its presence means ready).
    ``clock``: the devices' clock (default: each device's lab clock)."""
    served: list[tuple[ServedDevice, int]] = []
    failures: list[str] = []
    try:
        for member in members:
            opening = partial(open_member, member, creds, enrolment.authority, mode, clock)
            one = await asyncio.to_thread(opening)
            served.append((one, member.port))
            session = one.session(privileged=True, echo=False)
            failure = await one.locked(partial(enrol, session, enrolment))
            failures += [f"{member.name}: {failure}"] if failure else []

        def ready() -> None:
            write_files(root, members, host, creds, os.getpid(), failures)

        await serve_until_stopped(served, host, ready, stop)
    finally:
        for one, _ in served:
            await one.locked(one.device.close)
