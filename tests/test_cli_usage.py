"""``smartlic admin usage|policy|slac`` (``smartlic.authority.cli_usage``) on SQLite and
PostgreSQL: files in, signed files out, errors as ``Error [code]: detail``."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from smartlic.authority.cli_usage import policy_mode_app
from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.services import Services, build_services
from smartlic.authority.services.scope import SYSTEM, system
from smartlic.cli import app
from smartlic.clock import LabClock
from smartlic.crypto import Udi, load_certificate, verify_certificate
from smartlic.domain.enums import Enforcement
from smartlic.domain.policy import CISCO_DEFAULT
from smartlic.domain.products import make_tag
from smartlic.formats.rum import usage_file
from smartlic.formats.signed import open_sealed
from smartlic.formats.slp import read_file, write_file
from smartlic.storage import make_engine
from tests.devices import PolicyDevice

D = "acme.example"
TAG = make_tag("network-advantage")
HSEC = make_tag("hseck9")
runner = CliRunner()


@dataclass
class Cli:
    env: dict[str, str]
    tmp: Path
    services: Services
    keys: AuthorityKeys
    clock: LabClock

    def ok(self, *args: str) -> str:
        result = runner.invoke(policy_mode_app, list(args), env=self.env)
        assert result.exit_code == 0, result.output
        return result.output

    def error(self, code: str, *args: str) -> str:
        result = runner.invoke(policy_mode_app, list(args), env=self.env)
        assert result.exit_code == 1, result.output
        assert result.stderr.startswith(f"Error [{code}]: "), result.stderr
        return result.stderr

    def file(self, name: str, data: bytes) -> str:
        path = self.tmp / name
        path.write_bytes(data)
        return str(path)

    def device(self, sn: str) -> PolicyDevice:
        return PolicyDevice(Udi("IXM", sn), self.clock)

    def sections(self, data: bytes) -> dict[str, dict[str, Any]]:
        out = {}
        for name, env in read_file(data):
            cert = load_certificate(env["certificate"])
            verify_certificate(cert, self.keys.ca.certificate, at=self.clock.now())
            out[name] = open_sealed(env, cert.public_key())  # type: ignore[arg-type]
        return out

    def in_use(self, va: str, tag: str = TAG) -> tuple[int, int]:
        lines = self.services.licenses.compliance(D, va, scope=SYSTEM).lines
        line = next(ln for ln in lines if ln.tag == tag)
        return line.in_use, line.reserved


@pytest.fixture
def cli(db_url: str, tmp_path: Path) -> Iterator[Cli]:
    env = {
        "SMARTLIC_AUTHORITY_DATA_DIR": str(tmp_path / "authority"),
        "SMARTLIC_AUTHORITY_DATABASE_URL": db_url,
        "SMARTLIC_LAB_CLOCK": str(tmp_path / "lab-clock.json"),
        "COLUMNS": "250",
    }
    result = runner.invoke(app, ["authority", "init"], env=env)
    assert result.exit_code == 0, result.output
    engine = make_engine(db_url)
    keys = AuthorityKeys.load(tmp_path / "authority" / "keys")
    clock = LabClock(tmp_path / "lab-clock.json")
    services = build_services(engine, clock, keys)
    _seed(services)
    yield Cli(env, tmp_path, services, keys, clock)
    engine.dispose()


def _seed(s: Services) -> None:
    s.accounts.create_smart_account(name="Acme", domain=D, scope=system("t"))
    s.accounts.create_virtual_account(D, name="East", scope=system("t"))
    s.licenses.define_license(
        tag=TAG, name="network-advantage", display_name="NA", scope=system("t")
    )
    s.licenses.define_license(
        tag=HSEC,
        name="hseck9",
        display_name="HSEC",
        enforcement=Enforcement.EXPORT_CONTROLLED,
        scope=system("t"),
    )
    s.licenses.add_holding(D, "East", tag=HSEC, quantity=1, scope=system("t"))


def _cell(output: str, first: str, column: int) -> str:
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if cells and cells[0] == first:
            return cells[column]
    raise AssertionError(f"no row {first!r} in:\n{output}")


def test_usage_upload_list_ack_history(cli: Cli) -> None:
    dev = cli.device("FOC1")
    reports = [dev.report(TAG, 2), dev.report(TAG, 3)]
    ack_path = cli.tmp / "ack.xml"
    out = cli.ok(
        "usage",
        "upload",
        D,
        "East",
        cli.file("UD_FOC1.txt", usage_file(reports)),
        "--ack",
        str(ack_path),
    )
    assert "in East: Processed, 1 device(s), 2 report(s), 0 rejected; ACK Received" in out
    ack = cli.sections(ack_path.read_bytes())
    assert len(ack["smartLicenseRumAck"]["acknowledged"]) == 2
    assert "smartLicenseTrustCode" in ack
    file_id = out.split()[2]
    listing = cli.ok("usage", "list", D)
    assert _cell(listing, file_id, 1) == "UD_FOC1.txt"
    assert _cell(listing, file_id, 4) == "Processed"
    again = cli.tmp / "again.xml"
    cli.ok("usage", "ack", D, file_id, "--out", str(again))
    assert cli.sections(again.read_bytes())["smartLicenseRumAck"]["udi"]["sn"] == "FOC1"
    assert cli.in_use("East") == (3, 0)
    instance = cli.services.instances.list_instances(D, "East", scope=SYSTEM).items[0].id
    history = cli.ok("usage", "history", D, instance, "--tag", TAG)
    assert history.count(TAG) == 2


def test_usage_ack_defaults_to_its_name_and_archives(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for sn in ("B1", "B2"):
            data = usage_file([cli.device(sn).report(TAG, 1)])
            info = tarfile.TarInfo(f"UD_{sn}.txt")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    out = cli.ok("usage", "upload", D, "East", cli.file("UD_SA.tar.gz", buf.getvalue()))
    assert "2 device(s), 2 report(s)" in out
    monkeypatch.chdir(cli.tmp)
    cli.ok("usage", "ack", D, out.split()[2])
    with tarfile.open(cli.tmp / "ACK_UD_SA.tar.gz", mode="r:gz") as tar:
        assert len(tar.getnames()) == 2


def test_usage_errors(cli: Cli) -> None:
    bomb = b'<!DOCTYPE a [<!ENTITY x "y">]><smartLicense>&x;</smartLicense>'
    cli.error("xml-dtd", "usage", "upload", D, "East", cli.file("bomb.xml", bomb))
    cli.error("malformed-xml", "usage", "upload", D, "East", cli.file("cut.xml", b"<smart"))
    report = usage_file([cli.device("X").report(TAG, 1)])
    cli.error("not-found", "usage", "upload", D, "Nowhere", cli.file("u.xml", report))
    cli.error("not-found", "usage", "ack", D, "no-such-file")
    cli.error("not-found", "usage", "history", D, "no-such-device")
    assert "(0)" in cli.ok("usage", "list", D)


def _policy(name: str) -> bytes:
    return json.dumps(CISCO_DEFAULT.to_json() | {"name": name, "ack_required": False}).encode()


def test_policy_create_list_show(cli: Cli) -> None:
    out = cli.ok("policy", "create", D, cli.file("p.json", _policy("East Policy")), "--va", "East")
    assert "installed policy 'East Policy' for acme.example/East" in out
    cli.ok("policy", "create", D, cli.file("q.json", _policy("Account Policy")))
    listing = cli.ok("policy", "list", D)
    assert _cell(listing, "East Policy", 1) == "East"
    assert _cell(listing, "Account Policy", 1) == "(smart account)"
    shown = json.loads(cli.ok("policy", "show", D, "East"))
    assert (shown["name"], shown["source"]) == ("East Policy", "Customer Policy")
    assert json.loads(cli.ok("policy", "show", D, "DEFAULT"))["name"] == "Account Policy"
    cli.error("malformed-json", "policy", "create", D, cli.file("bad.json", b"{nope"))
    cli.error("invalid-input", "policy", "create", D, cli.file("list.json", b"[]"))
    cli.error("invalid-input", "policy", "create", D, cli.file("half.json", b'{"name": "x"}'))


def test_slac_request_return_list(cli: Cli) -> None:
    first, second = cli.device("AIR1"), cli.device("AIR2")
    req = write_file([("smartLicenseAuthRequest", first.auth_request({HSEC: 1}))])
    code_path = cli.tmp / "code.xml"
    cli.ok("slac", "request", D, "East", cli.file("req.xml", req), "--out", str(code_path))
    code = cli.sections(code_path.read_bytes())["smartLicenseAuthorization"]
    assert code["entitlements"] == [{"tag": HSEC, "count": 1}]
    assert cli.in_use("East", HSEC) == (0, 1)
    assert "AIR1" in _cell(cli.ok("slac", "list", D), code["code_id"], 1)
    req2 = write_file([("smartLicenseAuthRequest", second.auth_request({HSEC: 1}))])
    cli.error("insufficient-licenses", "slac", "request", D, "East", cli.file("r2.xml", req2))
    out = cli.ok("slac", "return", D, first.return_code(code["code_id"]))
    assert f"returned 1 x {HSEC}" in out
    assert cli.in_use("East", HSEC) == (0, 0)
    assert code["code_id"] not in cli.ok("slac", "list", D)
    assert code["code_id"] in cli.ok("slac", "list", D, "--all")
    cli.error("not-found", "slac", "return", D, first.return_code(code["code_id"]))
    cli.error("bad-return-code", "slac", "return", D, "nonsense")
    cli.error("bad-file", "slac", "request", D, "East", cli.file("e.xml", b"<smartLicense/>"))
