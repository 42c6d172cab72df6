"""``smartlic authority``: set up and run the authority; the plumbing ``smartlic admin`` shares
(settings, services on the configured database, error printing).

Configuration (``SMARTLIC_AUTHORITY_*``, docs/configuration.md) and the database are loaded only
when a command runs, so ``--help`` stays fast. Errors print ``Error [code]: detail`` on stderr
and exit 1.

Usage::

    smartlic authority init && smartlic authority demo && smartlic authority serve
    smartlic admin licenses list demo.example DEFAULT
"""

from __future__ import annotations

import functools
import getpass
import os
import shlex
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, ParamSpec, TypeVar

import typer

from smartlic.domain.enums import Role
from smartlic.errors import InvalidInput, SmartlicError, Unavailable

if TYPE_CHECKING:
    from smartlic.authority.demo import DemoResult
    from smartlic.authority.services import Services
    from smartlic.authority.services.scope import Principal
    from smartlic.authority.settings import AuthoritySettings

__all__ = [
    "actor",
    "authority_app",
    "cli_errors",
    "fail",
    "open_services",
    "parse_date",
    "print_table",
    "require_free_port",
    "resolve_tag",
    "second_terminal_line",
    "settings_from_env",
    "when",
]

P = ParamSpec("P")
R = TypeVar("R")

authority_app = typer.Typer(
    help="Set up and run the authority (the CSSM role).", no_args_is_help=True
)
db_app = typer.Typer(help="The authority's database schema (Alembic).", no_args_is_help=True)
authority_app.add_typer(db_app, name="db")


# ---------------------------------------------------------------- shared plumbing


def fail(exc: SmartlicError) -> NoReturn:
    typer.echo(f"Error [{exc.code}]: {exc.detail}", err=True)
    raise typer.Exit(1)


def cli_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Print smartlic errors as ``Error [code]: detail`` and exit 1."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except SmartlicError as exc:
            fail(exc)
        except Exception as exc:
            # Database errors (unreachable server, unopenable file) are the user's to fix;
            # recognised by module so that importing the CLI does not import SQLAlchemy.
            if not type(exc).__module__.startswith("sqlalchemy."):
                raise
            detail = str(exc).splitlines()[0][:300]
            fail(Unavailable(f"database error: {type(exc).__name__}: {detail}", code="database"))

    return wrapper


def settings_from_env() -> AuthoritySettings:
    from pydantic import ValidationError

    from smartlic.authority.settings import AuthoritySettings

    try:
        return AuthoritySettings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(
            f"SMARTLIC_AUTHORITY_{where.upper()}: {first['msg']}", code="invalid-settings"
        ) from exc


def actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry, e.g. an arbitrary uid in a container
        return "cli"


def operator() -> Principal:
    """The CLI's caller as the services' ``scope``: whoever runs the CLI on the authority's
    host owns its data, so it may do anything (``scope.system``); events name ``actor()``."""
    from smartlic.authority.services.scope import system  # lazy: keeps --help fast

    return system(actor())


def require_initialised(settings: AuthoritySettings) -> None:
    from smartlic.authority.keys import AuthorityKeys
    from smartlic.storage.migrate import current

    if not AuthorityKeys.exists(settings.keys_path) or current(settings.database) is None:
        raise Unavailable(
            "the authority is not initialised: run 'smartlic authority init'",
            code="not-initialised",
        )


@contextmanager
def open_services() -> Iterator[Services]:
    """The authority's services on the configured database (lab clock aware)."""
    from smartlic.authority.keys import AuthorityKeys
    from smartlic.authority.services import build_services
    from smartlic.clock import clock_from_env
    from smartlic.storage import make_engine

    settings = settings_from_env()
    require_initialised(settings)
    engine = make_engine(settings.database)
    try:
        keys = AuthorityKeys.load(settings.keys_path)
        yield build_services(
            engine,
            clock_from_env(),
            keys,
            replay_window_s=settings.replay_window_s,
            smtp=settings.smtp(),
            revocation_stamp=settings.revocation_stamp,
            egress=settings.egress(),
            collector_sync=timedelta(seconds=settings.collector_sync_s),
        )
    finally:
        engine.dispose()


# ---------------------------------------------------------------- smartlic authority ...


@authority_app.command()
@cli_errors
def init() -> None:
    """Create the data directory and keys, and migrate the database (idempotent)."""
    from smartlic.authority.keys import AuthorityKeys
    from smartlic.clock import clock_from_env
    from smartlic.storage import upgrade
    from smartlic.storage.engine import make_engine

    settings = settings_from_env()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.data_dir.chmod(0o700)
    keys = AuthorityKeys.load_or_create(settings.keys_path, clock_from_env().now())
    upgrade(settings.database, sealing_key=keys.sealing_key)
    shown = make_engine(settings.database).url.render_as_string(hide_password=True)
    typer.echo(f"data dir     {settings.data_dir}")
    typer.echo(f"database     {shown} (at the latest schema)")
    typer.echo(f"keys         {settings.keys_path}")
    typer.echo(f"CA SHA-256   {keys.ca_fingerprint}")


@authority_app.command()
@cli_errors
def serve(
    host: Annotated[str | None, typer.Option(help="Override SMARTLIC_AUTHORITY_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Override SMARTLIC_AUTHORITY_PORT.")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Override SMARTLIC_AUTHORITY_WORKERS.")
    ] = None,
    tls: Annotated[
        bool, typer.Option("--tls", help="Serve HTTPS (a certificate from the authority's CA).")
    ] = False,
    tls_hostname: Annotated[
        list[str] | None,
        typer.Option(help="A name the certificate covers (repeat; default localhost, 127.0.0.1)."),
    ] = None,
    tls_cert: Annotated[
        Path | None, typer.Option(help="Serve HTTPS with this certificate chain (PEM) instead.")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="The private key of --tls-cert.")] = None,
) -> None:
    """Serve the HTTP API (management /api/v1, device protocol /api/device/v1, the CSSM
    API, /docs); with --tls over HTTPS (docs/cssm-api.md)."""
    from smartlic.web.logs import log_config
    from smartlic.web.serving import run, serving_config  # uvicorn: only when serving

    settings = settings_from_env()
    require_initialised(settings)

    bind_host, bind_port = host or settings.host, settings.port if port is None else port
    require_free_port(bind_host, bind_port)
    n_workers = workers or settings.workers
    if n_workers > 1:
        share_metrics_between_workers(settings.data_dir / "metrics")
    config = serving_config(
        "smartlic.authority.app:app_from_env",
        settings,
        factory=True,
        host=bind_host,
        port=bind_port,
        workers=n_workers,
        log_level=settings.log_level,
        log_config=log_config(settings.log_format),
        proxy_headers=False,  # the app believes X-Forwarded-* only from trusted_proxies
        **tls_options(settings, tls, tls_hostname or [], tls_cert, tls_key),
    )
    run(config)


def tls_options(
    settings: AuthoritySettings,
    tls: bool,
    names: list[str],
    cert: Path | None,
    key: Path | None,
) -> dict[str, str]:
    """uvicorn's ``ssl_certfile`` / ``ssl_keyfile``: the files given, or (``--tls``) a server
    certificate the authority's CA issues now for ``names``, kept in ``<data dir>/tls``."""
    from smartlic.authority.keys import AuthorityKeys
    from smartlic.clock import clock_from_env
    from smartlic.crypto import write_server_certificate

    if (cert is None) != (key is None):
        raise InvalidInput("--tls-cert and --tls-key go together")
    if cert is not None and key is not None:
        for path in (cert, key):
            if not path.is_file():
                raise InvalidInput(f"no such file: {path}")
        return {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
    if not tls:
        if names:
            raise InvalidInput("--tls-hostname needs --tls")
        return {}
    ca = AuthorityKeys.load(settings.keys_path).ca
    hosts = names or ["localhost", "127.0.0.1"]
    cert_path, key_path = write_server_certificate(
        ca, hosts, clock_from_env().now(), settings.data_dir / "tls"
    )
    typer.echo(f"HTTPS for {', '.join(hosts)}: {cert_path} (issued by {settings.keys_path}/ca.pem)")
    return {"ssl_certfile": str(cert_path), "ssl_keyfile": str(key_path)}


def share_metrics_between_workers(directory: Path) -> None:
    """Workers count requests in files under ``directory`` (emptied now: figures start at zero
    with the server), so ``/metrics`` from any worker shows them all (docs/deploy.md)."""
    import shutil

    from smartlic.web.metrics import MULTIPROC_ENV

    if MULTIPROC_ENV in os.environ:
        return  # the operator chose the place
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ[MULTIPROC_ENV] = str(directory)


def require_free_port(host: str, port: int) -> None:
    """A clear error, before the server starts, when something already listens there."""
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise Unavailable(
                f"cannot listen on {host}:{port}: {exc.strerror} (another server, perhaps an"
                f" earlier `smartlic authority serve`, uses it; stop it or pass --port)",
                code="port-in-use",
            ) from exc


@authority_app.command()
@cli_errors
def demo() -> None:
    """Seed the demo smart account "Demo Corp" (idempotent) and print how to use it."""
    from smartlic.authority.demo import seed_demo
    from smartlic.clock import clock_from_env

    settings = settings_from_env()
    with open_services() as services:
        result = seed_demo(services, clock_from_env(), settings.demo_file)
    _print_demo(result, settings)


def _print_demo(result: DemoResult, settings: AuthoritySettings) -> None:
    from smartlic.authority.demo import DEMO_PASSWORD, DEMO_USER

    url = f"http://{settings.host}:{settings.port}"
    pool = f"{url}/api/v1/accounts/{result.domain}/virtual-accounts/DEFAULT/licenses"
    verb = "Seeded" if result.created_anything else "Already seeded:"
    lines = [
        f"{verb} smart account {result.name!r} ({result.domain}), virtual accounts "
        + ", ".join(result.virtual_accounts),
        "",
        f"Portal:  {url}/portal   (user {DEMO_USER}, password {DEMO_PASSWORD})",
        f"API:     {url}/docs",
        "",
        f"Registration token (DEFAULT, expires {result.token_expires[:10]}):",
        f"  {result.token_text}",
        "Admin API key:",
        f"  {result.api_key}",
        "",
        "While the server runs, open another terminal and paste this line first",
        "(it puts smartlic on the PATH" + (" and shares the lab clock):" if _lab() else "):"),
        f"  {second_terminal_line()}",
        "then try:",
        f'  curl -H "Authorization: Bearer {result.api_key}" {pool}',
        "A simulated device in classic Smart Licensing, registered with the token:",
        f"  smartlic device --state var/devices/r1 --mode classic --authority {url} \\",
        '    -c "configure terminal" -c "license smart enable" -c "license feature atm" -c end \\',
        f'    -c "license smart register idtoken {result.token_text}" -c "show license summary"',
        "The document's LoRaWAN gateway in Smart Licensing Using Policy, reporting its usage:",
        f"  smartlic device --state var/devices/g1 --profile ixm --authority {url} \\",
        f"    --authority-ca {settings.keys_path / 'ca.pem'} --yes \\",
        '    -c "configure terminal" -c "common-packet-forwarder profile" \\',
        '    -c "cpf enable" -c end \\',
        f'    -c "license smart trust idtoken {result.token_text} local" \\',
        '    -c "license smart sync local" -c "show license status"',
    ]
    if _lab():
        lines += [
            "Thirty days later, for the authority and both devices at once:",
            "  smartlic lab advance 30d",
            '  smartlic device --state var/devices/r1 -c "show license status"',
        ]
    lines += ["", f"(kept in {settings.demo_file}, mode 0600; re-running prints the same)"]
    typer.echo("\n".join(lines))


def _lab() -> str | None:
    from smartlic.clock import LAB_CLOCK_ENV

    return os.environ.get(LAB_CLOCK_ENV) or None


def second_terminal_line() -> str:
    """One line for a new terminal: this directory, this venv's ``smartlic`` first on the PATH
    and, when this process follows a lab clock, the same clock file (docs/lab-mode.md)."""
    from smartlic.clock import LAB_CLOCK_ENV

    bin_dir = Path(sys.executable).parent  # the venv's bin, unresolved: where smartlic lives
    exports = [f'PATH={shlex.quote(str(bin_dir))}:"$PATH"']
    if lab := _lab():
        exports.append(f"{LAB_CLOCK_ENV}={shlex.quote(str(Path(lab).resolve()))}")
    return f"cd {shlex.quote(str(Path.cwd()))} && export " + " ".join(exports)


@db_app.command("upgrade")
@cli_errors
def db_upgrade() -> None:
    """Migrate the database to the latest schema."""
    from smartlic.authority.keys import AuthorityKeys
    from smartlic.storage import upgrade

    settings = settings_from_env()
    key = b""
    if AuthorityKeys.exists(settings.keys_path):  # seals stored secrets (webhooks)
        key = AuthorityKeys.load(settings.keys_path).sealing_key
    upgrade(settings.database, sealing_key=key)
    typer.echo("database at the latest schema")


@db_app.command("check")
@cli_errors
def db_check() -> None:
    """Exit 1 unless the database is at the latest schema and the models match it."""
    from alembic.script import ScriptDirectory
    from alembic.util.exc import AutogenerateDiffsDetected

    from smartlic.storage import check
    from smartlic.storage.migrate import alembic_config, current

    url = settings_from_env().database
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    at = current(url)
    if at != head:
        raise Unavailable(f"database at {at or 'no schema'}, latest is {head}", code="db-outdated")
    try:
        check(url)
    except AutogenerateDiffsDetected as exc:
        raise Unavailable(f"models and migrations differ: {exc}", code="db-drift") from exc
    typer.echo(f"database at {head}; models match the migrations")


# ---------------------------------------------------------------- output helpers


def print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*("-" if cell is None else str(cell) for cell in row))
    Console().print(table)


def when(value: object) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else "-"


def resolve_tag(services: Services, text: str) -> str:
    """Accept a license's short name (``metroipaccess``) wherever a tag is expected."""
    for lic in services.licenses.list_catalogue():
        if text in (lic.tag, lic.name):
            return lic.tag
    return text  # the service answers unknown-tag


def parse_role(text: str, option: str) -> Role:
    """A role by its value (``smart-account-admin``), else ``InvalidInput`` naming ``option``."""
    if text not in set(Role):
        raise InvalidInput(f"{option}: one of {', '.join(Role)}")
    return Role(text)


def parse_date(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(f"{option}: not an ISO date/time: {text!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
