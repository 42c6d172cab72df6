"""A pool going out of compliance: one Compliance Warning Report, one mail (or digest entry)
per subscribed user, one signed webhook per matching event; nothing twice."""

from __future__ import annotations

import hashlib
import hmac
import json

from smartlic.authority.services.scope import SYSTEM
from smartlic.authority.services.webhooks import SIGNATURE_HEADER
from smartlic.domain.reports import ReportKind
from tests.authority.notices.conftest import DOMAIN, Lab


def _verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    fields = dict(part.split("=", 1) for part in headers[SIGNATURE_HEADER].split(","))
    mac = hmac.new(secret.encode(), f"{fields['t']}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(mac.hexdigest(), fields["v1"])


def test_out_of_compliance_reports_mails_and_signed_webhook_once(lab: Lab) -> None:
    s = lab.services
    s.notifications.subscribe(DOMAIN, "alice", "compliance-warning", scope=SYSTEM)
    s.notifications.subscribe(DOMAIN, "bob", "compliance-warning", digest=True, scope=SYSTEM)
    hook = s.webhooks.create_endpoint(DOMAIN, lab.hook_url, ["compliance.*"], scope=SYSTEM)
    assert hook.secret
    lab.tick(minutes=1)  # nothing to say yet
    assert s.reports.list_reports(DOMAIN, scope=SYSTEM)[1] == 0

    lab.overuse(n=2)  # 2 in use, 1 purchased
    ran = lab.tick(minutes=1)
    assert "compliance.scan:ok" in ran and "mail.send:ok" in ran

    reports, total = s.reports.list_reports(
        DOMAIN, kind=ReportKind.COMPLIANCE_WARNING, scope=SYSTEM
    )
    assert total == 1
    report = s.reports.get_report(DOMAIN, reports[0].id, scope=SYSTEM)
    assert [(r["virtual_account"], r["shortfall"]) for r in report.rows] == [("East", 1)]
    assert [m["Subject"] for m in lab.inbox.to("alice@example.com")] == [
        "[smartlic] Compliance warning: example.com / East"
    ]
    pdf = [p for p in lab.inbox.messages[0].walk() if p.get_content_type() == "application/pdf"]
    assert pdf and bytes(pdf[0].get_payload(decode=True)).startswith(b"%PDF")
    assert lab.inbox.to("bob@example.com") == []  # digest subscriber: waits for the digest
    assert lab.inbox.to("carol@example.com") == []  # not subscribed
    assert len(lab.hooks.received) == 1
    headers, body = lab.hooks.received[0]
    assert _verify(hook.secret, headers, body)
    event = json.loads(body)
    assert event["name"] == "compliance.pool.out_of_compliance"
    assert event["properties"]["shortfall"] == 1

    for _ in range(3):  # later rounds: nothing new
        lab.tick(minutes=5)
    assert s.reports.list_reports(DOMAIN, kind=ReportKind.COMPLIANCE_WARNING, scope=SYSTEM)[1] == 1
    assert len(lab.inbox.to("alice@example.com")) == 1
    assert len(lab.hooks.received) == 1

    lab.tick(days=1)  # the daily digest
    digest = lab.inbox.to("bob@example.com")
    assert [m["Subject"] for m in digest] == ["[smartlic] Daily digest: 1 notification(s)"]
    assert "Compliance warning in example.com / East" in digest[0].get_content()


def test_failing_receiver_is_retried_with_backoff_and_logged(lab: Lab) -> None:
    s = lab.services
    lab.hooks.codes = [500, 503]
    s.webhooks.create_endpoint(DOMAIN, lab.hook_url, ["compliance.pool.*"], scope=SYSTEM)
    lab.overuse(n=2)
    lab.tick(minutes=1)  # first attempt: 500
    lab.tick(seconds=30)  # backoff 1 minute: not yet
    assert len(lab.hooks.received) == 1
    lab.tick(minutes=1)  # second attempt: 503
    lab.tick(minutes=2)  # third: 200
    (delivery,) = s.webhooks.list_deliveries(DOMAIN, scope=SYSTEM)
    assert delivery.state == "delivered"
    assert [a.status_code for a in delivery.log] == [500, 503, 200]
    assert len(lab.hooks.received) == 3

    replay = s.webhooks.replay(DOMAIN, delivery.id, scope=SYSTEM)
    assert replay.replay_of == delivery.id
    lab.tick(seconds=10)
    assert len(lab.hooks.received) == 4
    assert lab.hooks.received[3][1] == lab.hooks.received[0][1]  # the same payload


def test_unreachable_receiver_logs_the_error(lab: Lab) -> None:
    s = lab.services
    s.webhooks.create_endpoint(DOMAIN, "http://127.0.0.1:9/none", ["*"], scope=SYSTEM)
    lab.overuse(n=2)
    lab.tick(minutes=1)
    delivery = s.webhooks.list_deliveries(DOMAIN, scope=SYSTEM)[-1]
    assert delivery.state == "pending" and delivery.last_status_code is None
    assert delivery.log[0].error and "ConnectError" in delivery.log[0].error
