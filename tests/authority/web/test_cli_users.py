"""``smartlic admin user``: portal users from the command line, on SQLite and PostgreSQL; a user
created there logs in to the portal."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from smartlic.authority.services.portal_sessions import SqlPortalSessionsService
from smartlic.authority.services.users import SqlUsersService
from smartlic.cli import app
from smartlic.clock import SystemClock
from smartlic.storage import make_engine

runner = CliRunner()
D = "acme.example"


class Cli:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def run(self, *args: str, input: str | None = None) -> tuple[int, str, str]:
        result = runner.invoke(app, list(args), env=self.env, input=input)
        return result.exit_code, result.stdout, result.stderr

    def ok(self, *args: str, input: str | None = None) -> str:
        code, out, err = self.run(*args, input=input)
        assert code == 0, out + err
        return out


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.delenv("SMARTLIC_LAB_CLOCK", raising=False)
    env = {
        "SMARTLIC_AUTHORITY_DATA_DIR": str(tmp_path / "authority"),
        "SMARTLIC_AUTHORITY_DATABASE_URL": db_url,
        "SMARTLIC_LAB_CLOCK": str(tmp_path / "lab-clock.json"),
        "COLUMNS": "250",
    }
    cli = Cli(env)
    cli.ok("authority", "init")
    cli.ok("admin", "accounts", "create", "Acme", D)
    return cli


def _row(output: str, first: str) -> list[str]:
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if cells and cells[0] == first:
            return cells
    raise AssertionError(f"no row {first!r} in:\n{output}")


def test_create_grant_list_revoke_disable(cli: Cli) -> None:
    out = cli.ok(
        "admin", "user", "create", "alice", "--display-name", "Alice",
        input="portal password 1\nportal password 1\n",
    )  # fmt: skip
    assert "created user 'alice'" in out
    cli.ok("admin", "user", "grant", "alice", "smart-account-admin", "--account", D)
    cli.ok(
        "admin", "user", "grant", "alice", "virtual-account-user", "--account", D, "--va", "DEFAULT"
    )
    row = _row(cli.ok("admin", "user", "list"), "alice")
    assert row[1] == "Alice" and row[3] == "active"
    assert row[4] == f"smart-account-admin ({D}), virtual-account-user ({D}/DEFAULT)"
    cli.ok("admin", "user", "revoke", "alice", "smart-account-admin", "--account", D)
    cli.ok("admin", "user", "disable", "alice")
    row = _row(cli.ok("admin", "user", "list"), "alice")
    assert row[3:5] == ["disabled", f"virtual-account-user ({D}/DEFAULT)"]


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("grant", "alice", "owner", "--account", D), "invalid-input"),
        (("grant", "alice", "admin", "--account", D), "invalid-input"),
        (("grant", "alice", "smart-account-user", "--account", "nope.example"), "not-found"),
        (("grant", "bob", "admin"), "not-found"),
        (("revoke", "alice", "admin"), "not-found"),
    ],
)
def test_refusals_print_the_error_code(cli: Cli, args: tuple[str, ...], code: str) -> None:
    cli.ok("admin", "user", "create", "alice", "--password", "portal password 1")
    exit_code, out, err = cli.run("admin", "user", *args)
    assert exit_code == 1 and err.startswith(f"Error [{code}]: "), out + err
    if args[2] == "owner":  # the role's name is checked by cli.parse_role
        assert "role: one of admin, smart-account-admin, " in err


def test_short_password_is_refused(cli: Cli) -> None:
    exit_code, _, err = cli.run("admin", "user", "create", "bob", "--password", "short")
    assert exit_code == 1 and err.startswith("Error [invalid-input]: password")
    assert "bob" not in cli.ok("admin", "user", "list")


def test_set_password_ends_every_portal_session(cli: Cli, db_url: str) -> None:
    cli.ok("admin", "user", "create", "alice", "--password", "portal password 1")
    engine = make_engine(db_url)
    try:
        sessions = SqlPortalSessionsService(engine, SystemClock())
        sid = sessions.open("alice", address="192.0.2.1")
        assert sessions.username(sid) == "alice"
        out = cli.ok("admin", "user", "set-password", "alice", input="new password 22\n" * 2)
        assert "its portal sessions have ended" in out
        assert sessions.username(sid) is None
        SqlUsersService(engine, SystemClock()).authenticate("alice", "new password 22")
    finally:
        engine.dispose()


@pytest.mark.parametrize("command", ["create", "set-password"])
def test_help_offers_the_prompt_instead_of_requiring_password(cli: Cli, command: str) -> None:
    out = cli.ok("admin", "user", command, "--help")
    line = next(line for line in out.splitlines() if "--password" in line)
    assert "required" not in line and "*" not in line, out
    assert "Prompted for" in out


def test_create_prompts_for_an_omitted_password(cli: Cli, db_url: str) -> None:
    out = cli.ok("admin", "user", "create", "carol", input="typed password 3\n" * 2)
    assert "Password:" in out and "Repeat for confirmation:" in out
    assert "typed password 3" not in out  # not echoed
    engine = make_engine(db_url)
    try:
        SqlUsersService(engine, SystemClock()).authenticate("carol", "typed password 3")
    finally:
        engine.dispose()


def test_create_refuses_two_different_typed_passwords(cli: Cli) -> None:
    exit_code, out, _ = cli.run(
        "admin", "user", "create", "dave", input="typed password 4\nanother one 44\n"
    )
    assert exit_code == 1 and "do not match" in out
    assert "dave" not in cli.ok("admin", "user", "list")
