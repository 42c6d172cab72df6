"""Portal lists a license administrator can work with: the event log in sentences with filters
and paging, every list sortable and filterable, token revocation confirmed first, the token form
keeping what was typed, and usage uploads that recognise a file seen before or not a usage file
at all. Over real HTTP against the live authority."""

from __future__ import annotations

import re

from smartlic.authority.services.scope import SYSTEM, system
from smartlic.crypto import Udi
from smartlic.domain.enums import Role
from smartlic.domain.reports import ReportKind
from smartlic.formats.rum import usage_file
from tests.authority.api.helpers import DOMAIN, TAG
from tests.authority.web.conftest import PORTAL, Browser, Portal, html, table, texts
from tests.authority.web.test_inventory import VA_URL, portal_token, registered
from tests.authority.web.test_reports import FILES_URL, upload
from tests.devices import PolicyDevice

EVENTS = f"{PORTAL}/accounts/{DOMAIN}/events"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def test_event_log_reads_as_sentences(portal: Portal, alice: Browser) -> None:
    instance = registered(portal.live, alice, 4)
    alice.page(f"{VA_URL}/Prod/instances")
    alice.post(f"{VA_URL}/Prod/instances/{instance}/transfer", {"target": "Spare"})
    doc = alice.page(EVENTS)
    sentences = [row[1] for row in table(doc, "events")]
    assert "PID:ASR-903,SN:FOX00004 transferred from Prod to Spare by alice." in (
        s.split(" Details")[0] for s in sentences
    )
    assert any(s.startswith("PID:ASR-903,SN:FOX00004 registered in Prod.") for s in sentences)
    page_text = " ".join(texts(doc, '//table[@id="events"]'))
    assert not UUID.search(page_text)  # ids are shortened
    assert "{" not in page_text and "=" not in page_text  # no Python-style details
    assert all(
        re.match(r"\d{4}-[A-Z][a-z]{2}-\d{2} \d\d:\d\d UTC", t)
        for t in texts(doc, '//td[@class="when"]')
    )


def test_event_log_filters_by_type_account_dates_and_text(portal: Portal, alice: Browser) -> None:
    portal_token(alice, va="Spare", description="spare token")
    registered(portal.live, alice, 5)  # a token in Prod, then a registration in Prod

    def names(**params: str) -> list[str]:
        doc = alice.page(EVENTS + "?" + "&".join(f"{k}={v}" for k, v in params.items()))
        return doc.xpath('//table[@id="events"]/tbody/tr/@data-name')

    assert set(names(type="Registration+tokens")) == {"token.created"}
    assert names(type="Registration+tokens", virtual_account="Spare") == ["token.created"]
    assert set(names(type="Product+instances")) == {"instance.registered"}
    assert names(search="FOX00005") == ["instance.registered"]
    assert names(since="2026-01-01", until="2026-01-01") != []  # the lab clock's day
    assert names(since="2026-01-02") == []
    oldest, newest = names(order="asc"), names()
    assert oldest == list(reversed(newest))


def test_bad_event_filter_explains_and_keeps_the_form(portal: Portal, alice: Browser) -> None:
    answer = alice.get(EVENTS, params={"since": "yesterday", "search": "FOX"})
    assert answer.status_code == 422
    doc = html(answer)
    assert texts(doc, '//p[@role="alert"]') == ["From: a date as YYYY-MM-DD, not 'yesterday'"]
    assert doc.xpath('//input[@name="search"]/@value') == ["FOX"]


def test_event_log_pages_keep_the_filters(portal: Portal, alice: Browser) -> None:
    for n in range(105):
        portal.services.tokens.create_token(DOMAIN, "Prod", description=f"t{n}", scope=system("t"))
    doc = alice.page(EVENTS + "?type=Registration+tokens&virtual_account=Prod")
    (next_page,) = doc.xpath('//p[@class="pager"]/a[text()="Next"]/@href')
    assert "type=Registration%20tokens" in next_page and "virtual_account=Prod" in next_page
    assert len(table(alice.page(next_page), "events")) == 5


def test_lists_sort_by_their_headers_and_filter(portal: Portal, alice: Browser) -> None:
    for d in ("beta", "alpha", "gamma"):
        portal_token(alice, description=d)
        portal.live.clock.advance(seconds=1)  # "newest" is by time: ties have no order in SQL
    general = f"{VA_URL}/Prod/general"
    first = [r[0] for r in table(alice.page(general), "tokens")]
    assert first == ["gamma", "alpha", "beta"]  # newest first by default
    doc = alice.page(general + "?sort=description&order=asc")
    assert [r[0] for r in table(doc, "tokens")] == ["alpha", "beta", "gamma"]
    (header,) = doc.xpath('//th[@aria-sort="ascending"]/a/@href')
    assert "order=desc" in header
    assert [r[0] for r in table(alice.page(general + "?" + header[1:]), "tokens")] == [
        "gamma", "beta", "alpha",
    ]  # fmt: skip
    assert [r[0] for r in table(alice.page(general + "?filter=ALP"), "tokens")] == ["alpha"]
    vas = table(alice.page(f"{PORTAL}/accounts/{DOMAIN}?sort=name&order=desc"), "virtual-accounts")
    assert [r[0].split()[0] for r in vas] == ["Spare", "Prod", "DEFAULT"]
    vas = table(alice.page(f"{PORTAL}/accounts/{DOMAIN}?filter=spare+site"), "virtual-accounts")
    assert [r[0] for r in vas] == ["Spare"]
    assert alice.get(general + "?sort=nonsense").status_code == 200  # falls back


def test_instances_sort_across_pages(portal: Portal, alice: Browser) -> None:
    for n in (3, 1, 2):
        registered(portal.live, alice, n)
    url = f"{VA_URL}/Prod/instances"
    by_name = [r[0][-8:] for r in table(alice.page(url + "?sort=name&order=desc"), "instances")]
    assert by_name == ["FOX00003", "FOX00002", "FOX00001"]
    rows = table(alice.page(url + "?filter=fox00002"), "instances")
    assert [r[0][-8:] for r in rows] == ["FOX00002"]
    assert table(alice.page(url + "?filter=%25"), "instances")[0][0].startswith("No product")


def test_token_revoke_asks_first_and_cancel_changes_nothing(portal: Portal, alice: Browser) -> None:
    portal_token(alice, description="keep me")
    (token,) = portal.services.tokens.list_tokens(DOMAIN, "Prod", scope=SYSTEM)
    doc = html(alice.post(f"{VA_URL}/Prod/tokens/{token.id}/revoke"))
    assert "keep me" in " ".join(texts(doc, '//section[@id="confirm"]'))
    (cancel,) = doc.xpath('//section[@id="confirm"]//a/@href')
    assert alice.get(cancel).status_code == 200
    assert portal.services.tokens.list_tokens(DOMAIN, "Prod", scope=SYSTEM)[0].status == "active"


def test_token_form_keeps_values_and_names_fields_as_shown(portal: Portal, alice: Browser) -> None:
    alice.page(f"{VA_URL}/Prod/general")
    answer = alice.post(
        f"{VA_URL}/Prod/tokens",
        {"description": "branch routers", "expires_after_days": "ten", "max_uses": "5"},
    )
    assert answer.status_code == 422
    doc = html(answer)
    assert texts(doc, '//p[@role="alert"]') == ["Expire after (days): a whole number from 1 to 365"]
    assert doc.xpath('//input[@name="description"]/@value') == ["branch routers"]
    assert doc.xpath('//input[@name="expires_after_days"]/@value') == ["ten"]
    assert doc.xpath('//input[@name="max_uses"]/@value') == ["5"]
    assert doc.xpath('//input[@name="export_controlled_allowed"]/@checked') == []
    assert portal.services.tokens.list_tokens(DOMAIN, "Prod", scope=SYSTEM) == []


def test_the_same_usage_file_twice_is_answered_with_the_same_ack(
    portal: Portal, alice: Browser
) -> None:
    dev = PolicyDevice(Udi("IXM-LPWA-900-16-K9", "DUP1"), portal.live.clock)
    data = usage_file([dev.report(TAG, 2)])
    assert upload(alice, "Prod", "UD_DUP1.txt", data).status_code == 303
    first_ack = alice.get(html(alice.get(FILES_URL)).xpath('//td[@class="ack"]/a/@href')[0])
    assert upload(alice, "Prod", "copy of UD_DUP1.txt", data).status_code == 303
    doc = alice.page(FILES_URL)
    (flash,) = texts(doc, '//p[@role="status"]')
    assert flash.startswith("This file was already uploaded on ") and "same ACK" in flash
    assert [r[0] for r in table(doc, "usage-files")] == ["UD_DUP1.txt"]  # one row
    again = alice.get(doc.xpath('//td[@class="ack"]/a/@href')[0])
    assert again.content == first_ack.content
    # the API answers a repeat with the first upload (200, same id), creating nothing
    key = portal.services.api_keys.create_api_key(
        name="k", role=Role.ADMIN, smart_account=None, actor="t"
    )
    api = portal.live.client(key.text)
    url = f"/api/v1/accounts/{DOMAIN}/virtual-accounts/Prod/usage-files"
    got = api.post(url, files={"file": ("UD_DUP1.txt", data)})
    assert got.status_code == 200 and got.json()["duplicate"] is True
    assert len(portal.services.usage.list_usage_files(DOMAIN, scope=SYSTEM).items) == 1


def test_what_is_not_a_usage_file_is_named_so(portal: Portal, alice: Browser) -> None:
    pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n"
    answer = upload(alice, "Prod", "invoice.pdf", pdf)
    assert answer.status_code == 422
    (message,) = texts(html(answer), '//p[@role="alert"]')
    assert message.startswith("invoice.pdf: this is not a usage data file (it is not XML)")
    assert "license smart save usage" in message and "XMLSyntaxError" not in message
    answer = upload(alice, "Prod", "policy.xml", b"<smartLicensePolicy/>")
    assert "an XML document <smartLicensePolicy>" in texts(html(answer), '//p[@role="alert"]')[0]
    assert portal.services.usage.list_usage_files(DOMAIN, scope=SYSTEM).items == []


def test_api_keys_and_report_archive_sort_and_filter(portal: Portal, alice: Browser) -> None:
    for name in ("beta", "alpha", "gamma"):
        portal.services.api_keys.create_api_key(
            name=name, role=Role.SMART_ACCOUNT_USER, smart_account=DOMAIN, actor="t"
        )
    url = f"{PORTAL}/accounts/{DOMAIN}/api-access"
    names = [r[0] for r in table(alice.page(url + "?sort=name&order=asc"), "api-keys")]
    assert names == ["alpha", "beta", "gamma"]
    assert [r[0] for r in table(alice.page(url + "?filter=gam"), "api-keys")] == ["gamma"]
    for va in ("Spare", "Prod", None):
        portal.services.reports.generate(
            DOMAIN, kind=ReportKind.MANUAL, virtual_account=va, scope=system("t")
        )
    archive = f"{PORTAL}/accounts/{DOMAIN}/report-archive"
    rows = table(alice.page(archive + "?sort=va&order=asc"), "report-archive")
    assert [r[2] for r in rows] == ["(all)", "Prod", "Spare"]
    assert [r[2] for r in table(alice.page(archive + "?filter=spare"), "report-archive")] == [
        "Spare"
    ]
