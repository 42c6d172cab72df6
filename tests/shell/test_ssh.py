"""The SSH transport on loopback, with asyncssh's client: login, keys, channels, exec requests.

The real automation tools (netmiko, scrapli, unicon) are in tests/e2e/test_automation_tools.py.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from smartlic.agent.shell.device import Device
from smartlic.agent.shell.ssh import HOST_KEY_FILE, Credentials, ServedDevice, serve_device

CREDS = Credentials("admin", "pw-123", "en-456")
Scenario = Callable[[int], Awaitable[Any]]


def serve(served: ServedDevice, scenario: Scenario) -> Any:
    """Serve on an ephemeral loopback port while ``scenario(port)`` runs."""

    async def main() -> Any:
        acceptor = await serve_device(served, "127.0.0.1", 0)
        try:
            return await scenario(acceptor.get_port())
        finally:
            acceptor.close()
            await acceptor.wait_closed()

    return asyncio.run(main())


def connect(port: int, **options: Any) -> Any:
    options.setdefault("password", CREDS.password)
    options.setdefault("username", CREDS.username)
    return asyncssh.connect("127.0.0.1", port, known_hosts=None, client_keys=None, **options)


async def read_until(process: Any, marker: str, after: str = "") -> str:
    """Read until the screen ends with ``marker`` (and has shown ``after``)."""
    text = ""
    while not text.endswith(marker) or after not in text:
        text += await asyncio.wait_for(process.stdout.read(4096), 10)
    return text


@pytest.fixture
def served(make_device: Callable[..., Device], tmp_path: Path) -> ServedDevice:
    return ServedDevice.open(make_device(), tmp_path / "r1", CREDS)


def test_password_login_then_enable_over_a_pty(served: ServedDevice) -> None:
    async def scenario(port: int) -> str:
        async with connect(port) as conn:
            process = await conn.create_process(term_type="vt100")
            text = await read_until(process, "Device>")
            process.stdin.write(f"enable\r\n{CREDS.enable_secret}\r\nshow license udi\r\n")
            text += await read_until(process, "Device#", after="FOX1234ABCD")
            process.stdin.write("exit\r")
            await asyncio.wait_for(process.wait_closed(), 10)
            return text

    text = serve(served, scenario)
    assert text.startswith("Device>enable\r\nPassword: \r\nDevice#show license udi\r\n")
    assert CREDS.enable_secret not in text
    assert "FOX1234ABCD" in text


@pytest.mark.parametrize("username,password", [("admin", "wrong"), ("root", CREDS.password)])
def test_wrong_credentials_are_refused(served: ServedDevice, username: str, password: str) -> None:
    async def scenario(port: int) -> None:
        async with connect(port, username=username, password=password):
            pass  # pragma: no cover - refused before

    with pytest.raises(asyncssh.PermissionDenied):
        serve(served, scenario)
    assert served.device.config.hostname == "Device"


def test_public_key_login_only_with_an_authorized_key(
    make_device: Callable[..., Device], tmp_path: Path
) -> None:
    known, stranger = (asyncssh.generate_private_key("ssh-ed25519") for _ in range(2))
    authorized = known.export_public_key().decode()
    creds = Credentials("admin", "pw", "en", authorized_keys=authorized)
    served = ServedDevice.open(make_device(), tmp_path / "r1", creds)

    async def login(port: int, key: asyncssh.SSHKey) -> str:
        async with asyncssh.connect("127.0.0.1", port, username="admin", known_hosts=None,
                                    client_keys=[key], password=None) as conn:  # fmt: skip
            done = await conn.run("show license udi", check=True)
            return str(done.stdout)

    assert "FOX1234ABCD" in serve(served, lambda port: login(port, known))
    with pytest.raises(asyncssh.PermissionDenied):
        serve(served, lambda port: login(port, stranger))


def test_the_host_key_is_made_once_and_kept_private(
    served: ServedDevice, make_device: Callable[..., Device], tmp_path: Path
) -> None:
    path = tmp_path / "r1" / HOST_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = ServedDevice.open(served.device, tmp_path / "r1", CREDS)
    assert again.key.export_public_key() == served.key.export_public_key()

    async def fingerprint(port: int) -> str:
        async with connect(port) as conn:
            key = conn.get_server_host_key()
            assert key is not None
            return str(key.get_fingerprint())

    assert serve(again, fingerprint) == served.key.get_fingerprint()


def test_an_exec_request_runs_its_command_without_a_prompt(served: ServedDevice) -> None:
    async def scenario(port: int) -> tuple[Any, Any]:
        async with connect(port) as conn:
            good = await conn.run("show license udi")
            bad = await conn.run("show licnese udi")
            return good, bad

    good, bad = serve(served, scenario)
    assert good.exit_status == 0 and "FOX1234ABCD" in good.stdout
    assert "Device>" not in good.stdout
    assert bad.exit_status == 1 and "% Invalid input" in bad.stdout


def test_channels_share_the_device(served: ServedDevice) -> None:
    """Two sessions on one device: what one configures, the other sees (one device)."""

    async def scenario(port: int) -> str:
        async with connect(port) as conn:
            first = await conn.create_process(term_type="vt100")
            second = await conn.create_process(term_type="vt100")
            await read_until(first, "Device>")
            await read_until(second, "Device>")
            first.stdin.write(f"enable\r{CREDS.enable_secret}\rconfigure terminal\rhostname R9\r")
            await read_until(first, "R9(config)#")
            second.stdin.write("\r")
            return await read_until(second, "R9>")

    assert serve(served, scenario).endswith("\r\nR9>")
    assert served.device.config.hostname == "R9"


def test_device_serve_prints_made_up_credentials_and_stops_on_sigterm(tmp_path: Path) -> None:
    """``smartlic device serve`` as a user runs it: a separate process, stopped by SIGTERM."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    env = {**os.environ, "SMARTLIC_LAB_CLOCK": str(tmp_path / "lab-clock.json")}
    argv = [sys.executable, "-m", "smartlic", "device", "serve", "--state", str(tmp_path / "r1"),
            "--ssh-port", str(port), "--hostname", "edge-9"]  # fmt: skip
    with subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True) as server:
        _use_served(server, port)
    assert server.returncode == 0  # SIGTERM: a clean stop
    assert (tmp_path / "r1" / HOST_KEY_FILE).exists()


def _use_served(server: subprocess.Popen[str], port: int) -> None:
    try:
        assert server.stdout is not None
        lines = [server.stdout.readline() for _ in range(3)]
        assert lines[0].startswith(f"edge-9 listening on 127.0.0.1 port {port}")
        password = lines[1].split()[-1]
        assert lines[2].startswith("enable secret")

        async def udi() -> Any:
            async with connect(port, password=password) as conn:
                return await conn.run("show license udi")

        done = asyncio.run(udi())
        assert done.exit_status == 0 and "SN:" in done.stdout
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
