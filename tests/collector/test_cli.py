"""``smartlic collector ...`` through CliRunner: init, preferences, connectivity, devices, status,
export/import errors as ``Error [code]: detail`` with a non-zero exit."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smartlic.cli import app
from smartlic.clock import SystemClock
from smartlic.crypto import CertificateAuthority, certificate_pem, fingerprint, load_certificate


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in list(os.environ):
        if name.startswith(("SMARTLIC_COLLECTOR_", "SMARTLIC_LAB")):
            monkeypatch.delenv(name)
    return {"SMARTLIC_COLLECTOR_DATA_DIR": str(tmp_path / "c"), "COLUMNS": "200"}


def run(env: dict[str, str], *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, ["collector", *args], env=env)
    assert result.exit_code == code, result.output
    return result.output


def test_init_needs_an_authority_or_offline(env: dict[str, str]) -> None:
    out = run(env, "init", "--smart-account", "a.example", "--virtual-account", "Prod", code=1)
    assert "Error [invalid-input]" in out
    out = run(env, "init", "--smart-account", "a.example", "--virtual-account", "Prod", "--offline")
    assert "a.example" in out and "Prod" in out


@pytest.fixture
def ca_file(tmp_path: Path) -> Path:
    ca = CertificateAuthority.create("smartlic authority", SystemClock().now())
    path = tmp_path / "ca.pem"
    path.write_text(certificate_pem(ca.certificate))
    return path


def test_preferences_and_connectivity(env: dict[str, str], ca_file: Path) -> None:
    run(env, "init", "--smart-account", "a.example", "--virtual-account", "Prod",
        "--authority-url", "http://127.0.0.1:9", "--api-key", "slk_secret",
        "--authority-ca", str(ca_file))  # fmt: skip
    out = run(env, "preferences")
    assert "slk_secret" not in out and "8182" in out and "8180" in out
    assert "True" in run(env, "preferences", "--set", "validate_device=true")
    assert "Cisco connectivity is off" in run(env, "connectivity", "off")
    assert "Error [invalid-input]" in run(env, "connectivity", "maybe", code=1)
    assert "Error [invalid-input]" in run(env, "preferences", "--set", "nonsense", code=1)
    assert "Error [unavailable]" in run(env, "sync", code=1)


def test_init_pins_the_authority_ca_only_when_its_fingerprint_matches(
    env: dict[str, str], ca_file: Path
) -> None:
    args = ["init", "--smart-account", "a.example", "--virtual-account", "Prod", "--offline"]
    wrong = "ab" * 32
    out = run(env, *args, "--authority-ca", str(ca_file), "--authority-ca-fingerprint", wrong,
              code=1)  # fmt: skip
    assert "Error [ca-mismatch]" in out and "nothing pinned" in out
    assert "No authority CA pinned" in run(env, *args)
    right = fingerprint(load_certificate(ca_file.read_bytes()))
    out = run(env, *args, "--authority-ca", str(ca_file), "--authority-ca-fingerprint",
              right.upper())  # fmt: skip
    assert right in run(env, "preferences")
    assert "Error [invalid-input]" in run(
        env, "preferences", "--set", f"authority_ca_pem={ca_file.read_text()}", code=1
    )


def test_online_init_needs_a_pinned_ca(env: dict[str, str]) -> None:
    out = run(env, "init", "--smart-account", "a.example", "--virtual-account", "Prod",
              "--authority-url", "http://127.0.0.1:9", "--api-key", "k", code=1)  # fmt: skip
    assert "Error [" in out and "authority" in out


def test_devices_status_export_import(env: dict[str, str], tmp_path: Path) -> None:
    run(env, "init", "--smart-account", "a.example", "--virtual-account", "Prod", "--offline")
    assert "Product instances" in run(env, "devices")
    assert "not_uploaded" in run(env, "status")
    assert "0 reports of 0 devices" in run(env, "export", "--out", str(tmp_path))
    bad = tmp_path / "ack.tar.gz"
    bad.write_bytes(b"\x1f\x8b\x08 truncated")
    assert "Error [bad-archive]" in run(env, "import", str(bad), code=1)


def test_forget_trust_of_an_unknown_device(env: dict[str, str]) -> None:
    run(env, "init", "--smart-account", "a.example", "--virtual-account", "Prod", "--offline")
    assert "Error [not-found]" in run(env, "forget-trust", "P", "S", code=1)
    run(env, "add-device", "P", "S")
    assert "forgot the trust key of P:S" in run(env, "forget-trust", "P", "S")


@pytest.mark.parametrize("command", [["status"], ["devices"], ["preferences"], ["serve"]])
def test_commands_before_init_say_so_and_create_nothing(
    env: dict[str, str], command: list[str]
) -> None:
    out = run(env, *command, code=1)
    assert "Error [not-initialised]: the collector is not initialised in" in out
    assert "smartlic collector init" in out
    assert not Path(env["SMARTLIC_COLLECTOR_DATA_DIR"]).exists()
