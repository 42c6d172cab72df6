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
from smartlic.domain.enums import Role
from smartlic.domain.policy import CISCO_DEFAULT, LicenseGroup
from smartlic.domain.reports import ReportKind
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
