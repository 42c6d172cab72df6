"""``smartlic lab fleet up|down``: N devices over SSH from one process (``agent/shell/fleet.py``).

::

    smartlic lab fleet up --count 20 --first-port 2201 --state-root var/fleet
    smartlic lab fleet up --count 5 --first-port 2301 --state-root var/f2 \
        --profile asr903 --profile ixm --authority http://127.0.0.1:8000 --token <idtoken>
    smartlic lab fleet down --state-root var/fleet

``up`` starts the serving process in the background (``--foreground`` keeps it attached),
waits until every device listens and is enrolled, and prints where they are and the
credentials it made up; ``down`` stops it through its pid file.

The shell, asyncssh and the license manager are imported inside the commands: ``lab`` is
mounted eagerly on ``smartlic`` and ``smartlic --help`` must stay fast.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from smartlic.agent.shell.fleet import Enrolment, Member
    from smartlic.agent.shell.ssh import Credentials

__all__ = ["fleet_app"]

PASSWORD_ENV = "SMARTLIC_SSH_PASSWORD"
SECRET_ENV = "SMARTLIC_SSH_ENABLE_SECRET"

fleet_app = typer.Typer(
    help="A fleet of simulated devices over SSH, for netmiko, scrapli, pyATS and Ansible.",
    no_args_is_help=True,
)

StateRoot = Annotated[
    Path, typer.Option("--state-root", help="Directory of the devices' state directories.")
]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(1)


def _running(root: Path) -> int | None:
    """The pid of the fleet serving ``root``, when that process is alive and is one."""
    from smartlic.agent.shell.fleet import PID_FILE  # heavy: see the module docstring

    try:
        pid = int((root / PID_FILE).read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    return pid if b"fleet" in cmdline and b"--foreground" in cmdline else None


@fleet_app.command()
def up(
    count: Annotated[int, typer.Option(min=1, max=5000, help="How many devices.")],
    first_port: Annotated[
        int, typer.Option(min=1, max=65535, help="SSH port of r1; r<i> listens on +i-1.")
    ],
    state_root: StateRoot,
    profile: Annotated[
        list[str] | None,
        typer.Option(help="Product profile, repeatable: devices take them in turn."),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    username: Annotated[str, typer.Option(help="Login name.")] = "admin",
    password: Annotated[
        str | None, typer.Option(envvar=PASSWORD_ENV, help="Login password (default: made up).")
    ] = None,
    enable_secret: Annotated[
        str | None, typer.Option(envvar=SECRET_ENV, help="Enable secret (default: made up).")
    ] = None,
    authorized_keys: Annotated[
        Path | None, typer.Option(help="OpenSSH authorized_keys file: key login too.")
    ] = None,
    mode: Annotated[str | None, typer.Option(help="Licensing mode: classic or policy.")] = None,
    authority: Annotated[
        str | None, typer.Option(help="Authority URL: transport smart, then register/trust.")
    ] = None,
    token: Annotated[str | None, typer.Option(help="ID token to register/trust with.")] = None,
    collector: Annotated[
        str | None, typer.Option(help="Collector CSLU URL: transport cslu to it.")
    ] = None,
    foreground: Annotated[
        bool, typer.Option("--foreground", help="Serve in this process until stopped.")
    ] = False,
    wait: Annotated[float, typer.Option(help="Seconds to wait for the fleet to start.")] = 120,
) -> None:
    """Serve COUNT devices over SSH from one process; write testbed.yaml, inventory.yaml and
    netmiko.yaml (with the credentials, mode 0600) in the state root."""
    from smartlic.agent.shell.fleet import Enrolment, plan
    from smartlic.agent.shell.ssh import Credentials

    if first_port + count - 1 > 65535:
        raise _fail(f"ports {first_port}..{first_port + count - 1} go past 65535")
    if (authority is None) != (token is None) or (authority and collector):
        raise _fail("enrol with either --authority and --token, or --collector")
    if (pid := _running(state_root)) is not None:
        raise _fail(f"a fleet already serves {state_root} (pid {pid}); stop it with "
                    f"smartlic lab fleet down --state-root {state_root}")  # fmt: skip
    creds = Credentials.generate(
        username, password, enable_secret, authorized_keys.read_text() if authorized_keys else None
    )
    members = plan(count, first_port, state_root, profile or ["asr903"])
    enrolment = Enrolment(authority, token, collector)
    if foreground:
        _serve(state_root, members, host, creds, enrolment, mode)
        return
    argv = ["--count", str(count), "--first-port", str(first_port), "--state-root",
            str(state_root), "--host", host, "--username", username]  # fmt: skip
    for name, value in (("--authorized-keys", authorized_keys), ("--mode", mode),
                        ("--authority", authority), ("--token", token),
                        ("--collector", collector)):  # fmt: skip
        argv += [name, str(value)] if value is not None else []
    for name in profile or []:
        argv += ["--profile", name]
    child = _spawn(state_root, creds, argv)
    _wait_ready(state_root, child, wait)
    _print_summary(state_root, members, host, creds, password, enable_secret)


def _spawn(root: Path, creds: Credentials, options: list[str]) -> subprocess.Popen[bytes]:
    """This command again with ``--foreground``, detached, the secrets in its environment."""
    from smartlic.agent.shell.fleet import LOG_FILE, STATE_FILE

    root.mkdir(parents=True, exist_ok=True)
    (root / STATE_FILE).unlink(missing_ok=True)
    env = {**os.environ, PASSWORD_ENV: creds.password, SECRET_ENV: creds.enable_secret}
    argv = [sys.executable, "-m", "smartlic", "lab", "fleet", "up", *options, "--foreground"]
    with (root / LOG_FILE).open("ab") as log:
        return subprocess.Popen(
            argv, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            start_new_session=True,
        )  # fmt: skip


def _wait_ready(root: Path, child: subprocess.Popen[bytes], wait: float) -> None:
    from smartlic.agent.shell.fleet import LOG_FILE, STATE_FILE

    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if (root / STATE_FILE).exists():
            return
        if child.poll() is not None:
            log = (root / LOG_FILE).read_text(errors="replace").splitlines()[-15:]
            raise _fail("the fleet did not start:\n" + "\n".join(log))
        time.sleep(0.1)
    child.terminate()
    raise _fail(f"the fleet did not start within {wait:g} s (see {root / LOG_FILE})")


def _print_summary(
    root: Path,
    members: list[Member],
    host: str,
    creds: Credentials,
    password: str | None,
    secret: str | None,
) -> None:
    from smartlic.agent.shell.fleet import STATE_FILE

    record = json.loads((root / STATE_FILE).read_text())
    last = members[-1]
    first = members[0]
    typer.echo(f"fleet of {len(members)} devices (pid {record['pid']}): {first.name}..{last.name}"
               f" on {host} ports {first.port}..{last.port}")  # fmt: skip
    typer.echo(f"username       {creds.username}")
    if password is None:
        typer.echo(f"password       {creds.password}")
    if secret is None:
        typer.echo(f"enable secret  {creds.enable_secret}")
    for kind, path in record["files"].items():
        typer.echo(f"{kind + ' file':<15}{path}")
    for failure in record.get("failures", []):
        typer.echo(f"warning: {failure}", err=True)
    typer.echo(f"stop it with   smartlic lab fleet down --state-root {root}")


def _serve(
    root: Path,
    members: list[Member],
    host: str,
    creds: Credentials,
    enrolment: Enrolment,
    mode: str | None,
) -> None:
    import asyncio

    from smartlic.agent.shell import fleet

    root.mkdir(parents=True, exist_ok=True)
    (root / fleet.PID_FILE).write_text(str(os.getpid()))
    try:
        asyncio.run(fleet.run(root, members, host, creds, enrolment, mode))
    finally:
        (root / fleet.STATE_FILE).unlink(missing_ok=True)  # no longer ready
        (root / fleet.PID_FILE).unlink(missing_ok=True)


@fleet_app.command()
def down(
    state_root: StateRoot,
    wait: Annotated[float, typer.Option(help="Seconds to wait for it to stop.")] = 30,
) -> None:
    """Stop the fleet serving STATE_ROOT (SIGTERM to the pid in its fleet.pid)."""
    from smartlic.agent.shell.fleet import PID_FILE

    pid = _running(state_root)
    if pid is None:
        (state_root / PID_FILE).unlink(missing_ok=True)
        raise _fail(f"no fleet is running for {state_root}")
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait
    while _running(state_root) == pid and time.monotonic() < deadline:
        time.sleep(0.1)
    if _running(state_root) == pid:
        raise _fail(f"the fleet (pid {pid}) did not stop within {wait:g} s")
    typer.echo(f"fleet stopped (pid {pid})")
