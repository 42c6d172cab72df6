"""Portal pages of issue 12 over real HTTP: the report archive (generate, view, CSV, PDF),
usage trend charts as inline SVG, and each user's own notification settings."""

from __future__ import annotations

import lxml.etree

from smartlic.authority.services.scope import SYSTEM
from smartlic.domain.enums import Role
from tests.authority.api.helpers import DOMAIN
from tests.authority.web.conftest import PORTAL, Browser, Portal, table

BASE = f"{PORTAL}/accounts/{DOMAIN}"


def test_report_archive_generate_view_download(portal: Portal, alice: Browser) -> None:
    alice.page(BASE + "/report-archive")
    answer = alice.post(BASE + "/report-archive", {"virtual_account": "Prod", "kind": "manual"})
    assert answer.status_code == 303
    doc = alice.page(answer.headers["location"])
    rows = table(doc, "report-rows")
    assert rows[0][:3] == ["Prod", "metroipaccess", "10"]
    archive = table(alice.page(BASE + "/report-archive"), "report-archive")
    assert [r[1:3] for r in archive] == [["manual", "Prod"]]
    report_id = answer.headers["location"].rsplit("/", 1)[1]
    csv = alice.get(f"{BASE}/report-archive/{report_id}/report.csv")
    assert csv.text.startswith("virtual_account,tag,license")
    assert alice.get(f"{BASE}/report-archive/{report_id}/report.pdf").content[:4] == b"%PDF"
    bad = alice.post(BASE + "/report-archive", {"virtual_account": "Prod", "kind": "weekly"})
    assert bad.status_code == 422
    assert len(portal.services.reports.list_reports(DOMAIN, scope=SYSTEM)[0]) == 1  # nothing stored


def test_virtual_account_user_sees_only_its_reports(portal: Portal, alice: Browser) -> None:
    spare = portal.services.reports.generate(
        DOMAIN, kind="manual", virtual_account="Spare", scope=SYSTEM
    )
    portal.services.reports.generate(DOMAIN, kind="manual", scope=SYSTEM)  # account-wide
    vic = portal.user("vic", Role.VIRTUAL_ACCOUNT_USER, DOMAIN, "Prod")
    assert table(vic.page(BASE + "/report-archive"), "report-archive") == [["No reports yet."]]
    assert vic.get(f"{BASE}/report-archive/{spare.id}").status_code == 404
    assert vic.get(f"{BASE}/report-archive/{spare.id}/report.csv").status_code == 404
    refused = vic.post(BASE + "/report-archive", {"virtual_account": "Spare"})
    assert refused.status_code in (403, 404)
    assert portal.services.reports.list_reports(DOMAIN, scope=SYSTEM)[1] == 2


def test_trends_chart_is_server_side_svg(portal: Portal, alice: Browser) -> None:
    for _ in range(3):
        portal.services.jobs.run_now("usage.rollup")
        portal.live.clock.advance(days=1)
    alice.login("alice")  # three days later: the session has expired
    doc = alice.page(BASE + "/trends")
    figures = doc.xpath('//figure[@data-va="Prod"]')
    assert len(figures) == 1
    svg = figures[0].xpath("./svg")[0]
    assert len(svg.xpath("./polyline")) == 2  # in use, purchased
    assert doc.xpath("//*[@id='trends']//script") == []  # the chart needs no script
    lxml.etree.tostring(svg)  # well-formed


def test_own_notification_settings(portal: Portal, alice: Browser) -> None:
    portal.services.users.create_user(
        username="ann",
        password="portal password 1",
        email="ann@acme.example",
        actor="t",
    )
    portal.services.users.grant("ann", Role.SMART_ACCOUNT_USER, smart_account=DOMAIN, actor="t")
    ann = portal.browser()
    ann.login("ann")
    doc = ann.page(BASE + "/notifications")
    assert "ann@acme.example" in doc.text_content()
    answer = ann.post(
        BASE + "/notifications",
        {"event-compliance-warning": "immediate", "event-license-expiring": "digest"},
    )
    assert answer.status_code == 303
    subs = {
        s.event.value: s.digest
        for s in portal.services.notifications.list_subscriptions(DOMAIN, scope=SYSTEM)
    }
    assert subs == {"compliance-warning": False, "license-expiring": True}
    ann.page(BASE + "/notifications")
    ann.post(BASE + "/notifications", {"event-license-expiring": "digest"})
    events = {
        s.event.value
        for s in portal.services.notifications.list_subscriptions(DOMAIN, scope=SYSTEM)
    }
    assert events == {"license-expiring"}
