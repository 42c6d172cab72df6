"""Portal inventory pages over real HTTP: smart accounts, virtual accounts with compliance, the
Licenses and Product Instances tabs, registration tokens (shown once, usable by a device),
transfers and removal (licenses freed), and the event log."""

from __future__ import annotations

import pytest

from smartlic.authority.services.scope import SYSTEM, system
from smartlic.domain.enums import Role
from tests.authority.api.conftest import LiveAuthority
from tests.authority.api.helpers import DOMAIN, TAG, authorize, new_device, register
from tests.authority.web.conftest import (
    OTHER_DOMAIN,
    PORTAL,
    Browser,
    Portal,
    html,
    table,
    texts,
)

VA_URL = f"{PORTAL}/accounts/{DOMAIN}/va"


def portal_token(browser: Browser, va: str = "Prod", **fields: str) -> str:
    """Create a token in the General tab; return the text the page shows once."""
    browser.page(f"{VA_URL}/{va}/general")
    answer = browser.post(f"{VA_URL}/{va}/tokens", {"expires_after_days": "30", **fields})
    assert answer.status_code == 201, answer.text
    (text,) = texts(html(answer), '//textarea[@id="token-text"]')
    return text


def registered(live: LiveAuthority, browser: Browser, n: int, usage: int = 0) -> str:
    """A device registered with a portal token, using ``usage`` x TAG; its instance id."""
    device = new_device(live, n)
    api = live.client(auth=False)
    register(live, api, device, portal_token(browser))
    if usage:
        authorize(live, api, device, {TAG: usage})
    page = live.services.instances.list_instances(
        DOMAIN, "Prod", search=device.udi.sn, scope=SYSTEM
    )
    return page.items[0].id


def licenses(browser: Browser, va: str) -> dict[str, list[str]]:
    rows = table(browser.page(f"{VA_URL}/{va}/licenses"), "licenses")
    return {row[0]: row[1:] for row in rows if len(row) == 6}


def test_home_lists_only_the_users_smart_accounts(portal: Portal, alice: Browser) -> None:
    assert [row[1] for row in table(alice.page(f"{PORTAL}/"), "accounts")] == [DOMAIN]
    root = portal.user("root", Role.ADMIN)
    listed = {row[1] for row in table(root.page(f"{PORTAL}/"), "accounts")}
    assert listed == {DOMAIN, OTHER_DOMAIN}


def test_account_overview_shows_virtual_accounts_with_compliance(
    portal: Portal, alice: Browser
) -> None:
    rows = table(alice.page(f"{PORTAL}/accounts/{DOMAIN}"), "virtual-accounts")
    assert [(r[0].split()[0], r[2], r[3], r[4]) for r in rows] == [
        ("DEFAULT", "0", "0", "In Compliance"),
        ("Prod", "1", "0", "In Compliance"),
        ("Spare", "1", "0", "In Compliance"),
    ]


def test_licenses_tab_is_the_compliance_table(portal: Portal, alice: Browser) -> None:
    registered(portal.live, alice, 1, usage=4)
    assert licenses(alice, "Prod") == {
        "Device metroipaccess": ["10", "4", "0", "6", "In Compliance"]
    }
    doc = alice.page(f"{VA_URL}/Prod/licenses")
    assert texts(doc, '//tr[@class="holding"]') == ["10 \N{MULTIPLICATION SIGN} perpetual"]
    assert texts(doc, "//h1/small") == ["In Compliance"]


def test_out_of_compliance_shows(portal: Portal, alice: Browser) -> None:
    registered(portal.live, alice, 1, usage=12)
    assert licenses(alice, "Prod")["Device metroipaccess"] == [
        "10",
        "12",
        "0",
        "-2",
        "Out of Compliance",
    ]
    rows = table(alice.page(f"{PORTAL}/accounts/{DOMAIN}"), "virtual-accounts")
    assert rows[1][4] == "Out of Compliance"


def test_term_holding_shows_its_dates_and_subscription(portal: Portal) -> None:
    olga = portal.user("olga", Role.SMART_ACCOUNT_USER, OTHER_DOMAIN)
    doc = olga.page(f"{PORTAL}/accounts/{OTHER_DOMAIN}/va/DEFAULT/licenses")
    (holding,) = texts(doc, '//tr[@class="holding"]')
    expected = "3 \N{MULTIPLICATION SIGN} term, subscription SUB-OTHER-1, 2026-Jan-01 12:00 UTC to "
    assert holding.startswith(expected)


def test_token_is_shown_once_and_registers_a_device(portal: Portal, alice: Browser) -> None:
    text = portal_token(alice, description="lab routers")
    general = alice.page(f"{VA_URL}/Prod/general")
    assert text not in general.text_content()  # never shown again
    ((description, *_, status, _actions),) = table(general, "tokens")
    assert (description, status) == ("lab routers", "active")
    instance = registered(portal.live, alice, 7)
    rows = table(alice.page(f"{VA_URL}/Prod/instances"), "instances")
    assert rows[0][:2] == ["UDI_PID:ASR-903; UDI_SN:FOX00007", "Device"]
    assert rows[0][2].startswith("2026-Jan-01")  # last contact
    assert (
        portal.services.instances.get_instance(DOMAIN, instance, scope=SYSTEM).virtual_account
        == "Prod"
    )
    events = table(alice.page(f"{PORTAL}/accounts/{DOMAIN}/events"), "events")
    assert any(
        r[1].startswith("Registration token ")
        and r[1].split(" Details")[0].endswith(" created in Prod by alice.")
        for r in events
    )


def test_token_form_with_bad_input_explains_and_creates_nothing(
    portal: Portal, alice: Browser
) -> None:
    alice.page(f"{VA_URL}/Prod/general")
    for days, max_uses in (("0", ""), ("400", ""), ("ten", ""), ("30", "-1")):
        answer = alice.post(
            f"{VA_URL}/Prod/tokens", {"expires_after_days": days, "max_uses": max_uses}
        )
        assert answer.status_code == 422
        (message,) = texts(html(answer), '//p[@role="alert"]')
        assert "whole number" in message
    assert portal.services.tokens.list_tokens(DOMAIN, "Prod", scope=SYSTEM) == []


def test_revoked_token_no_longer_registers(portal: Portal, alice: Browser) -> None:
    text = portal_token(alice)
    (token,) = portal.services.tokens.list_tokens(DOMAIN, "Prod", scope=SYSTEM)
    answer = alice.post(f"{VA_URL}/Prod/tokens/{token.id}/revoke")
    assert answer.status_code == 200  # first the question
    assert texts(html(answer), "//h1") == ["Revoke Token?"]
    (row,) = table(alice.page(f"{VA_URL}/Prod/general"), "tokens")
    assert row[6] == "active"  # nothing changed yet
    answer = alice.post(f"{VA_URL}/Prod/tokens/{token.id}/revoke", {"confirm": "yes"})
    assert answer.status_code == 303
    (row,) = table(alice.page(f"{VA_URL}/Prod/general"), "tokens")
    assert row[6] == "revoked"
    device = new_device(portal.live, 3)
    refused = portal.live.client(auth=False).post(
        "/api/device/v1/register", json=device.register_request(text)
    )
    assert refused.status_code == 403


def test_instance_removal_frees_its_licenses(portal: Portal, alice: Browser) -> None:
    instance = registered(portal.live, alice, 1, usage=3)
    assert licenses(alice, "Prod")["Device metroipaccess"][1] == "3"
    alice.page(f"{VA_URL}/Prod/instances")
    answer = alice.post(f"{VA_URL}/Prod/instances/{instance}/remove")
    assert answer.status_code == 303
    doc = alice.page(answer.headers["location"])
    assert "removed; its licenses are free again" in " ".join(texts(doc, '//p[@role="status"]'))
    assert licenses(alice, "Prod")["Device metroipaccess"][1:4] == ["0", "0", "10"]
    assert table(doc, "instances")[0][0] == "No product instances."


def test_instance_transfer_moves_its_licenses(portal: Portal, alice: Browser) -> None:
    instance = registered(portal.live, alice, 1, usage=2)
    alice.page(f"{VA_URL}/Prod/instances")
    assert alice.post(f"{VA_URL}/Prod/instances/{instance}/transfer", {"target": "Spare"})
    assert licenses(alice, "Prod")["Device metroipaccess"][1] == "0"
    assert licenses(alice, "Spare")["Device metroipaccess"][1] == "2"
    assert (
        portal.services.instances.get_instance(DOMAIN, instance, scope=SYSTEM).virtual_account
        == "Spare"
    )


def test_transfer_the_target_cannot_cover_is_previewed_with_a_warning(
    portal: Portal, alice: Browser
) -> None:
    instance = registered(portal.live, alice, 1, usage=6)  # Spare holds 5
    alice.page(f"{VA_URL}/Prod/instances")
    answer = alice.post(f"{VA_URL}/Prod/instances/{instance}/transfer", {"target": "Spare"})
    assert answer.status_code == 200
    doc = html(answer)
    assert texts(doc, '//div[@id="transfer-warning"]//li') == [
        "Spare would be Out of Compliance for metroipaccess: 6 in use, 5 purchased"
    ]
    assert table(doc, "transfer-preview") == [["metroipaccess", "6", "5", "6", "Out of Compliance"]]
    # nothing moved until confirmed
    assert (
        portal.services.instances.get_instance(DOMAIN, instance, scope=SYSTEM).virtual_account
        == "Prod"
    )
    assert licenses(alice, "Spare")["Device metroipaccess"][1] == "0"
    assert alice.post(
        f"{VA_URL}/Prod/instances/{instance}/transfer", {"target": "Spare", "confirm": "yes"}
    )
    moved = portal.services.instances.get_instance(DOMAIN, instance, scope=SYSTEM)
    assert (moved.virtual_account, moved.status) == ("Spare", "Out of Compliance")
    assert [u.status for u in moved.usage] == ["OUT OF COMPLIANCE"]
    assert licenses(alice, "Spare")["Device metroipaccess"][1:] == [
        "6",
        "0",
        "-1",
        "Out of Compliance",
    ]


def test_api_transfer_preview_changes_nothing(portal: Portal, alice: Browser) -> None:
    instance = registered(portal.live, alice, 1, usage=6)
    api = portal.live.client()
    url = f"/api/v1/accounts/{DOMAIN}/devices/{instance}/transfer-preview"
    answer = api.get(url, params={"target": "Spare"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["source"], body["target"], body["out_of_compliance"]) == ("Prod", "Spare", True)
    assert body["lines"][0] | {"tag": "-"} == {
        "tag": "-",
        "name": "metroipaccess",
        "moving": 6,
        "purchased": 5,
        "in_use_after": 6,
        "status": "Out of Compliance",
    }
    assert (
        portal.services.instances.get_instance(DOMAIN, instance, scope=SYSTEM).virtual_account
        == "Prod"
    )
    assert api.get(url, params={"target": "Nowhere"}).status_code == 404
    reader = portal.live.client(portal.live.api_key(Role.SMART_ACCOUNT_USER, DOMAIN))
    assert reader.get(url, params={"target": "Spare"}).status_code == 403


def test_transfer_to_unknown_virtual_account_explains_and_moves_nothing(
    portal: Portal, alice: Browser
) -> None:
    instance = registered(portal.live, alice, 1, usage=2)
    alice.page(f"{VA_URL}/Prod/instances")
    answer = alice.post(f"{VA_URL}/Prod/instances/{instance}/transfer", {"target": "Nowhere"})
    assert answer.status_code == 404
    assert "Nowhere" in " ".join(texts(html(answer), '//p[@role="alert"]'))
    assert (
        portal.services.instances.get_instance(DOMAIN, instance, scope=SYSTEM).virtual_account
        == "Prod"
    )


def test_instance_search(portal: Portal, alice: Browser) -> None:
    for n in (1, 2, 3):
        registered(portal.live, alice, n)
    doc = alice.page(f"{VA_URL}/Prod/instances?search=FOX00002")
    assert [r[0] for r in table(doc, "instances")] == ["UDI_PID:ASR-903; UDI_SN:FOX00002"]
    doc = alice.page(f"{VA_URL}/Prod/instances?search=router")
    assert len(table(doc, "instances")) == 3


@pytest.mark.parametrize("va", ["Prod", "Spare"])
def test_read_only_user_sees_no_actions_and_cannot_post(portal: Portal, va: str) -> None:
    rita = portal.user("rita", Role.SMART_ACCOUNT_USER, DOMAIN)
    general = rita.page(f"{VA_URL}/{va}/general")
    assert general.xpath("//form[contains(@action, '/tokens')]") == []
    answer = rita.post(f"{VA_URL}/{va}/tokens", {"expires_after_days": "30"})
    assert answer.status_code == 403
    assert "read-only" in " ".join(texts(html(answer), '//p[@class="detail"]'))
    assert portal.services.tokens.list_tokens(DOMAIN, va, scope=SYSTEM) == []


def test_event_log_shows_portal_actions_by_user(portal: Portal, alice: Browser) -> None:
    portal_token(alice, va="Spare")
    doc = alice.page(f"{PORTAL}/accounts/{DOMAIN}/events?type=Registration+tokens")
    rows = table(doc, "events")
    assert [(r[1].split()[0:2], r[1].split(" Details")[0].split()[3:], r[2]) for r in rows] == [
        (["Registration", "token"], ["created", "in", "Spare", "by", "alice."], "Spare")
    ]
    assert doc.xpath('//table[@id="events"]/tbody/tr/@data-name') == ["token.created"]


def test_device_supplied_text_is_escaped(portal: Portal, alice: Browser) -> None:
    live = portal.live
    device = new_device(live, 5)
    device.hostname = "<script>alert(1)</script>"
    register(live, live.client(auth=False), device, portal_token(alice))
    answer = alice.get(f"{VA_URL}/Prod/instances")
    assert "<script>alert(1)</script>" not in answer.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer.text


def test_stylesheet_is_served_locally(portal: Portal) -> None:
    browser = portal.browser()
    doc = html(browser.get(f"{PORTAL}/login"))
    (href,) = doc.xpath("//link[@rel='stylesheet']/@href")
    assert href == f"{PORTAL}/static/portal.css"
    css = browser.get(href)
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert browser.get(PORTAL).headers["location"].endswith(f"{PORTAL}/")


def test_virtual_account_name_with_spaces_and_marks(portal: Portal, alice: Browser) -> None:
    name = "Lab 2 #west?"
    portal.services.accounts.create_virtual_account(DOMAIN, name=name, scope=system("t"))
    overview = alice.page(f"{PORTAL}/accounts/{DOMAIN}")
    (href,) = overview.xpath(f'//tr[@data-va="{name}"]//a/@href')
    assert href == f"{VA_URL}/Lab%202%20%23west%3F/licenses"
    assert alice.page(href).xpath("//h1")
    token = portal_token(alice, va="Lab%202%20%23west%3F")
    assert token and len(portal.services.tokens.list_tokens(DOMAIN, name, scope=SYSTEM)) == 1


def test_event_log_pages(portal: Portal, alice: Browser) -> None:
    for n in range(105):
        portal.services.tokens.create_token(DOMAIN, "Prod", description=f"t{n}", scope=system("t"))
    doc = alice.page(f"{PORTAL}/accounts/{DOMAIN}/events?type=Registration+tokens")
    assert len(table(doc, "events")) == 100
    (next_page,) = doc.xpath('//p[@class="pager"]/a[text()="Next"]/@href')
    assert len(table(alice.page(next_page), "events")) == 5
