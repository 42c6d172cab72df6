"""The gateway shell in policy mode against a live authority on loopback: trust and usage
reporting over transport smart, and the second document's full offline workflow (save usage
to flash:, upload at the authority, ACK back to flash:, import). Every check reads our own
``show`` outputs back through the Genie parsers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from smartlic.agent.shell.commands import build_registry
from smartlic.agent.shell.commands.policy_exec import RETURN_NOTICE
from smartlic.agent.shell.device import Device
from smartlic.agent.shell.fmt import ios_time
from smartlic.agent.shell.session import Session
from smartlic.authority.services.scope import SYSTEM, system
from tests.e2e.conftest_agent import (  # noqa: F401 - the authority fixture
    CPF,
    DOMAIN,
    IPSEC,
    Authority,
    authority_fixture,
)
from tests.shell.conftest import Console
from tests.shell.genie_parsers import genie_parse

pytestmark = pytest.mark.e2e

SN = "FOC242145DW"
ENABLE_CPF = (
    "configure terminal",
    "common-packet-forwarder profile",
    "ipaddr 172.27.166.121 port 6070",
    "cpf enable",
    "end",
)


def gateway(make_device: Callable[..., Device], tmp_path: Path, **options: str) -> Console:
    device = make_device(tmp_path / "gw", profile="ixm", mode="policy", sn=SN, **options)
    return Console(Session(device, build_registry(device.profile), assume_yes=True))


def cpf_license_status(console: Console) -> str:
    return console("show common-packet-forwarder status").splitlines()[-1]


def test_smart_transport_trust_and_usage_reported(
    authority: Authority, make_device: Callable[..., Device], tmp_path: Path
) -> None:
    # The authority's root is built into the device, as Cisco's is into theirs.
    console = gateway(
        make_device, tmp_path, authority=authority.url, authority_ca=authority.keys.ca_pem
    )
    out = console(f"license smart trust idtoken {authority.token()} local")
    assert out == (
        "%SMART_LIC-6-TRUST_INSTALL_SUCCESS: A new licensing trust code was successfully "
        f"installed on P:IXM-LPWA-900-16-K9,S:{SN}.\n"
    )
    status = genie_parse("status", console("show license status"))
    assert status["transport"]["type"] == "Smart"
    assert status["account_information"]["virtual_account"] == "DEFAULT"
    # A standalone gateway: the trust code's date on one line (issue 10, divergence 5).
    assert status["trust_code_installed"].strip() == ios_time(authority.clock.now())
    assert "common-packet-forwarder started successfully" in console(*ENABLE_CPF)
    assert cpf_license_status(console) == "License Status: Reported - No, Acknowledged - No"
    console("lab clock advance 30d")  # the push interval: the report goes out, the ACK returns
    usage = genie_parse("status", console("show license status"))["usage_reporting"]
    now = authority.clock.now()
    assert usage["last_report_push"] == ios_time(now)
    assert usage["last_ack_received"] == ios_time(now)
    assert usage["next_ack_deadline"] != "<none>"
    assert cpf_license_status(console) == "License Status: Reported - Yes, Acknowledged - Yes"
    assert authority.in_use(CPF.tag) == 1
    reports = genie_parse("rum_all", console("show license rum id all"))
    assert "ACK" in {r["state"] for r in reports["smart_license_usage_reports"].values()}


def test_full_offline_workflow_through_flash(
    authority: Authority, make_device: Callable[..., Device], tmp_path: Path
) -> None:
    console = gateway(make_device, tmp_path, authority_ca=authority.keys.ca_pem)
    console("configure terminal", "license smart transport off", "end")  # Step 1
    console(*ENABLE_CPF)  # Step 2
    console("lab clock advance 3d")
    assert console("license smart save usage all file flash:report") == ""  # Step 3
    flash = tmp_path / "gw" / "flash"
    upload = authority.services.usage.upload_usage_file(  # Step 5: the portal's upload
        DOMAIN,
        "DEFAULT",
        file_name="report",
        content=(flash / "report").read_bytes(),
        scope=system("user:ops"),
    )
    assert upload.status == "Processed"
    _, ack = authority.services.usage.usage_file_ack(DOMAIN, upload.id, scope=SYSTEM)
    (flash / "ACK_report").write_bytes(ack)  # Step 6: scp to flash:
    assert cpf_license_status(console) == "License Status: Reported - Yes, Acknowledged - No"
    assert console("license smart import file flash: ACK_report") == "Import Data Successful\n"
    status = genie_parse("status", console("show license status"))  # Step 8
    assert status["usage_reporting"]["last_ack_received"] == ios_time(authority.clock.now())
    assert status["transport"] == {"type": "Transport Off"}
    assert cpf_license_status(console) == "License Status: Reported - Yes, Acknowledged - Yes"
    summary = genie_parse("summary", console("show license summary"))  # Step 9
    assert summary["license_usage"]["LORAWAN_CPF"]["status"] == "IN USE"
    history = console("show license history message")
    assert "Import AUTH:\n  No past Import history\n" in history
    assert f"Import RUM ACK:\n  {ios_time(authority.clock.now())}: import: ACK of 1" in history


def router(authority: Authority, make_device: Callable[..., Device], tmp_path: Path) -> Console:
    """The first document's router in policy mode (its ipsec license is export-controlled)."""
    device = make_device(
        tmp_path / "r1", mode="policy", authority=authority.url, authority_ca=authority.keys.ca_pem
    )
    return Console(Session(device, build_registry(device.profile)))


def test_register_is_deprecated_in_policy_mode(
    authority: Authority, make_device: Callable[..., Device], tmp_path: Path
) -> None:
    console = router(authority, make_device, tmp_path)
    out = console.session.execute(f"license smart register idtoken {authority.token()}")
    assert out.failed and "license smart trust idtoken" in out.text


def test_authorization_code_online_then_returned_offline(
    authority: Authority, make_device: Callable[..., Device], tmp_path: Path
) -> None:
    authority.buy(IPSEC.tag, 1)
    console = router(authority, make_device, tmp_path)
    console(f"license smart trust idtoken {authority.token()} local")
    console("configure terminal")
    refused = console.session.execute("license feature ipsec")
    assert refused.failed and "authorization" in refused.text
    console("end")
    assert console("license smart authorization request add ipsec local") == ""
    text = console("show license authorization")
    assert genie_parse("authorization", text)["status"] == "SMART AUTHORIZATION"
    console.config("license feature ipsec")
    usage = genie_parse("usage", console("show license usage"))["license_name"]
    entry = next(v for k, v in usage.items() if k.startswith("ipsec "))
    assert entry["status"] == "IN USE"
    console.config("no license feature ipsec")
    out = console("license smart authorization return local offline").splitlines()
    assert out[0] == RETURN_NOTICE and len(out) == 2 and out[1]
    assert f"Last return code: {out[1]}" in console("show license authorization")


def test_authorization_request_saved_for_offline_use(
    authority: Authority, make_device: Callable[..., Device], tmp_path: Path
) -> None:
    console = router(authority, make_device, tmp_path)
    console.config("license smart transport off")
    assert console("license smart authorization request replace ipsec local") == ""
    assert console("license smart authorization request save flash:slac_request") == ""
    assert (tmp_path / "r1" / "flash" / "slac_request").read_bytes().startswith(b"<")


def test_an_older_ack_file_changes_nothing(
    authority: Authority, make_device: Callable[..., Device], tmp_path: Path
) -> None:
    """Issue 8, finding 6: replaying an old ACK must not reset the reporting deadline."""
    console = gateway(make_device, tmp_path, authority_ca=authority.keys.ca_pem)
    console("configure terminal", "license smart transport off", "end")
    console(*ENABLE_CPF)
    flash = tmp_path / "gw" / "flash"
    for name in ("ACK_1", "ACK_2"):
        console("lab clock advance 3d")
        console(f"license smart save usage unreported file flash:{name}.usage")
        upload = authority.services.usage.upload_usage_file(
            DOMAIN, "DEFAULT", file_name=name, content=(flash / f"{name}.usage").read_bytes(),
            scope=system("user:ops"),
        )  # fmt: skip
        (flash / name).write_bytes(
            authority.services.usage.usage_file_ack(DOMAIN, upload.id, scope=SYSTEM)[1]
        )
    assert console("license smart import file flash: ACK_2") == "Import Data Successful\n"
    before = console("show license status")
    console("lab clock advance 1d")
    out = console("license smart import file flash: ACK_1")
    assert out == "% ACK is older than the last one imported (older-than-last).\n"
    after = console("show license status")
    deadline = [line for line in before.splitlines() if "Next ACK deadline" in line]
    assert deadline
    assert deadline == [line for line in after.splitlines() if "Next ACK deadline" in line]
