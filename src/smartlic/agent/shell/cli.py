"""``smartlic device``: an IOS-like shell on a simulated product instance.

    smartlic device --state ./r1 -c "configure terminal" -c "license smart enable" -c end
    smartlic device --state ./r1 -c "show license summary"
    printf 'show license status\\n' | smartlic device --state ./r1
    smartlic device --state ./r1            # interactive: r1#

The state directory keeps the device's identity (UDI), running configuration and the license
manager's state; each start re-applies the configuration (licenses are requested again, as
after a reload). The clock is the lab clock named by ``SMARTLIC_LAB_CLOCK`` when set (shared
with the authority), else a per-device lab clock in the state directory: real time plus
whatever ``lab clock advance`` added.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path
from typing import Annotated

import typer

from smartlic.agent import LicenseManager
from smartlic.agent.shell.commands import build_registry
from smartlic.agent.shell.config import ConfigStore, DeviceConfig
from smartlic.agent.shell.device import Device
from smartlic.agent.shell.repl import run_interactive, run_script
from smartlic.agent.shell.session import Session
from smartlic.clock import LAB_CLOCK_ENV, Clock, LabClock
from smartlic.crypto import Udi
from smartlic.domain.products import DEFAULT_PROFILE
from smartlic.errors import InvalidInput

__all__ = ["app", "open_device"]

app = typer.Typer(
    help="An IOS-like shell on a simulated device running the smartlic license manager.",
    no_args_is_help=False,
    add_completion=False,
)

IDENTITY_FILE = "identity.json"


def _identity(state: Path, pid: str | None, sn: str | None) -> Udi:
    """The device's UDI, fixed at its first start: a product's UDI never changes, and the
    license manager's registration in ``state`` belongs to it."""
    path = state / IDENTITY_FILE
    if path.exists():
        saved = Udi(**json.loads(path.read_text()))
        if (pid or saved.pid, sn or saved.sn) != (saved.pid, saved.sn):
            raise InvalidInput(
                f"this state directory belongs to {saved}; --pid/--sn cannot change it"
            )
        return saved
    udi = Udi(pid or DEFAULT_PROFILE.pid, sn or "SL" + secrets.token_hex(4).upper())
    state.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"pid": udi.pid, "sn": udi.sn}))
    return udi


def device_clock(state: Path) -> Clock:
    shared = os.environ.get(LAB_CLOCK_ENV)
    return LabClock(shared) if shared else LabClock(state / "clock.json")


def open_device(
    state: Path,
    *,
    hostname: str | None = None,
    pid: str | None = None,
    sn: str | None = None,
    authority: str | None = None,
    clock: Clock | None = None,
) -> Device:
    """Build and start the device kept in ``state`` (also used by tests and demos)."""
    udi = _identity(state, pid, sn)
    store = ConfigStore(state)
    config = store.load() or DeviceConfig()
    config.hostname = hostname or config.hostname
    if authority:
        config.transport, config.url = "smart", authority
    store.save(config)
    the_clock = clock or device_clock(state)

    def manager(name: str) -> LicenseManager:
        return LicenseManager(udi=udi, hostname=name, state_dir=state / "agent", clock=the_clock)

    device = Device(config=config, clock=the_clock, manager_factory=manager, store=store)
    device.start()
    return device


def _read(prompt: str) -> str:
    return input(prompt)


def _prefill(text: str) -> None:
    """Put ``text`` on the next input line (readline, when the platform has it)."""
    try:
        import readline
    except ImportError:  # pragma: no cover - e.g. Windows
        return

    def hook() -> None:
        readline.insert_text(text)
        readline.redisplay()
        readline.set_pre_input_hook(None)

    readline.set_pre_input_hook(hook)


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


@app.command()
def device(
    state: Annotated[Path, typer.Option("--state", help="The device's state directory.")],
    hostname: Annotated[str | None, typer.Option(help="Set the hostname (saved).")] = None,
    pid: Annotated[str | None, typer.Option(help="Product ID of the UDI (first start).")] = None,
    sn: Annotated[str | None, typer.Option(help="Serial number of the UDI (first start).")] = None,
    authority: Annotated[
        str | None, typer.Option(help="Authority URL: sets transport smart and its URL.")
    ] = None,
    command: Annotated[
        list[str] | None, typer.Option("-c", "--command", help="Run this command (repeatable).")
    ] = None,
    echo: Annotated[bool, typer.Option(help="Print the prompt and each command.")] = False,
) -> None:
    """An IOS-like shell on a simulated device running the smartlic license manager.

    Runs the -c commands, else the lines of stdin when it is not a terminal, else prompts.
    Exits 1 when a command failed (unknown input, a refused operation).
    """
    try:
        dev = open_device(state, hostname=hostname, pid=pid, sn=sn, authority=authority)
    except InvalidInput as exc:
        raise typer.BadParameter(exc.detail) from exc
    try:
        interactive = not command and sys.stdin.isatty()
        session = Session(dev, build_registry(), echo=echo or interactive)
        if interactive:
            run_interactive(session, _read, _write, _prefill)
            return
        failures = run_script(session, command or sys.stdin.read().splitlines(), _write)
    finally:
        dev.close()
    if failures:
        raise typer.Exit(code=1)
