"""``smartlic collector satellite ...`` against a live authority (CliRunner, in-process): init,
token, sync online and from a saved license list, status with a conflict."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smartlic.cli import app
from smartlic.crypto import fingerprint
from tests.authority.api.helpers import DOMAIN, TAG, ok, va_path
from tests.collector.conftest import World


@pytest.fixture
def env(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in list(os.environ):
        if name.startswith(("SMARTLIC_COLLECTOR_", "SMARTLIC_LAB")):
            monkeypatch.delenv(name)
    return {"SMARTLIC_COLLECTOR_DATA_DIR": str(tmp_path / "sat"), "COLUMNS": "250"}


def run(env: dict[str, str], *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, ["collector", *args], env=env)
    assert result.exit_code == code, result.output
    return result.output


def test_satellite_cli(world: World, env: dict[str, str], tmp_path: Path) -> None:
    assert "Error [not-initialised]" in run(env, "satellite", "init", code=1)  # no account yet
    run(env, "init", "--smart-account", DOMAIN, "--virtual-account", "Prod",
        "--authority-url", world.live.url, "--api-key", world.collector_key,
        "--authority-ca-fingerprint", fingerprint(world.live.keys.ca.certificate))  # fmt: skip
    assert "satellite ready" in run(env, "satellite", "init")
    token = run(env, "satellite", "token", "--days", "7").strip()
    assert len(token) > 40
    assert "0 product instances reported up" in run(env, "satellite", "sync")
    status = run(env, "satellite", "status")
    assert "Held (last sync)" in status and "10" in status

    shrunk = {"lines": [{"tag": TAG, "purchased": 0}]}
    saved = tmp_path / "licenses.json"
    saved.write_text(json.dumps(shrunk))
    # no local use yet: shrinking to zero is no conflict
    assert "CONFLICT" not in run(env, "satellite", "sync", "--licenses", str(saved))
    saved.write_text("{}")
    assert "Error [invalid-input]" in run(
        env, "satellite", "sync", "--licenses", str(saved), code=1
    )


def test_satellite_sync_reports_a_shrunk_pool(world: World, env: dict[str, str]) -> None:
    from smartlic.clock import ManualClock
    from smartlic.collector.app import build
    from smartlic.collector.satellite import Satellite
    from smartlic.collector.settings import CollectorSettings
    from smartlic.crypto import Udi
    from tests.devices import TestDevice

    run(env, "init", "--smart-account", DOMAIN, "--virtual-account", "Prod",
        "--authority-url", world.live.url, "--api-key", world.collector_key,
        "--authority-ca-fingerprint", fingerprint(world.live.keys.ca.certificate))  # fmt: skip
    run(env, "satellite", "init")
    run(env, "satellite", "sync")
    conf = CollectorSettings(data_dir=Path(env["SMARTLIC_COLLECTOR_DATA_DIR"]))
    engine, services = build(conf, world.live.clock)
    sat = Satellite(conf.satellite_dir, world.live.clock)
    try:
        dev = TestDevice(Udi("ISR4331", "CLI1"), ManualClock(world.live.clock.now()))
        token = sat.token(services.status.prefs())
        payload = sat.services().device.register(dev.register_request(token))
        from smartlic.formats.envelope import read_payload

        dev.accept_registration(read_payload(payload))
        sat.services().device.authorize(dev.authorize({TAG: 5}))
    finally:
        sat.close()
        engine.dispose()
    body = {"target": "Spare", "tag": TAG, "quantity": 8}
    ok(world.api.post(va_path("Prod", "/licenses/actions/transfer"), json=body))
    out = run(env, "satellite", "sync")
    assert "CONFLICT" in out and "5 in use at the satellite" in out and "holds 2" in out
    assert "CONFLICT" in run(env, "satellite", "status")


def _lines(*lines: object) -> str:
    return json.dumps({"lines": list(lines)})


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        _lines(1),
        _lines({"purchased": 1}),
        _lines({"tag": TAG, "purchased": "\u00b2"}),
        _lines({"tag": TAG, "purchased": 2**64}),
        _lines({"tag": TAG, "purchased": -1}),
        _lines({"tag": TAG, "purchased": 2}, {"tag": "new", "enforcement": "sometimes"}),
    ],
    ids=["not-json", "list", "not-object", "no-tag", "sup", "2**64", "negative", "enforcement"],
)
def test_a_bad_license_list_is_refused_and_changes_nothing(
    world: World, env: dict[str, str], tmp_path: Path, text: str
) -> None:
    """A saved license list that is not JSON, or whose lines are not ``{tag, purchased}``
    with a count, ended in a traceback; lines after the first had already replaced the
    holdings (deleted first, then re-added one by one)."""
    run(env, "init", "--smart-account", DOMAIN, "--virtual-account", "Prod",
        "--authority-url", world.live.url, "--api-key", world.collector_key,
        "--authority-ca-fingerprint", fingerprint(world.live.keys.ca.certificate))  # fmt: skip
    run(env, "satellite", "init")
    run(env, "satellite", "sync")
    before = run(env, "satellite", "status")
    saved = tmp_path / "licenses.json"
    saved.write_text(text)
    result = CliRunner().invoke(app, ["collector", "satellite", "sync", "--licenses", str(saved)],
                                env=env)  # fmt: skip
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error [") and "Traceback" not in result.output
    assert run(env, "satellite", "status") == before
