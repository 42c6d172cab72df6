"""Policy mode: deadlines, policies from ACKs, overdue alerts, offline import, refusals, SLAC."""

from __future__ import annotations

import base64
import json
import socket
import uuid
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from smartlic.agent import AgentEvent, LicenseManager
from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.services.slac import return_message
from smartlic.clock import ManualClock
from smartlic.crypto import Udi
from smartlic.domain.policy import CISCO_DEFAULT, LicenseGroup
from smartlic.domain.policy import Policy as PolicyDoc
from smartlic.errors import Forbidden, SignatureInvalid
from smartlic.formats.envelope import timestamp_ms
from smartlic.formats.rum import parse_usage_file, read_report
from smartlic.formats.slp import parse_return_code
from tests.unit.agent.policy_helpers import (
    ATM,
    CPF,
    IPSEC,
    Files,
    Make,
)


def _ids(path: Path) -> list[int]:
    return [read_report(e).report_id for e in parse_usage_file(path.read_bytes())]


def _reporting(manager: LicenseManager):  # type: ignore[no-untyped-def]
    status = manager.status().policy
    assert status is not None
    return status


def test_cisco_default_deadlines(make_policy: Make, clock: ManualClock, tmp_path: Path) -> None:
    manager = make_policy()
    start = clock.now()
    manager.request(ATM)  # perpetual: first report within 365 days
    assert _reporting(manager).usage_reporting.next_ack_deadline == start + timedelta(days=365)
    assert _reporting(manager).policy.name == "Cisco default"
    manager.request(CPF)  # subscription: 90
    assert _reporting(manager).usage_reporting.next_ack_deadline == start + timedelta(days=90)
    assert _reporting(manager).usage_reporting.reporting_push_interval_days == 30


def test_offline_round_trip_acknowledges_and_moves_the_deadline(
    make_policy: Make, clock: ManualClock, tmp_path: Path, authority: AuthorityKeys
) -> None:
    manager = make_policy()
    manager.request(CPF)
    clock.advance(days=10)
    manager.tick()
    manager.save_usage(tmp_path / "usage.xml")
    ids = _ids(tmp_path / "usage.xml")
    ack = tmp_path / "ack.xml"
    ack.write_bytes(Files(authority, clock).ack(ids))
    issued = clock.now()
    clock.advance(hours=2)
    assert manager.import_file(ack) == "Import Data Successful"
    status = _reporting(manager)
    acked = [r for r in status.reports if r.report_id in ids]
    assert {r.state for r in acked} == {"ACK"} and acked[0].storage_state == "DELETED"
    # The deadline counts from the ACK's signed issue time (re-derived at every load, so an
    # edited state cannot move it), not from when the file reached the device.
    assert status.usage_reporting.last_ack_received == issued
    assert status.usage_reporting.next_ack_deadline == issued + timedelta(days=90)
    assert status.usage_reporting.last_report_file_write is not None
    assert status.account.smart_account == "Example Corp"
    assert {"RUM ACK", "POLICY"} <= set(status.history.imports)
    assert status.report_summary.acknowledged == 1 and status.report_summary.collecting_data == 1


def test_a_custom_policy_from_an_ack_changes_the_deadlines(
    make_policy: Make, clock: ManualClock, tmp_path: Path, authority: AuthorityKeys
) -> None:
    doc = CISCO_DEFAULT.to_json() | {"name": "SLE Policy", "source": "Customer Policy"}
    doc["groups"][LicenseGroup.UNENFORCED_PERPETUAL.value]["reporting_frequency_days"] = 60
    manager = make_policy()
    manager.request(ATM)
    manager.save_usage(tmp_path / "u.xml")
    manager.import_data(Files(authority, clock).ack(_ids(tmp_path / "u.xml")))
    reporting = _reporting(manager).usage_reporting
    assert reporting.next_ack_deadline is None  # perpetual, freq 0
    assert reporting.reporting_push_interval_days == 0 and reporting.next_report_push is None
    clock.advance(days=1)
    manager.import_data(Files(authority, clock).ack([], PolicyDoc.from_json(doc)))
    status = _reporting(manager)
    assert status.policy.name == "SLE Policy" and status.policy.installed_at == clock.now()
    assert status.usage_reporting.next_ack_deadline == clock.now() + timedelta(days=60)
    assert any("POLICY_INSTALL_SUCCESS" in e.text for e in status.eventlog)


def test_overdue_reporting_raises_an_alert_once(make_policy: Make, clock: ManualClock) -> None:
    manager = make_policy()
    events: list[AgentEvent] = []
    manager.on_event(events.append)
    manager.request(CPF)
    clock.advance(days=61)
    manager.tick()
    warned = [e for e in _reporting(manager).eventlog if "SMART_LIC-4-REPORTING" in e.text]
    assert len(warned) == 1 and "required in 29 days" in warned[0].text
    clock.advance(days=28)
    manager.tick()
    assert _reporting(manager).alerts == []
    for _ in range(3):
        clock.advance(days=1)
        manager.tick()
    status = _reporting(manager)
    assert status.usage_reporting.overdue and "Reporting overdue" in status.alerts[0]
    logged = [e for e in status.eventlog if "SMART_LIC-3-REPORTING_REQUIRED" in e.text]
    assert len(logged) == 1
    assert [e.name for e in events].count("agent.policy.reporting_overdue") == 1


@pytest.mark.parametrize("change", ["payload", "udi", "authority"])
def test_tampered_or_foreign_acks_are_refused(
    make_policy: Make, clock: ManualClock, tmp_path: Path, authority: AuthorityKeys, change: str
) -> None:
    manager = make_policy()
    manager.request(CPF)
    manager.save_usage(tmp_path / "u.xml")
    ids = _ids(tmp_path / "u.xml")
    if change == "udi":
        data = Files(authority, clock, Udi("IXM-LPWA-900-16-K9", "OTHER")).ack(ids)
    elif change == "authority":
        other = AuthorityKeys.create(tmp_path / "other", clock.now())
        data = Files(other, clock).ack(ids)
    else:
        data = Files(authority, clock).ack(ids).replace(b"East", b"West")
    with pytest.raises(SignatureInvalid) as err:
        manager.import_data(data)
    if change == "udi":
        assert err.value.code == "wrong-device" and "another device" in err.value.detail
    status = _reporting(manager)
    assert status.usage_reporting.last_ack_received is None
    assert all(r.state != "ACK" for r in status.reports)
    assert any("IMPORT_FAILED" in e.text for e in status.eventlog)


def test_a_trust_code_file_is_installed(
    make_policy: Make, clock: ManualClock, authority: AuthorityKeys
) -> None:
    manager = make_policy()
    manager.import_data(Files(authority, clock).trust(manager))
    trust = _reporting(manager).trust_code
    assert trust is not None and trust.installed_at == clock.now()
    assert trust.udi == "PID:IXM-LPWA-900-16-K9,SN:FOC242145DW"


def _system_info(path: Path) -> dict[str, object]:
    """The ``<smartLicenseSystemInfo>`` JSON of a saved file, read as tools read it."""
    [data] = ET.fromstring(path.read_bytes()).findall("smartLicenseSystemInfo/data")
    info: dict[str, object] = json.loads(data.text or "")
    return info


def test_saved_files_carry_the_system_info_tools_copy(
    make_policy: Make, clock: ManualClock, tmp_path: Path
) -> None:
    """Issue 9: usage and authorization request files carry ``<smartLicenseSystemInfo>``
    (sudi, timestamp, nonce, hostname, software tag), as real devices' files do; tools copy
    its timestamp and nonce into their device API requests, so each file has its own nonce."""
    manager = make_policy()
    manager.request(CPF)
    clock.advance(days=1)
    manager.save_usage(tmp_path / "usage.xml")
    manager.save_usage(tmp_path / "again.xml")
    [envelope] = parse_usage_file((tmp_path / "usage.xml").read_bytes())
    report = read_report(envelope)  # the reports read as before
    info = _system_info(tmp_path / "usage.xml")
    assert info == {
        "sudi": {"udi_pid": "IXM-LPWA-900-16-K9", "udi_serial_number": "FOC242145DW"},
        "timestamp": timestamp_ms(clock.now()),
        "nonce": info["nonce"],
        "hostname": "gateway",
        "software_tag_identifier": report.software_tag,
    }
    assert isinstance(info["nonce"], str) and len(info["nonce"]) == 16
    assert _system_info(tmp_path / "again.xml")["nonce"] != info["nonce"]
    assert manager.authorization_request("add", {IPSEC: 1}) is None
    manager.save_authorization_request(tmp_path / "req.xml")
    request = _system_info(tmp_path / "req.xml")
    assert (request["sudi"], request["hostname"]) == (info["sudi"], "gateway")
    assert request["nonce"] not in (info["nonce"], None)


def test_enforced_licenses_need_an_authorization_code(
    make_policy: Make, clock: ManualClock, authority: AuthorityKeys, tmp_path: Path
) -> None:
    manager = make_policy()
    with pytest.raises(Forbidden) as err:
        manager.request(IPSEC)
    assert err.value.code == "authorization-required"
    assert not manager.is_authorized(IPSEC)
    assert manager.authorization_request("add", {IPSEC: 1}) is None  # transport off: kept
    manager.save_authorization_request(tmp_path / "req.xml")
    assert b"smartLicenseAuthRequest" in (tmp_path / "req.xml").read_bytes()
    code_id = str(uuid.uuid4())
    manager.import_data(Files(authority, clock).code(IPSEC, 1, code_id))
    handle = manager.request(IPSEC)
    assert manager.is_authorized(IPSEC) and manager.check(IPSEC) == "IN USE"
    with pytest.raises(Forbidden):
        manager.request(IPSEC)  # the code covers one
    code = manager.authorization_return(online=False)
    raw, signature = parse_return_code(code)
    assert raw == uuid.UUID(code_id).bytes
    manager._policy.core.trust_key().public_key().verify(
        signature, return_message(raw, manager.udi)
    )
    assert manager.check(IPSEC) == "NOT AUTHORIZED" and not manager.is_authorized(IPSEC)
    status = _reporting(manager)
    assert status.authorizations == [] and status.last_return_code == code
    manager.release(handle)


def test_usage_interval_is_clamped_to_the_policy(make_policy: Make) -> None:
    manager = make_policy()
    manager.request(CPF)
    manager.set_usage_interval(100)
    assert _reporting(manager).usage_reporting.reporting_push_interval_days == 90
    manager.set_usage_interval(7)
    assert _reporting(manager).usage_reporting.reporting_push_interval_days == 7
    with pytest.raises(Exception, match="1-3650"):
        manager.set_usage_interval(0)


def test_the_on_box_api_serves_reports_and_imports_acks(
    make_policy: Make, clock: ManualClock, authority: AuthorityKeys
) -> None:
    manager = make_policy()
    manager.request(CPF)
    host, port = manager.start_api("127.0.0.1", 0, "collector", "s3cret")
    base = f"http://{host}:{port}/smartlic-service"
    with httpx.Client(timeout=10) as client:
        assert client.get(f"{base}/all-reports").status_code == 401
        assert client.get(f"{base}/all-reports", auth=("collector", "wrong")).status_code == 401
        got = client.get(f"{base}/all-reports", auth=("collector", "s3cret")).json()
        assert got["udi"] == {"pid": manager.udi.pid, "sn": manager.udi.sn}
        ids = [read_report(e).report_id for e in got["usage"]]
        assert len(ids) == 1
        ack = Files(authority, clock).ack(ids)
        answer = client.post(f"{base}/import", content=ack, auth=("collector", "s3cret"))
        assert answer.json()["status"] == "OK"
        bad = client.post(f"{base}/import", content=ack[:-20], auth=("collector", "s3cret"))
        assert bad.status_code == 400 and bad.json()["status"] == "FAILED"
    manager.stop_api()
    assert _reporting(manager).report_summary.acknowledged == 1


def test_a_tampered_state_keeps_policy_mode_and_drops_codes(
    make_policy: Make, clock: ManualClock, authority: AuthorityKeys, tmp_path: Path
) -> None:
    manager = make_policy()
    manager.import_data(Files(authority, clock).code(IPSEC, 1, str(uuid.uuid4())))
    manager.close()
    path = tmp_path / "device" / "state.json"
    path.write_text(path.read_text().replace("1fc54c75", "1fc54c76"))  # hand-edited
    again = make_policy()
    status = again.status()
    assert again.mode == "policy" and status.state_integrity_error is not None
    assert status.policy is not None and status.policy.authorizations == []
    with pytest.raises(Forbidden):
        again.request(IPSEC)


@pytest.mark.parametrize("length", ["abc", "\u00b2", "9" * 5000, "1_0", "+5", "0x10"])
def test_the_on_box_api_answers_a_content_length_that_is_no_number(
    make_policy: Make, length: str
) -> None:
    """``Content-Length: abc`` (or a superscript, or 5000 digits) raised ValueError in the
    handler: the connection dropped with no answer. Now 400 ``FAILED``, and the API goes on."""
    manager = make_policy()
    host, port = manager.start_api("127.0.0.1", 0, "collector", "s3cret")
    auth = base64.b64encode(b"collector:s3cret").decode()
    request = (
        f"POST /smartlic-service/import HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\n"
        f"Content-Length: {length}\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(request.encode())
        answer = b"".join(iter(lambda: sock.recv(65536), b""))
    assert answer.startswith(b"HTTP/1.0 400 "), answer[:200]
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["status"] == "FAILED"
    with httpx.Client(timeout=10) as client:
        base = f"http://{host}:{port}/smartlic-service"
        assert client.get(f"{base}/all-reports", auth=("collector", "s3cret")).status_code == 200
    manager.stop_api()
