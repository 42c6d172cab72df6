"""Policy mode end to end: LicenseManager devices against the real authority over loopback
(RUM reports and ACKs online and offline, custom policies, authorization codes)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from smartlic.agent import LicenseManager, OffTransport
from smartlic.authority.services.scope import SYSTEM, system
from smartlic.domain.policy import CISCO_DEFAULT, LicenseGroup
from smartlic.errors import Conflict, Forbidden, InsufficientLicenses
from tests.e2e.conftest_agent import (  # noqa: F401 - the authority fixture
    ATM,
    CPF,
    DOMAIN,
    IPSEC,
    Authority,
    authority_fixture,
    tick_daily,
)


def _policy(manager: LicenseManager):  # type: ignore[no-untyped-def]
    status = manager.status().policy
    assert status is not None
    return status


def _trusted(authority: Authority, sn: str = "FOC0001", **kwargs: object) -> LicenseManager:
    device = authority.policy_device(sn, **kwargs)
    device.trust(authority.token())
    assert _policy(device).trust_code is not None
    return device


def test_smart_transport_reports_on_schedule_and_gets_its_ack(authority: Authority) -> None:
    device = _trusted(authority)
    status = _policy(device)
    assert status.account.virtual_account == "DEFAULT" and status.policy.name == "Cisco default"
    device.request(ATM.tag)
    device.request(CPF.tag)
    first_use = authority.clock.now()
    assert status.usage_reporting.last_ack_received is None
    assert _policy(device).usage_reporting.next_ack_deadline == first_use + timedelta(days=90)
    tick_daily(device, authority.clock, 29)
    assert _policy(device).usage_reporting.last_report_push is None
    tick_daily(device, authority.clock, 1)  # day 30: the push interval
    status = _policy(device)
    pushed = status.usage_reporting.last_report_push
    assert pushed == first_use + timedelta(days=30)
    assert status.usage_reporting.last_ack_received == pushed
    assert status.usage_reporting.next_ack_deadline == pushed + timedelta(days=90)
    assert status.report_summary.acknowledged == 2 and status.report_summary.collecting_data == 2
    assert authority.in_use(ATM.tag) == 1 and authority.in_use(CPF.tag) == 1
    assert status.comm_stats["Usage Reporting"].success == 1
    assert "RUM ACK" in status.history.imports


def test_full_offline_save_upload_ack_import(authority: Authority, tmp_path: Path) -> None:
    device = authority.policy_device("FOCOFF1", transport=OffTransport())
    device.request(CPF.tag)
    authority.clock.advance(days=3)
    device.tick()
    assert device.save_usage(tmp_path / "report") == 1
    out = authority.services.usage.upload_usage_file(
        DOMAIN,
        "DEFAULT",
        file_name="report",
        content=(tmp_path / "report").read_bytes(),
        scope=system("user:ops"),
    )
    assert out.status == "Processed" and out.reports == 1
    name, ack = authority.services.usage.usage_file_ack(DOMAIN, out.id, scope=SYSTEM)
    (tmp_path / name).write_bytes(ack)
    issued = authority.clock.now()
    authority.clock.advance(hours=1)
    assert device.import_file(tmp_path / name) == "Import Data Successful"
    status = _policy(device)
    # The deadline counts from the ACK's signed issue time (docs/security.md, "Device state").
    assert status.usage_reporting.last_ack_received == issued
    assert status.usage_reporting.next_ack_deadline == issued + timedelta(days=90)
    assert status.trust_code is not None  # delivered in the first ACK
    assert {"RUM ACK", "TRUST CODE", "POLICY", "ACCOUNT INFO"} <= set(status.history.imports)
    assert [r.state for r in status.reports] == ["ACK", "OPEN"]
    assert authority.in_use(CPF.tag) == 1


def test_a_custom_policy_in_an_ack_changes_the_deadlines(authority: Authority) -> None:
    device = _trusted(authority)
    device.request(ATM.tag)
    device.sync()
    assert _policy(device).usage_reporting.next_ack_deadline is None  # perpetual: freq 0
    doc = CISCO_DEFAULT.to_json() | {"name": "SLE Policy", "source": "Customer Policy"}
    doc["groups"][LicenseGroup.UNENFORCED_PERPETUAL.value]["reporting_frequency_days"] = 60
    authority.services.policies.create_policy(
        DOMAIN, document=doc, virtual_account="DEFAULT", scope=system("test")
    )
    authority.clock.advance(days=2)
    attempt = device.sync()
    assert attempt is not None and attempt.succeeded
    status = _policy(device)
    assert status.policy.name == "SLE Policy" and status.policy.source == "Customer Policy"
    last_ack = status.usage_reporting.last_ack_received
    assert last_ack == authority.clock.now()
    assert status.usage_reporting.next_ack_deadline == last_ack + timedelta(days=60)
    assert status.usage_reporting.reporting_push_interval_days == 30


def test_export_controlled_online_refused_when_empty_freed_by_return(
    authority: Authority,
) -> None:
    authority.buy(IPSEC.tag, 1)
    first, second = _trusted(authority, "FOCA"), _trusted(authority, "FOCB")
    with pytest.raises(Forbidden):
        first.request(IPSEC.tag)
    code_id = first.authorization_request("add", {IPSEC.tag: 1})
    assert code_id is not None
    first.request(IPSEC.tag)
    assert first.is_authorized(IPSEC.tag)
    assert _policy(first).authorizations[0].entitlements[0][2] == 1
    with pytest.raises(InsufficientLicenses):
        second.authorization_request("add", {IPSEC.tag: 1})
    code = first.authorization_return(online=True)
    assert code and not first.is_authorized(IPSEC.tag)
    assert second.authorization_request("add", {IPSEC.tag: 1}) is not None
    second.request(IPSEC.tag)
    assert _policy(second).comm_stats["Authorization Request"].fail == 1


def test_export_controlled_offline_request_file_and_return_code(
    authority: Authority, tmp_path: Path
) -> None:
    authority.buy(IPSEC.tag, 1)
    device = authority.policy_device("FOCOFF2", transport=OffTransport())
    assert device.authorization_request("add", {IPSEC.tag: 1}) is None
    device.save_authorization_request(tmp_path / "request")
    code_file = authority.services.authorizations.request_file(
        DOMAIN, "DEFAULT", content=(tmp_path / "request").read_bytes(), scope=system("user:ops")
    )
    (tmp_path / "code").write_bytes(code_file)
    device.import_file(tmp_path / "code")
    device.request(IPSEC.tag)
    return_code = device.authorization_return(online=False)
    assert not device.is_authorized(IPSEC.tag)
    freed = authority.services.authorizations.return_code(
        return_code, domain=DOMAIN, scope=system("user:ops")
    )
    assert freed[0].returned_at is not None


def test_a_trusted_device_moves_itself_with_its_pinned_key(authority: Authority) -> None:
    """``license smart trust idtoken <other account's token> local force``: signed with the
    trust key the authority pinned, the request proves the device; a device with the same UDI
    and a fresh state (another key) is refused without moving anything (issue 8 finding 1)."""
    device = _trusted(authority)
    services = authority.services
    services.accounts.create_smart_account(name="Rival", domain="rival.example", scope=SYSTEM)
    rival = services.tokens.create_token("rival.example", "DEFAULT", scope=SYSTEM).text
    impostor = authority.policy_device(state_dir=authority.tmp_path / "impostor")

    with pytest.raises(Conflict) as info:
        impostor.trust(rival, force=True)
    assert info.value.code == "ownership-not-proven"
    assert len(authority.instances()) == 1

    device.trust(rival, force=True)
    assert _policy(device).account.smart_account == "Rival"
    assert authority.instances() == []
    assert len(services.instances.list_instances("rival.example", scope=SYSTEM).items) == 1
    names = [e.name for e in services.events.list_events(DOMAIN, scope=SYSTEM).items]
    assert "instance.moved_away" in names and "instance.trust.refused" in names
