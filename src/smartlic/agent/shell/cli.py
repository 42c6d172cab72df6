"""``smartlic device``: an IOS-like shell on a simulated product instance.

    smartlic device --state ./r1 -c "configure terminal" -c "license smart enable" -c end
    smartlic device --state ./r1 -c "show license summary"      # a transcript: Device#show ...
    smartlic device --state ./r1 --no-echo -c "show license summary"   # the output only
    printf 'show license status\\n' | smartlic device --state ./r1
    smartlic device --state ./r1            # interactive: r1#
    smartlic device --state ./gw --profile ixm --yes -c "configure terminal" \
        -c "common-packet-forwarder profile" -c "cpf enable" -c end
    smartlic device serve --state ./r1 --ssh-port 2201   # over SSH, until stopped (ssh.py)

``--profile`` picks the product at the first start (``asr903``, the first reference
document's router, ``ixm``, the second document's LoRaWAN gateway, or another platform of
docs/profiles.md: ``c9300``, ``c8000v``, ``isr4451``, ``csr1000v``); ``--mode`` the
licensing mode (new devices run Smart Licensing Using Policy when the agent supports it).
A command that asks a question (``cpf enable``: "Do you agree the above statement? [y/n]")
takes the next line as its answer; ``--yes`` answers ``y`` for you.

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
from typing import Annotated, Any

import typer

from smartlic.agent import LicenseManager
from smartlic.agent.shell.commands import build_registry
from smartlic.agent.shell.config import ConfigStore, DeviceConfig
from smartlic.agent.shell.device import Device
from smartlic.agent.shell.repl import run_interactive, run_script
from smartlic.agent.shell.session import Session
from smartlic.clock import LAB_CLOCK_ENV, Clock, LabClock
from smartlic.crypto import Udi
from smartlic.domain.products import DEFAULT_PROFILE, PROFILES, ProductProfile
from smartlic.errors import InvalidInput
from smartlic.formats.device_v1 import parse_udi, udi_json

__all__ = ["app", "open_device"]

app = typer.Typer(
    help="An IOS-like shell on a simulated device running the smartlic license manager.",
    no_args_is_help=False,
    add_completion=False,
)

IDENTITY_FILE = "identity.json"

# options the interactive shell and `device serve` share
ProfileOption = Annotated[
    str | None,
    typer.Option(
        help="Product at the first start: a profile of docs/profiles.md (default asr903)."
    ),
]
ModeOption = Annotated[str | None, typer.Option(help="Licensing mode: classic or policy (saved).")]


FLASH_DIR = "flash"


def _profile_name(profile: ProductProfile) -> str:
    return profile.name


def _profile(name: str | None) -> ProductProfile:
    if name is None:
        return DEFAULT_PROFILE
    if name not in PROFILES:
        raise InvalidInput(f"unknown profile {name!r}; one of: {', '.join(sorted(PROFILES))}")
    return PROFILES[name]


def _identity(
    state: Path, pid: str | None, sn: str | None, profile: str | None = None
) -> tuple[Udi, ProductProfile]:
    """The device's UDI and product, fixed at its first start: a product's UDI never changes,
    and the license manager's state in ``state`` belongs to it."""
    path = state / IDENTITY_FILE
    if path.exists():
        data = json.loads(path.read_text())
        saved, saved_profile = parse_udi(data, ""), data.get("profile", "asr903")
        if (pid or saved.pid, sn or saved.sn) != (saved.pid, saved.sn):
            raise InvalidInput(
                f"this state directory belongs to {saved}; --pid/--sn cannot change it"
            )
        if (profile or saved_profile) != saved_profile:
            raise InvalidInput(
                f"this state directory is a {saved_profile}; --profile cannot change it"
            )
        return saved, _profile(saved_profile)
    product = _profile(profile)
    udi = Udi(pid or product.pid, sn or "SL" + secrets.token_hex(4).upper())
    state.mkdir(parents=True, exist_ok=True)
    record = {**udi_json(udi), "profile": _profile_name(product)}
    path.write_text(json.dumps(record))
    return udi, product


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
    profile: str | None = None,
    mode: str | None = None,
    authority_ca: str | None = None,
) -> Device:
    """Build and start the device kept in ``state`` (also used by tests and demos).

    ``authority_ca`` (PEM) is the authority's root a policy-mode device checks imported files
    against - what Cisco builds into its devices; the manager keeps it in its state."""
    udi, product = _identity(state, pid, sn, profile)
    store = ConfigStore(state)
    config = store.load() or DeviceConfig(hostname=product.product_name)
    config.hostname = hostname or config.hostname
    config.mode = mode or config.mode
    if authority:
        config.transport, config.url = "smart", authority
    store.save(config)
    the_clock = clock or device_clock(state)

    def manager(cfg: DeviceConfig) -> LicenseManager:
        return _manager(udi, product, cfg, state / "agent", the_clock)

    device = Device(
        config=config,
        clock=the_clock,
        manager_factory=manager,
        store=store,
        profile=product,
        flash_dir=state / FLASH_DIR,
    )
    device.start()
    if authority_ca is not None:
        device.manager.set_authority_ca(authority_ca)
    return device


def _manager(
    udi: Udi, product: ProductProfile, cfg: DeviceConfig, state: Path, clock: Clock
) -> LicenseManager:
    options: dict[str, Any] = {
        "udi": udi,
        "hostname": cfg.hostname,
        "state_dir": state,
        "clock": clock,
        "software_tag": product.software_tag,
        "catalogue": {spec.tag: spec for spec in product.licenses},
    }
    if (mode := cfg.mode or product.licensing_mode) is not None:
        options["mode"] = mode
    return LicenseManager(**options)


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


@app.callback(invoke_without_command=True)
def device(
    ctx: typer.Context,
    state: Annotated[
        Path | None, typer.Option("--state", help="The device's state directory.")
    ] = None,
    hostname: Annotated[str | None, typer.Option(help="Set the hostname (saved).")] = None,
    pid: Annotated[str | None, typer.Option(help="Product ID of the UDI (first start).")] = None,
    sn: Annotated[str | None, typer.Option(help="Serial number of the UDI (first start).")] = None,
    authority: Annotated[
        str | None, typer.Option(help="Authority URL: sets transport smart and its URL.")
    ] = None,
    command: Annotated[
        list[str] | None, typer.Option("-c", "--command", help="Run this command (repeatable).")
    ] = None,
    echo: Annotated[
        bool | None,
        typer.Option(
            "--echo/--no-echo",
            help="Print the prompt and each command (default: with -c, as a transcript).",
        ),
    ] = None,
    profile: ProfileOption = None,
    mode: ModeOption = None,
    authority_ca: Annotated[
        Path | None,
        typer.Option(help="The authority's CA certificate (PEM file) for imported files."),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", help="Answer y to questions (cpf enable's agreement).")
    ] = False,
) -> None:
    """An IOS-like shell on a simulated device running the smartlic license manager.

    Runs the -c commands, else the lines of stdin when it is not a terminal, else prompts.
    Exits 1 when a command failed (unknown input, a refused operation).
    """
    if ctx.invoked_subcommand is not None:
        return
    if state is None:
        raise typer.BadParameter("Missing option '--state'.")
    try:
        dev = open_device(
            state,
            hostname=hostname,
            pid=pid,
            sn=sn,
            authority=authority,
            profile=profile,
            mode=mode,
            authority_ca=authority_ca.read_text() if authority_ca else None,
        )
    except InvalidInput as exc:
        raise typer.BadParameter(exc.detail) from exc
    try:
        interactive = not command and sys.stdin.isatty()
        registry = build_registry(dev.profile)
        # -c runs read as a transcript (issue 10): each command after its prompt, so a caret
        # under "% Invalid input" points at what was typed; piped stdin stays plain.
        shown = bool(command) if echo is None else echo
        session = Session(dev, registry, echo=shown or interactive, assume_yes=yes)
        if interactive:
            run_interactive(session, _read, _write, _prefill)
            return
        failures = run_script(session, command or sys.stdin.read().splitlines(), _write)
    finally:
        dev.close()
    if failures:
        raise typer.Exit(code=1)


@app.command()
def serve(
    state: Annotated[Path, typer.Option("--state", help="The device's state directory.")],
    ssh_port: Annotated[int, typer.Option(min=1, max=65535, help="SSH port to listen on.")],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    username: Annotated[str, typer.Option(help="Login name.")] = "admin",
    password: Annotated[
        str | None,
        typer.Option(envvar="SMARTLIC_SSH_PASSWORD", help="Login password (default: made up)."),
    ] = None,
    enable_secret: Annotated[
        str | None,
        typer.Option(envvar="SMARTLIC_SSH_ENABLE_SECRET", help="Enable secret (default: made up)."),
    ] = None,
    authorized_keys: Annotated[
        Path | None, typer.Option(help="OpenSSH authorized_keys file: key login too.")
    ] = None,
    hostname: Annotated[str | None, typer.Option(help="Set the hostname (saved).")] = None,
    profile: ProfileOption = None,
    mode: ModeOption = None,
    authority: Annotated[
        str | None, typer.Option(help="Authority URL: sets transport smart and its URL.")
    ] = None,
) -> None:
    """Serve the device over SSH until stopped (Ctrl-C or SIGTERM).

    Login with the username and password (or a key of --authorized-keys); the session starts
    in user EXEC (Device>) and enable asks for the enable secret. Credentials not given are
    made up and printed.
    """
    # asyncssh and the server load only for this command (smartlic device -c stays fast).
    import asyncio

    from smartlic.agent.shell.ssh import Credentials, ServedDevice, serve_until_stopped

    try:
        dev = open_device(state, hostname=hostname, profile=profile, mode=mode,
                          authority=authority)  # fmt: skip
    except InvalidInput as exc:
        raise typer.BadParameter(exc.detail) from exc
    keys = authorized_keys.read_text() if authorized_keys else None
    creds = Credentials.generate(username, password, enable_secret, keys)
    served = ServedDevice.open(dev, state, creds)

    def ready() -> None:
        typer.echo(f"{dev.config.hostname} listening on {host} port {ssh_port} (ssh "
                   f"-p {ssh_port} {creds.username}@{host})")  # fmt: skip
        if password is None:
            typer.echo(f"password       {creds.password}")
        if enable_secret is None:
            typer.echo(f"enable secret  {creds.enable_secret}")

    try:
        asyncio.run(serve_until_stopped([(served, ssh_port)], host, ready))
    finally:
        dev.close()
