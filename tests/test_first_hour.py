"""The first hour: what ``make up`` runs and prints, followed as a newcomer would.

``make up`` starts the authority on the lab clock and prints a block of commands for a second
terminal. This test runs the same three steps (real processes on 127.0.0.1), then pastes every
printed command, in order, into ONE fresh ``bash`` that knows nothing of this environment (no
venv on its PATH, no lab clock variable): the printed line must be enough.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _smartlic(*args: str, env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "smartlic", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def made_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, int]]:
    """``make up`` in a fresh directory: init, demo (its output returned) and serve, on the lab
    clock."""
    tmp_path = tmp_path_factory.mktemp("first-hour")
    port = _free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SMARTLIC_")}
    env = {
        **clean,
        "SMARTLIC_LAB_CLOCK": str(tmp_path / "var/lab-clock.json"),
        "SMARTLIC_AUTHORITY_PORT": str(port),
    }
    _smartlic("authority", "init", env=env, cwd=tmp_path)
    printed = _smartlic("authority", "demo", env=env, cwd=tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "smartlic", "authority", "serve"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, "the server exited"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not come up"
                time.sleep(0.1)
        yield printed, tmp_path, port
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def printed_commands(printed: str) -> list[str]:
    """The indented command lines after "paste this line first", continuations joined."""
    block = printed[printed.index("paste this line first") :]
    commands: list[str] = []
    pending = ""
    for line in block.splitlines():
        if not line.startswith("  "):
            continue
        text = line.strip()
        if pending or text.startswith(("cd ", "curl ", "smartlic ")):
            pending += text[:-1] + " " if text.endswith("\\") else text
            if not text.endswith("\\"):
                commands.append(pending)
                pending = ""
    return commands


def test_make_up_runs_the_demo_on_the_lab_clock_and_installs_only_runtime() -> None:
    recipe = subprocess.run(
        ["make", "-n", "up"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert f"SMARTLIC_LAB_CLOCK={ROOT}/var/lab-clock.json" in recipe
    assert "[test,dev]" not in recipe  # `make up` never installs the test and dev tools


def test_every_printed_command_works_as_printed_in_a_fresh_shell(
    made_up: tuple[str, Path, int],
) -> None:
    printed, where, port = made_up
    assert f"http://127.0.0.1:{port}/portal" in printed
    assert "user demo, password demo-password" in printed
    commands = printed_commands(printed)
    assert commands[0].startswith(f"cd {where} && export PATH=")
    assert [c.split()[0] for c in commands[1:]] == [
        "curl",
        "smartlic",
        "smartlic",
        "smartlic",
        "smartlic",
    ]
    script = "set -e\n" + "".join(f"{c}\necho '=== done'\n" for c in commands)
    fresh = {"HOME": str(where), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    if "PYTHONPATH" in os.environ:  # a work tree's sources, when the suite runs from one
        fresh["PYTHONPATH"] = os.environ["PYTHONPATH"]
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", script],
        env=fresh,
        cwd="/",
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, (done.stdout, done.stderr)
    outputs = done.stdout.split("=== done\n")
    _, pool, classic, gateway, lab, later, _end = outputs
    assert "atm" in {line["name"] for line in json.loads(pool)["lines"]}
    assert "Status: REGISTERED" in classic and "atm" in classic
    assert re.search(r"Trust Code Installed|Trust Code.*INSTALLED", gateway, re.I), gateway
    assert "offset      +30d" in lab
    assert "% " not in later, later
    # the device follows the authority 30 days on: it renewed its authorization then
    registered = _date(r"Initial Registration: SUCCEEDED on (.+? UTC)", later)
    authorized = _date(r"Status: AUTHORIZED on (.+? UTC)", later)
    assert 30 <= (authorized - registered).days <= 31, later


def _date(pattern: str, text: str) -> datetime:
    found = re.search(pattern, text)
    assert found, text
    return datetime.strptime(found.group(1), "%b %d %H:%M:%S %Y UTC")


def test_the_server_address_leads_to_the_portal(made_up: tuple[str, Path, int]) -> None:
    _, _, port = made_up
    answer = httpx.get(f"http://127.0.0.1:{port}/")
    assert (answer.status_code, answer.headers["location"]) == (303, "/portal")
    login = httpx.get(f"http://127.0.0.1:{port}/", follow_redirects=True)
    assert login.status_code == 200 and "<form" in login.text
