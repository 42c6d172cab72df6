"""The top-level ``smartlic`` command and ``smartlic authority``, through Typer's CliRunner."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.services import build_services
from smartlic.authority.services.scope import SYSTEM
from smartlic.authority.settings import AuthoritySettings
from smartlic.cli import app
from smartlic.clock import SystemClock
from smartlic.domain.products import ALL_LICENSES
from smartlic.storage import make_engine

runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_authority_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's SMARTLIC_AUTHORITY_* / lab clock must not leak into these tests."""
    for name in list(os.environ):
        if name.startswith("SMARTLIC_AUTHORITY_") or name == "SMARTLIC_LAB_CLOCK":
            monkeypatch.delenv(name)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A private authority under ``tmp_path`` (SQLite), on the system clock."""
    return {
        "SMARTLIC_AUTHORITY_DATA_DIR": str(tmp_path / "authority"),
        "SMARTLIC_LAB_CLOCK": "",
        "COLUMNS": "200",
    }


def invoke(env: dict[str, str], *args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args), env=env)
    assert result.exit_code == code, result.output
    return result.output


def test_help_and_version() -> None:
    out = runner.invoke(app, ["--help"]).output
    for name in ("authority", "admin", "lab", "device"):
        assert name in out
    assert runner.invoke(app, ["--version"]).output.strip() == "smartlic 0.1.0"
    assert "init" in runner.invoke(app, ["authority", "--help"]).output


def test_importing_the_cli_loads_no_web_or_database_code() -> None:
    code = (
        "import sys, smartlic.cli; "
        "heavy = {'fastapi', 'sqlalchemy', 'uvicorn', 'alembic', 'smartlic.agent'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_python_dash_m_smartlic() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "smartlic", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "smartlic 0.1.0"


def test_init_is_idempotent(env: dict[str, str], tmp_path: Path) -> None:
    first = invoke(env, "authority", "init")
    data = tmp_path / "authority"
    ca = (data / "keys" / "ca.pem").read_text()
    second = invoke(env, "authority", "init")
    assert first == second  # same CA fingerprint, same database
    assert (data / "keys" / "ca.pem").read_text() == ca
    for key in ("ca.key", "signing.key"):
        assert (data / "keys" / key).stat().st_mode & 0o777 == 0o600
    assert (data / "authority.sqlite3").exists()
    assert "models match" in invoke(env, "authority", "db", "check")
    assert "latest schema" in invoke(env, "authority", "db", "upgrade")


def test_demo_is_idempotent(env: dict[str, str], tmp_path: Path) -> None:
    invoke(env, "authority", "init")
    first = invoke(env, "authority", "demo")
    assert first.startswith("Seeded smart account 'Demo Corp' (demo.example)")
    state_file = tmp_path / "authority" / "demo.json"
    assert state_file.stat().st_mode & 0o777 == 0o600
    state = json.loads(state_file.read_text())
    assert state["token_text"] in first and state["api_key"] in first
    assert f"idtoken {state['token_text']}" in first
    assert f"Authorization: Bearer {state['api_key']}" in first
    second = invoke(env, "authority", "demo")
    assert second.startswith("Already seeded:")
    assert second.splitlines()[1:] == first.splitlines()[1:]
    _check_demo_contents(tmp_path / "authority", state["api_key"])


def _check_demo_contents(data_dir: Path, api_key: str) -> None:
    settings = AuthoritySettings(data_dir=data_dir)
    engine = make_engine(settings.database)
    try:
        clock = SystemClock()
        services = build_services(engine, clock, AuthorityKeys.load(settings.keys_path))
        vas = [
            va.name for va in services.accounts.list_virtual_accounts("demo.example", scope=SYSTEM)
        ]
        assert vas == ["DEFAULT", "Lab"]
        lines = services.licenses.compliance("demo.example", "DEFAULT", scope=SYSTEM).lines
        specs = ALL_LICENSES
        assert len(lines) == len(specs) == len(services.licenses.list_catalogue())
        kinds = [h.kind.value for line in lines for h in line.holdings]
        perpetual = sum(not spec.subscription for spec in specs)
        assert kinds.count("perpetual") == perpetual
        assert kinds.count("term") == len(specs) - perpetual + 1
        assert services.api_keys.authenticate(api_key).smart_account is None
        assert len(services.tokens.list_tokens("demo.example", "DEFAULT", scope=SYSTEM)) == 1
    finally:
        engine.dispose()


def test_demo_replaces_a_token_that_no_longer_works(env: dict[str, str], tmp_path: Path) -> None:
    invoke(env, "authority", "init")
    invoke(env, "authority", "demo")
    state = json.loads((tmp_path / "authority" / "demo.json").read_text())
    invoke(env, "admin", "tokens", "revoke", "demo.example", state["token_id"])
    again = invoke(env, "authority", "demo")
    fresh = json.loads((tmp_path / "authority" / "demo.json").read_text())
    assert fresh["token_text"] != state["token_text"] and fresh["token_text"] in again
    assert fresh["api_key"] == state["api_key"]


def test_commands_refuse_an_uninitialised_authority(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["authority", "demo"], env=env)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error [not-initialised]:")
    result = runner.invoke(app, ["authority", "serve"], env=env)
    assert result.exit_code == 1 and "smartlic authority init" in result.stderr
    result = runner.invoke(app, ["authority", "db", "check"], env=env)
    assert result.exit_code == 1 and result.stderr.startswith("Error [database]:")
    result = runner.invoke(app, ["admin", "accounts", "list"], env=env)
    assert result.exit_code == 1 and result.stderr.startswith("Error [not-initialised]:")


def test_db_check_notices_a_database_without_the_schema(
    env: dict[str, str], tmp_path: Path
) -> None:
    empty = tmp_path / "empty.sqlite3"
    empty.touch()
    env = {**env, "SMARTLIC_AUTHORITY_DATABASE_URL": f"sqlite:///{empty}"}
    result = runner.invoke(app, ["authority", "db", "check"], env=env)
    assert result.exit_code == 1 and result.stderr.startswith("Error [db-outdated]:")


def test_bad_settings_are_reported(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["authority", "init"], env={**env, "SMARTLIC_AUTHORITY_PORT": "x"})
    assert result.exit_code == 1
    assert result.stderr.startswith("Error [invalid-settings]: SMARTLIC_AUTHORITY_PORT")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_serve_answers_on_loopback(env: dict[str, str]) -> None:
    """What ``make up`` runs: init, demo, then serve (a real process, stopped afterwards)."""
    invoke(env, "authority", "init")
    invoke(env, "authority", "demo")
    demo = json.loads(Path(env["SMARTLIC_AUTHORITY_DATA_DIR"], "demo.json").read_text())
    port = _free_port()
    command = [sys.executable, "-m", "smartlic", "authority", "serve", "--port", str(port)]
    proc = subprocess.Popen(
        command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_up(url, proc)
        headers = {"Authorization": f"Bearer {demo['api_key']}"}
        reply = httpx.get(f"{url}/api/v1/accounts/demo.example/virtual-accounts", headers=headers)
        assert [va["name"] for va in reply.json()["items"]] == ["DEFAULT", "Lab"]
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        assert proc.stderr is not None
        proc.stderr.close()


def _wait_until_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited"
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the server did not come up")


def test_serve_on_a_busy_port_says_so(env: dict[str, str]) -> None:
    invoke(env, "authority", "init")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = runner.invoke(app, ["authority", "serve", "--port", str(port)], env=env)
    assert result.exit_code == 1
    assert f"Error [port-in-use]: cannot listen on 127.0.0.1:{port}" in result.output
    assert "Errno" not in result.output
