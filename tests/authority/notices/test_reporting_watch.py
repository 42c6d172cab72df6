"""The event sources issue 12 left open: compliance warnings raised by the write that causes
them (no scan), ACKs overdue by the policy's reporting frequency, collectors out of sync; each
once per occurrence and re-armed when the condition ends. Real SMTP and HTTP on loopback, the
manual clock."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from smartlic.authority.services.scope import SYSTEM, Principal
from smartlic.crypto import Udi
from smartlic.domain.enums import Enforcement, Role
from smartlic.domain.policy import CISCO_DEFAULT, LicenseGroup
from smartlic.domain.products import make_tag
from smartlic.domain.reports import ReportKind
from smartlic.formats.rum import usage_file
from tests.authority.notices.conftest import DOMAIN, TAG, Lab
from tests.devices import PolicyDevice

OUT = "compliance.pool.out_of_compliance"


def _device(lab: Lab, sn: str = "FOC1") -> PolicyDevice:
    token = lab.services.tokens.create_token(DOMAIN, "East", scope=SYSTEM).text
    dev = PolicyDevice(Udi("IXM-LPWA-900-16-K9", sn), lab.clock)
    lab.services.trust.establish(dev.trust_request(token))
    return dev


def _report(lab: Lab, dev: PolicyDevice, value: int, principal: Principal | None = None) -> None:
    va = "East" if principal is not None else None
    body = dev.body(dev.report(TAG, value))
    answer = lab.services.usage.report_usage(body, principal, virtual_account=va)
    done = lab.services.usage.poll({"data": {"poll_id": answer["poll_id"]}}, principal)
    assert done["data"]["acknowledgements"][0]["acknowledged"], done


def _events(lab: Lab, name: str) -> list[dict[str, object]]:
    page = lab.services.events.list_events(DOMAIN, name_prefix=name, scope=SYSTEM)
    return [e.properties | {"subject": e.subject} for e in page.items]


def _warnings(lab: Lab) -> int:
    kind = ReportKind.COMPLIANCE_WARNING
    return lab.services.reports.list_reports(DOMAIN, kind=kind, scope=SYSTEM)[1]


def _run(lab: Lab, *names: str) -> None:
    for name in names:
        assert lab.services.jobs.run_now(name) is not None


def test_usage_report_raises_the_warning_without_the_scan(lab: Lab) -> None:
    s = lab.services
    s.notifications.subscribe(DOMAIN, "alice", "compliance-warning", scope=SYSTEM)
    s.webhooks.create_endpoint(DOMAIN, lab.hook_url, ["compliance.*"], scope=SYSTEM)
    dev = _device(lab)
    _report(lab, dev, 1)  # 1 in use, 1 held: in compliance
    assert _events(lab, OUT) == [] and _warnings(lab) == 0

    _report(lab, dev, 3)  # the report itself pushes the pool out
    (event,) = _events(lab, OUT)
    assert (event["in_use"], event["purchased"], event["shortfall"]) == (3, 1, 2)
    assert _warnings(lab) == 1  # the Compliance Warning Report, written with the usage
    _run(lab, "events.dispatch", "mail.send", "webhooks.send")  # not compliance.scan
    assert [m["Subject"] for m in lab.inbox.to("alice@example.com")] == [
        "[smartlic] Compliance warning: example.com / East"
    ]
    assert [json.loads(b)["name"] for _, b in lab.hooks.received] == [OUT]

    _report(lab, dev, 4)  # still short: the same state, no second warning
    _run(lab, "compliance.scan", "events.dispatch", "mail.send", "webhooks.send")
    assert len(_events(lab, OUT)) == 1 and _warnings(lab) == 1
    assert len(lab.inbox.to("alice@example.com")) == 1 and len(lab.hooks.received) == 1

    _report(lab, dev, 1)  # back in compliance: re-armed
    _report(lab, dev, 2)  # a new shortfall: a new warning
    assert len(_events(lab, OUT)) == 2 and _warnings(lab) == 2
    _run(lab, "compliance.scan", "events.dispatch", "mail.send")
    assert len(lab.inbox.to("alice@example.com")) == 2


def test_purchase_and_transfer_move_compliance_at_once(lab: Lab) -> None:
    s = lab.services
    dev = _device(lab)
    _report(lab, dev, 2)
    assert len(_events(lab, OUT)) == 1
    s.licenses.add_holding(DOMAIN, "East", tag=TAG, quantity=5, scope=SYSTEM)  # back in
    s.accounts.create_virtual_account(DOMAIN, name="West", scope=SYSTEM)
    s.licenses.transfer(DOMAIN, "East", "West", tag=TAG, quantity=4, scope=SYSTEM)
    assert len(_events(lab, OUT)) == 1  # the purchase re-armed; 6 - 4 = 2 held, 2 in use
    _report(lab, dev, 3)
    assert len(_events(lab, OUT)) == 2


def _policy(lab: Lab, frequency_days: int) -> None:
    doc = CISCO_DEFAULT.to_json() | {"name": "Monthly"}
    group = doc["groups"][LicenseGroup.UNENFORCED_PERPETUAL.value]
    group["reporting_frequency_days"] = frequency_days
    lab.services.policies.create_policy(DOMAIN, document=doc, virtual_account="East", scope=SYSTEM)


def test_ack_overdue_once_per_deadline(lab: Lab) -> None:
    s = lab.services
    s.notifications.subscribe(DOMAIN, "alice", "ack-overdue", scope=SYSTEM)
    _policy(lab, frequency_days=30)  # ACK required; report every 30 days
    dev = _device(lab)
    _report(lab, dev, 1)
    reported = lab.clock.now()
    lab.tick(days=29)
    assert _events(lab, "usage.ack.") == []
    lab.tick(days=1, hours=1)  # the deadline (reported + 30 days) has passed
    (event,) = _events(lab, "usage.ack.overdue")
    assert event["subject"] == "PID:IXM-LPWA-900-16-K9,SN:FOC1"
    assert event["ack_deadline"] == (reported + timedelta(days=30)).isoformat()
    mails = lab.inbox.to("alice@example.com")
    assert [m["Subject"] for m in mails] == [
        "[smartlic] Reporting acknowledgement overdue: example.com / East"
    ]
    for _ in range(3):
        lab.tick(hours=2)  # still overdue: no second warning
    assert len(_events(lab, "usage.ack.overdue")) == 1

    _report(lab, dev, 1)  # acknowledged: the condition ends
    lab.tick(days=29)
    assert len(_events(lab, "usage.ack.overdue")) == 1
    lab.tick(days=1, hours=1)  # the next deadline missed: warned again
    assert len(_events(lab, "usage.ack.overdue")) == 2
    assert len(lab.inbox.to("alice@example.com")) == 2


def test_no_ack_required_no_warning(lab: Lab) -> None:
    doc = CISCO_DEFAULT.to_json() | {"name": "No ACK", "ack_required": False}
    doc["groups"][LicenseGroup.UNENFORCED_PERPETUAL.value]["reporting_frequency_days"] = 30
    lab.services.policies.create_policy(DOMAIN, document=doc, virtual_account="East", scope=SYSTEM)
    _report(lab, _device(lab), 1)
    lab.tick(days=60)
    assert _events(lab, "usage.ack.") == []


@pytest.fixture
def collector(lab: Lab) -> Principal:
    key = lab.services.api_keys.create_api_key(
        name="collector-1", role=Role.SMART_ACCOUNT_ADMIN, smart_account=DOMAIN, actor="t"
    )
    return lab.services.api_keys.authenticate(key.text)


def test_collector_out_of_sync_once_per_silence(lab: Lab, collector: Principal) -> None:
    s = lab.services
    s.notifications.subscribe(DOMAIN, "alice", "collector-out-of-sync", scope=SYSTEM)
    s.webhooks.create_endpoint(DOMAIN, lab.hook_url, ["collector.*"], scope=SYSTEM)
    dev = _device(lab)
    _report(lab, dev, 1, collector)  # the collector forwards the device's report
    _report(lab, dev, 1)  # a device's own report is no collector's contact
    lab.tick(hours=23)
    assert _events(lab, "collector.") == []
    lab.tick(hours=2)  # a day without a word from the collector
    (event,) = _events(lab, "collector.out_of_sync")
    assert event["collector"] == "apikey:collector-1"
    assert event["expected_within_s"] == 86400
    assert [m["Subject"] for m in lab.inbox.to("alice@example.com")] == [
        "[smartlic] Collector out of sync: example.com"
    ]
    assert [json.loads(b)["name"] for _, b in lab.hooks.received] == ["collector.out_of_sync"]
    lab.tick(hours=5)
    lab.tick(days=2)
    assert len(_events(lab, "collector.out_of_sync")) == 1  # one warning per silence

    _report(lab, dev, 1, collector)  # back in sync: re-armed
    lab.tick(hours=12)
    assert len(_events(lab, "collector.out_of_sync")) == 1
    lab.tick(hours=13)
    assert len(_events(lab, "collector.out_of_sync")) == 2
    assert len(lab.inbox.to("alice@example.com")) == 2


HSEC = make_tag("hseck9")


def _slac_lab(lab: Lab) -> PolicyDevice:
    """An export-controlled license with 1 held in East, and a trusted device there."""
    s = lab.services
    s.licenses.define_license(tag=HSEC, name="hseck9", display_name="HSECK9",
                              enforcement=Enforcement.EXPORT_CONTROLLED, scope=SYSTEM)  # fmt: skip
    s.licenses.add_holding(DOMAIN, "East", tag=HSEC, quantity=1, scope=SYSTEM)
    return _device(lab)


def _authrequest(lab: Lab, data: dict[str, object], principal: Principal | None) -> str:
    answer = lab.services.authorizations.authrequest({"data": data}, principal)
    done = lab.services.usage.poll({"data": {"poll_id": answer["poll_id"]}}, principal)
    (item,) = done["data"]["authorizations"]
    return str(item["status"])


def _upload(lab: Lab, dev: PolicyDevice, scope: Principal) -> None:
    data = usage_file([dev.report(TAG, 1)])
    out = lab.services.usage.upload_usage_file(DOMAIN, "East", file_name="usage.txt",
                                               content=data, scope=scope)  # fmt: skip
    assert (out.status, out.reports) == ("Processed", 1)


def _contacts(lab: Lab, kind: str, principal: Principal | None) -> None:
    """One interaction of ``kind`` made by ``principal`` (None: the device on its own, or a
    portal user for a file upload), accepted by the authority."""
    if kind == "reportusage":
        _report(lab, _device(lab), 1, principal)
    elif kind == "usage-file":
        user = lab.services.users.authenticate("alice", "correct horse")
        _upload(lab, _device(lab), principal or user)
    elif kind == "authrequest":
        dev = _slac_lab(lab)
        assert _authrequest(lab, {"requests": [dev.auth_request({HSEC: 1})]}, principal) == (
            "SUCCESS"
        )
    else:  # a return of a code the device got on its own
        dev = _slac_lab(lab)
        issued = lab.services.authorizations.request(dev.auth_request({HSEC: 1}))
        ret = {"sudi": {}, "remove_code": dev.return_code(issued.code_id)}
        assert _authrequest(lab, {"returns": [ret]}, principal) == "SUCCESS"


KINDS = ["reportusage", "usage-file", "authrequest", "authreturn"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_collector_interaction_is_contact(lab: Lab, collector: Principal, kind: str) -> None:
    """Usage forwarded online, a usage file uploaded with the collector's key, an authorization
    code request or return forwarded: each is the collector's contact for the device's smart
    account (and the clock of its next silence starts from it)."""
    _contacts(lab, kind, collector)
    lab.tick(hours=23)
    assert _events(lab, "collector.") == []
    lab.tick(hours=2)
    (event,) = _events(lab, "collector.out_of_sync")
    assert event["collector"] == "apikey:collector-1"


@pytest.mark.parametrize("kind", KINDS)
def test_the_same_interaction_without_a_collector_is_no_contact(lab: Lab, kind: str) -> None:
    _contacts(lab, kind, None)  # the device on its own; a portal user's upload
    lab.tick(days=3)
    assert _events(lab, "collector.") == []


def test_a_refused_request_is_no_contact(lab: Lab, collector: Principal) -> None:
    dev = _slac_lab(lab)  # 1 held: 2 asked is refused
    assert _authrequest(lab, {"requests": [dev.auth_request({HSEC: 2})]}, collector) == "FAILED"
    lab.tick(days=3)
    assert _events(lab, "collector.") == []
