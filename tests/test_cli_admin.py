"""``smartlic admin``: the services on the configured database, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.services import Services, build_services
from smartlic.cli import app
from smartlic.clock import LabClock
from smartlic.crypto import Udi
from smartlic.domain.products import make_tag
from smartlic.errors import AuthenticationFailed
from smartlic.storage import make_engine
from tests.devices import TestDevice

TAG = make_tag("metroipaccess")
D = "acme.example"
runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_authority_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's SMARTLIC_AUTHORITY_* / lab clock must not leak into these tests."""
    for name in list(os.environ):
        if name.startswith("SMARTLIC_AUTHORITY_") or name == "SMARTLIC_LAB_CLOCK":
            monkeypatch.delenv(name)


@dataclass
class Cli:
    env: dict[str, str]
    data_dir: Path
    lab_file: Path

    def ok(self, *args: str) -> str:
        result = runner.invoke(app, list(args), env=self.env)
        assert result.exit_code == 0, result.output
        return result.output

    def error(self, code: str, *args: str) -> str:
        result = runner.invoke(app, list(args), env=self.env)
        assert result.exit_code == 1, result.output
        assert result.stderr.startswith(f"Error [{code}]: "), result.stderr
        assert result.stdout == ""
        return result.stderr

    def row(self, output: str, first_cell: str) -> list[str]:
        """The cells of the Rich table row starting with ``first_cell``."""
        for line in output.splitlines():
            cells = [c.strip() for c in line.strip("│ ").split("│")]
            if cells and cells[0] == first_cell:
                return cells
        raise AssertionError(f"no row {first_cell!r} in:\n{output}")

    def services(self) -> Iterator[Services]:
        engine = make_engine(self.env["SMARTLIC_AUTHORITY_DATABASE_URL"])
        try:
            keys = AuthorityKeys.load(self.data_dir / "keys")
            yield build_services(engine, LabClock(self.lab_file), keys)
        finally:
            engine.dispose()


@pytest.fixture
def cli(db_url: str, tmp_path: Path) -> Cli:
    env = {
        "SMARTLIC_AUTHORITY_DATA_DIR": str(tmp_path / "authority"),
        "SMARTLIC_AUTHORITY_DATABASE_URL": db_url,
        "SMARTLIC_LAB_CLOCK": str(tmp_path / "lab-clock.json"),
        "COLUMNS": "250",
    }
    cli = Cli(env, tmp_path / "authority", tmp_path / "lab-clock.json")
    cli.ok("authority", "init")
    cli.ok("admin", "accounts", "create", "Acme", D)
    display = ("--name", "metroipaccess", "--display-name", "Device METRO IP ACCESS")
    cli.ok("admin", "licenses", "define", TAG, *display)
    return cli


def test_accounts_and_virtual_accounts(cli: Cli) -> None:
    assert cli.row(cli.ok("admin", "accounts", "list"), D)[1] == "Acme"
    cli.ok("admin", "va", "create", D, "East", "--description", "east coast")
    cli.ok("admin", "va", "rename", D, "East", "North")
    listing = cli.ok("admin", "va", "list", D)
    assert cli.row(listing, "DEFAULT")[1] == "yes"
    assert cli.row(listing, "North")[2] == "east coast"
    cli.error("conflict", "admin", "va", "create", D, "North")
    cli.error("conflict", "admin", "accounts", "create", "Again", D)
    cli.error("not-found", "admin", "va", "list", "nobody.example")
    cli.ok("admin", "va", "delete", D, "North")
    assert "North" not in cli.ok("admin", "va", "list", D)


def test_licenses_holdings_and_transfers(cli: Cli) -> None:
    assert cli.row(cli.ok("admin", "licenses", "catalogue"), "metroipaccess")[3] == TAG
    cli.ok("admin", "va", "create", D, "East")
    cli.ok("admin", "licenses", "add", D, "DEFAULT", "metroipaccess", "10")
    cli.ok(
        "admin", "licenses", "add", D, "DEFAULT", TAG, "2", "--kind", "term", "--ends", "2099-01-01"
    )
    cli.ok("admin", "licenses", "transfer", D, "DEFAULT", "East", "metroipaccess", "4")
    listing = cli.ok("admin", "licenses", "list", D, "DEFAULT")
    assert f"{D} / DEFAULT: In Compliance" in listing
    assert cli.row(listing, "Device METRO IP ACCESS")[1:] == ["8", "0", "0", "8", "In Compliance"]
    east = cli.ok("admin", "licenses", "list", D, "East")
    assert cli.row(east, "Device METRO IP ACCESS")[1] == "4"

    before = cli.ok("admin", "licenses", "list", D, "DEFAULT")
    cli.error(
        "insufficient-licenses", "admin", "licenses", "transfer", D, "DEFAULT", "East", TAG, "9"
    )
    cli.error("unknown-tag", "admin", "licenses", "add", D, "DEFAULT", "nosuchlicense", "1")
    cli.error("invalid-input", "admin", "licenses", "add", D, "DEFAULT", TAG, "0")
    cli.error("invalid-input", "admin", "licenses", "add", D, "DEFAULT", TAG, "1", "--kind", "x")
    cli.error("invalid-input", "admin", "licenses", "add", D, "DEFAULT", TAG, "1", "--ends", "soon")
    assert cli.ok("admin", "licenses", "list", D, "DEFAULT") == before


def test_tokens_devices_and_events_on_the_lab_clock(cli: Cli) -> None:
    cli.ok("admin", "va", "create", D, "East")
    cli.ok("admin", "licenses", "add", D, "DEFAULT", TAG, "5")
    out = cli.ok("admin", "tokens", "create", D, "DEFAULT", "--days", "1", "--max-uses", "3")
    token_id = re.search(r"token (\S+) ", out).group(1)  # type: ignore[union-attr]
    token_text = out.strip().splitlines()[-1]
    assert cli.row(cli.ok("admin", "tokens", "list", D, "DEFAULT"), token_id)[4] == "active"

    for services in cli.services():
        device = TestDevice(Udi("ASR-903", "FOX00001"), LabClock(cli.lab_file))
        device.accept_registration(
            _payload(services.device.register(device.register_request(token_text)))
        )
        services.device.authorize(device.authorize({TAG: 2}))
    listing = cli.ok("admin", "devices", "list", D)
    instance_id = (
        next(line for line in listing.splitlines() if "FOX00001" in line).split("│")[1].strip()
    )
    assert (
        cli.row(cli.ok("admin", "licenses", "list", D, "DEFAULT"), "Device METRO IP ACCESS")[2]
        == "2"
    )
    warning = "East would be Out of Compliance for metroipaccess: 2 in use, 0 purchased"
    dry = cli.ok("admin", "devices", "transfer", D, instance_id, "East", "--dry-run")
    assert "nothing moved" in dry and f"warning: {warning}" in dry
    assert "(0)" in cli.ok("admin", "devices", "list", D, "--va", "East")
    assert len(instance_id) == 8  # tables show a short id; any unique prefix names the instance
    moved = cli.ok("admin", "devices", "transfer", D, "ASR-903:FOX00001", "East")  # or the UDI
    assert "is now in East" in moved and f"warning: {warning}" in moved
    cli.error("invalid-input", "admin", "devices", "remove", D, instance_id[:3])
    cli.error("not-found", "admin", "devices", "remove", D, "ASR-903:NOSUCH")
    # the UDI as people type it (``Udi.parse``): the long form too; a half UDI is refused
    long_form = cli.ok("admin", "devices", "transfer", D, " PID:ASR-903,SN:FOX00001", "DEFAULT",
                       "--dry-run")  # fmt: skip
    assert "nothing moved" in long_form
    err = cli.error("invalid-input", "admin", "devices", "remove", D, "ASR-903:")
    assert "not a UDI: 'ASR-903:'" in err
    assert (
        cli.row(cli.ok("admin", "licenses", "list", D, "East"), "Device METRO IP ACCESS")[2] == "2"
    )
    cli.ok("admin", "devices", "remove", D, instance_id)
    assert "(0)" in cli.ok("admin", "devices", "list", D)
    cli.error("not-found", "admin", "devices", "remove", D, instance_id)

    cli.ok("lab", "advance", "2d")
    assert cli.row(cli.ok("admin", "tokens", "list", D, "DEFAULT"), token_id)[4] == "expired"
    revoked = cli.ok("admin", "tokens", "revoke", D, token_id)
    assert "revoked" in revoked
    events = cli.ok("admin", "events", D, "--prefix", "instance.")
    for name in ("instance.registered", "instance.transferred", "instance.removed"):
        assert name in events
    assert "Events (" in cli.ok("admin", "events")


def test_api_keys(cli: Cli) -> None:
    out = cli.ok("admin", "apikey", "create", "ops")
    assert out.strip().splitlines()[-1].startswith("slk_")
    scoped = cli.ok(
        "admin", "apikey", "create", "acme-ops", "--role", "smart-account-admin", "--account", D
    )
    assert "(smart-account-admin)" in scoped
    key_id = scoped.split()[2]
    cli.ok("admin", "apikey", "revoke", key_id)
    cli.error("not-found", "admin", "apikey", "revoke", "no-such-key")
    refused = cli.error("invalid-input", "admin", "apikey", "create", "x", "--role", "superuser")
    assert "--role: one of admin, smart-account-admin, " in refused  # cli.parse_role
    cli.error("invalid-input", "admin", "apikey", "create", "x", "--role", "smart-account-user")


def _payload(envelope: dict[str, object]) -> dict[str, object]:
    import json

    payload = envelope["payload"]
    assert isinstance(payload, str)
    data: dict[str, object] = json.loads(payload)
    return data


def test_api_clients_print_two_lines_and_their_tokens_stop_at_revoke(cli: Cli) -> None:
    out = cli.ok("admin", "api-clients", "create", D, "--role", "smart-account-user")
    lines = out.splitlines()
    assert [line.split(": ")[0] for line in lines] == ["client_id", "client_secret"]
    client_id, secret = (line.split(": ", 1)[1] for line in lines)
    assert re.fullmatch(r"[0-9a-f]{32}", client_id) and len(secret) >= 40
    for services in cli.services():
        token = services.api_clients.issue_token(client_id, secret).access_token
        assert services.api_clients.authenticate(token).smart_account == D
    row = cli.row(cli.ok("admin", "api-clients", "list", D), client_id)
    assert row[1:4] == ["smart-account-user", D, "-"] and row[5] == "-"
    assert secret not in cli.ok("admin", "api-clients", "list")
    cli.ok("admin", "api-clients", "revoke", client_id)
    assert cli.row(cli.ok("admin", "api-clients", "list"), client_id)[5] != "-"
    for services in cli.services():
        with pytest.raises(AuthenticationFailed, match="revoked"):
            services.api_clients.authenticate(token)
    cli.error("not-found", "admin", "api-clients", "revoke", "nope")
    refused = cli.error("invalid-input", "admin", "api-clients", "create", D, "--role", "superuser")
    assert "--role: one of admin, smart-account-admin, " in refused  # cli.parse_role
    cli.error(
        "invalid-input", "admin", "api-clients", "create", D, "--role", "virtual-account-user"
    )
    cli.error("not-found", "admin", "api-clients", "create", "nobody.example")
    va = ("--role", "virtual-account-admin", "--virtual-account", "DEFAULT")
    out = cli.ok("admin", "api-clients", "create", D, *va)
    assert cli.row(cli.ok("admin", "api-clients", "list"), out.split()[1])[3] == "DEFAULT"


def test_an_argument_that_is_no_text_is_refused(cli: Cli) -> None:
    """A byte the locale cannot decode reaches argv as a lone surrogate (``$'\\xff'``):
    ``va create``/``va list``/``licenses list`` raised UnicodeEncodeError, a traceback."""
    before = cli.ok("admin", "va", "list", D)
    for args in (("va", "create", D, "\udcff"), ("va", "list", "\udcff"),
                 ("licenses", "list", D, "East\udcff")):  # fmt: skip
        result = runner.invoke(app, ["admin", *args], env=cli.env)
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("Error [invalid-input]: not valid UTF-8 text")
    assert cli.ok("admin", "va", "list", D) == before
