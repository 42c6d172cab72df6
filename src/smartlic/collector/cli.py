"""``smartlic collector ...``: set up, run and operate a collector (CSLU / satellite).

Every command works on the collector's store (``SMARTLIC_COLLECTOR_*``), so it works with or
without ``serve`` running (SQLite WAL lets both write). Errors print as ``Error [code]: detail``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from smartlic.authority.cli import cli_errors, operator, print_table, when
from smartlic.errors import InvalidInput, Unavailable

__all__ = ["collector_app"]

collector_app = typer.Typer(
    help="The collector (CSLU): gathers usage from devices, talks to the authority or exports "
    "files, and as a satellite serves classic devices.",
    no_args_is_help=True,
    add_completion=False,
)


def settings() -> Any:
    from smartlic.collector.settings import CollectorSettings

    return CollectorSettings()


@contextmanager
def open_services(*, initialising: bool = False) -> Iterator[Any]:
    """The collector's services on its store; only ``init`` may create a store that is not
    there yet (any other command says the collector is not initialised, and creates nothing)."""
    from smartlic.clock import clock_from_env
    from smartlic.collector.app import build

    cfg = settings()
    if not initialising:
        _require_initialised(cfg)
    engine, services = build(cfg, clock_from_env())
    try:
        if not initialising:
            _require_account(services, cfg)
        yield services
    finally:
        engine.dispose()


def _not_initialised(cfg: Any) -> Unavailable:
    return Unavailable(
        f"the collector is not initialised in {cfg.data_dir}: run `smartlic collector init`"
        " there first, or point SMARTLIC_COLLECTOR_DATA_DIR at its data directory",
        code="not-initialised",
    )


def _require_initialised(cfg: Any) -> None:
    from sqlalchemy.engine import make_url

    url = make_url(cfg.database)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        raise _not_initialised(cfg)


def _require_account(services: Any, cfg: Any) -> None:
    from smartlic.collector.prefs import load

    with services.status.transaction() as s:
        if load(s).smart_account is None:
            raise _not_initialised(cfg)


def change_prefs(*, initialising: bool = False, **changes: Any) -> dict[str, Any]:
    with open_services(initialising=initialising) as services:
        public: dict[str, Any] = services.status.change_preferences(changes)
        return public


def show(values: dict[str, Any]) -> None:
    print_table("Preferences", ["Preference", "Value"], sorted(values.items()))


@collector_app.command("init")
@cli_errors
def init(
    smart_account: Annotated[str, typer.Option(help="Smart account domain.")],
    virtual_account: Annotated[str, typer.Option(help="Virtual account name.")],
    authority_url: Annotated[str | None, typer.Option(help="e.g. http://127.0.0.1:8000")] = None,
    api_key: Annotated[str | None, typer.Option(help="API key scoped to the account.")] = None,
    offline: Annotated[bool, typer.Option(help="No connectivity: exchange files.")] = False,
    validate_device: Annotated[bool, typer.Option(help="Accept only known devices.")] = False,
    authority_ca: Annotated[
        Path | None, typer.Option(help="The authority's CA certificate (PEM file) to pin.")
    ] = None,
    authority_ca_fingerprint: Annotated[
        str | None,
        typer.Option(help="SHA-256 of the authority CA: fetch it from --authority-url, pin it."),
    ] = None,
) -> None:
    """Create the store and set the account, the authority and connectivity; pin the
    authority's CA, which every file imported and every answer received must chain to."""
    from smartlic.collector.services.trusted import ca_fingerprint_of, choose_ca

    if not offline and not (authority_url and api_key):
        raise InvalidInput("give --authority-url and --api-key, or --offline")
    pem = choose_ca(
        ca_file=authority_ca, fingerprint_hex=authority_ca_fingerprint, authority_url=authority_url
    )
    if pem is None and not offline:
        assert authority_url is not None
        raise InvalidInput(
            "pin the authority's CA: give --authority-ca FILE, or confirm its fingerprint with "
            f"--authority-ca-fingerprint {ca_fingerprint_of(authority_url)} (check it with the "
            "authority's operator before you do)",
            code="no-authority-ca",
        )
    values = change_prefs(
        initialising=True,
        smart_account=smart_account,
        virtual_account=virtual_account,
        authority_url=authority_url,
        api_key=api_key,
        connectivity=not offline,
        validate_device=validate_device,
    )
    if pem is not None:
        values = _pin_ca(pem)
    typer.echo(f"collector initialised in {settings().data_dir}")
    show(values)
    if values.get("authority_ca") is None:
        typer.echo("No authority CA pinned: imports are refused until 'init --authority-ca FILE'.")
    _new_rest_token()


def _pin_ca(pem: str) -> dict[str, Any]:
    from smartlic.collector.prefs import load, save

    with open_services() as services, services.status.transaction() as s:
        prefs = load(s)
        prefs.authority_ca_pem = pem
        save(s, prefs)
        return prefs.public()


@collector_app.command("rest-token")
@cli_errors
def rest_token() -> None:
    """Make a new token for the collector's REST API (port 8180); the old one stops working."""
    _new_rest_token()


def _new_rest_token() -> None:
    from smartlic.collector.prefs import load, save
    from smartlic.crypto import hash_secret, make_api_key

    token = make_api_key()
    with open_services() as services, services.status.transaction() as s:
        prefs = load(s)
        prefs.rest_token_hash = hash_secret(token)
        save(s, prefs)
    typer.echo(f"REST API token (shown once; send as 'Authorization: Bearer ...'):\n  {token}")


@collector_app.command("serve")
@cli_errors
def serve() -> None:
    """Run the product instance service (8182), the REST API (8180) and the forwarder."""
    from smartlic.collector.app import serve as run

    conf = settings()
    with open_services():  # refuses, creating nothing, when `init` has not run
        pass
    typer.echo(
        f"collector: devices -> http://{conf.host}:{conf.pi_port}/cslu/v1/pi, "
        f"API -> http://{conf.host}:{conf.api_port}/docs, "
        f"web page -> http://{conf.host}:{conf.api_port}/ui/ (log in with the REST API token)"
    )
    run(conf)


@collector_app.command("devices")
@cli_errors
def devices(alerts: Annotated[int, typer.Option(help="Alerts shown per device.")] = 1) -> None:
    """Product instances: Name, Last Contact, Alerts (as the CSLU screen shows them)."""
    with open_services() as services:
        rows = [
            [d.name, d.hostname, d.mode, when(d.last_contact), "\n".join(d.alerts) or "-",
             f"{d.reports - d.pending - d.rejected}/{d.reports}",
             f"{d.rejected}: {d.rejection}" if d.rejected else "-"]
            for d in services.status.devices(alerts=alerts)
        ]  # fmt: skip
    columns = ["Name", "Hostname", "Mode", "Last Contact", "Alerts", "Acked/Reports", "Refused"]
    print_table("Product instances", columns, rows)


@collector_app.command("add-device")
@cli_errors
def add_device(
    pid: str,
    sn: str,
    address: Annotated[
        str | None, typer.Argument(help="On-box API base URL (pull), e.g. https://10.0.0.5")
    ] = None,
    username: Annotated[str | None, typer.Option(help="Login of the on-box API.")] = None,
    password: Annotated[str | None, typer.Option(help="Password of the on-box API.")] = None,
) -> None:
    """Add a known device (Validate Device); with an ADDRESS, a collector-initiated one."""
    from smartlic.crypto import Udi

    if address and not (username and password):
        raise InvalidInput("a collector-initiated device needs --username and --password")
    with open_services() as services:
        device = services.puller.add_device(Udi(pid, sn), address, username, password)
    kind = f"at {address} (collector-initiated)" if address else "(product instance initiated)"
    typer.echo(f"added {device.name} {kind}")


@collector_app.command("forget-trust")
@cli_errors
def forget_trust(pid: str, sn: str) -> None:
    """Forget the trust key pinned for a device (after its trust was re-established elsewhere)."""
    from smartlic.collector.services._base import find_device
    from smartlic.crypto import Udi
    from smartlic.errors import NotFound

    with open_services() as services, services.status.transaction() as s:
        device = find_device(s, Udi(pid, sn))
        if device is None:
            raise NotFound(f"no device {pid}:{sn}")
        device.trust_key_id = device.trust_public_key = None
    typer.echo(f"forgot the trust key of {pid}:{sn}; its next report pins the key it carries")


@collector_app.command("status")
@cli_errors
def status() -> None:
    """Report counts by state."""
    from dataclasses import asdict

    with open_services() as services:
        totals = asdict(services.status.totals())
    print_table("Collector", ["Reports", "Count"], totals.items())


@collector_app.command("connectivity")
@cli_errors
def connectivity(state: Annotated[str, typer.Argument(help="on | off")]) -> None:
    """Turn "Cisco connectivity" on (forward online) or off (exchange files)."""
    if state not in ("on", "off"):
        raise InvalidInput("connectivity is 'on' or 'off'")
    change_prefs(connectivity=state == "on")
    typer.echo(f"Cisco connectivity is {state}")


@collector_app.command("preferences")
@cli_errors
def preferences(
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="key=value, e.g. validate_device=true")
    ] = None,
) -> None:
    """Show the preferences, or change some."""
    from smartlic.collector.settings import CollectorSettings

    changes = dict(_parse_pref(item) for item in set_ or [])
    values = change_prefs(**changes) if changes else _current()
    conf: CollectorSettings = settings()
    values |= {"pi_port (product instance service)": conf.pi_port, "api_port (REST)": conf.api_port}
    show(values)


def _current() -> dict[str, Any]:
    with open_services() as services:
        result: dict[str, Any] = services.status.prefs().public()
        return result


def _parse_pref(item: str) -> tuple[str, Any]:
    key, sep, raw = item.partition("=")
    if not sep:
        raise InvalidInput(f"--set {item!r}: use key=value")
    value: Any = {"true": True, "false": False, "none": None}.get(raw.lower(), raw)
    return key.strip(), value


@collector_app.command("sync")
@cli_errors
def sync() -> None:
    """Forward everything pending to the authority and fetch its answers now."""
    with open_services() as services:
        result = services.forwarder.sync()
    typer.echo(
        f"uploaded {result.uploaded} reports, {result.acknowledged} acknowledged, "
        f"{result.authorizations} authorization requests, {result.pending_tasks} still pending"
    )


@collector_app.command("pull")
@cli_errors
def pull() -> None:
    """Collect from every collector-initiated device now (and push their ACKs)."""
    with open_services() as services:
        result = services.puller.pull_all()
    typer.echo(
        f"collected {result.reports} reports from {result.devices} devices, "
        f"pushed {result.delivered} ACKs"
    )
    for error in result.errors:
        typer.echo(f"FAILED {error}", err=True)
    if result.errors:
        raise typer.Exit(1)


@collector_app.command("export")
@cli_errors
def export(
    out: Annotated[Path | None, typer.Option(help="File or directory (default: here).")] = None,
    virtual_account: Annotated[
        str | None, typer.Option(help="Only this virtual account's devices (default: ours).")
    ] = None,
) -> None:
    """Download All for Cisco: one .tar.gz of everything not yet acknowledged."""
    with open_services() as services:
        result = services.transfer.export(virtual_account)
    target = out or Path(result.name)
    if target.is_dir():
        target = target / result.name
    target.write_bytes(result.content)
    typer.echo(f"wrote {target}: {result.reports} reports of {result.devices} devices")


@collector_app.command("export-requests")
@cli_errors
def export_requests(
    out: Annotated[Path, typer.Option(help="Directory for the request files.")] = Path("."),
) -> None:
    """Disconnected SLAC: one request file per authorization request waiting for a code."""
    with open_services() as services:
        files = services.transfer.export_requests()
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files:
        (out / name).write_bytes(data)
        typer.echo(f"wrote {out / name}")
    typer.echo(f"{len(files)} authorization request files")


@collector_app.command("import")
@cli_errors
def import_(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """Upload from Cisco: import the authority's ACK archive (or one ACK file)."""
    with open_services() as services:
        result = services.transfer.import_acks(file.read_bytes(), file.name)
    typer.echo(
        f"imported {result.files} ACK files ({result.new_files} new), "
        f"{result.acknowledged} reports acknowledged"
    )


# ---------------------------------------------------------------- smartlic collector satellite

satellite_app = typer.Typer(
    help="Satellite: a local license authority for classic devices (one virtual account).",
    no_args_is_help=True,
)
collector_app.add_typer(satellite_app, name="satellite")


@contextmanager
def open_satellite() -> Iterator[tuple[Any, Any]]:
    from smartlic.clock import clock_from_env
    from smartlic.collector.satellite import Satellite

    with open_services() as services:
        sat = Satellite(settings().satellite_dir, clock_from_env())
        try:
            yield sat, services
        finally:
            sat.close()


@satellite_app.command("init")
@cli_errors
def satellite_init() -> None:
    """Create the local authority (database, keys, the account) and turn the satellite on."""
    with open_satellite() as (sat, services):
        sat.init(services.status.prefs())
    change_prefs(satellite=True)
    typer.echo(f"satellite ready in {sat.directory}; classic devices register at the product "
               "instance service URL (restart serve)")  # fmt: skip


@satellite_app.command("token")
@cli_errors
def satellite_token(
    days: Annotated[int, typer.Option(help="Valid for 1-365 days.")] = 30,
    max_uses: Annotated[int | None, typer.Option(help="Registrations allowed.")] = None,
) -> None:
    """Create a registration token at the satellite and print it."""
    with open_satellite() as (sat, services):
        typer.echo(sat.token(services.status.prefs(), days=days, max_uses=max_uses))


@satellite_app.command("sync")
@cli_errors
def satellite_sync(
    licenses: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="Offline: the VA's license list (JSON) saved from the authority.",
        ),
    ] = None,
) -> None:
    """Synchronise: mirror the VA's holdings and push usage up (online, or by files)."""
    from smartlic.collector.satellite import read_license_list, sync_online

    with open_satellite() as (sat, services):
        if licenses is None:
            state = sync_online(sat, services)
        else:
            listed = read_license_list(licenses.read_bytes())
            state = sat.sync(services, services.status.prefs(), listed)
    _print_satellite(state)


@satellite_app.command("status")
@cli_errors
def satellite_status() -> None:
    """Holdings mirrored at the last synchronisation, local use, conflicts."""
    with open_satellite() as (sat, services):
        state = sat.load_status(services)
        view = sat.services().licenses.compliance(*_account_of(services), scope=operator())
    rows = [[ln.display_name, ln.purchased, ln.in_use + ln.reserved, ln.status.value]
            for ln in view.lines]  # fmt: skip
    print_table("Satellite licenses", ["License", "Held (last sync)", "In use", "Status"], rows)
    _print_satellite(state)


def _account_of(services: Any) -> tuple[str, str]:
    prefs = services.status.prefs()
    return prefs.smart_account, prefs.virtual_account


def _print_satellite(state: Any) -> None:
    typer.echo(f"last synchronisation: {state.last_sync or 'never'}")
    for text in state.conflicts:
        typer.echo(text)
    typer.echo(f"{len(state.pushed)} product instances reported up")
