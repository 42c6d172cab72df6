"""Tenant isolation and error pages in the portal: the API's rules, answered as HTML pages in
the portal's layout (403 for another tenant's account, 404 for what does not exist)."""

from __future__ import annotations

import httpx
import pytest

from smartlic.authority.services.scope import SYSTEM
from smartlic.domain.enums import Role
from tests.authority.api.helpers import DOMAIN, TAG, authorize, new_device, register
from tests.authority.web.conftest import OTHER_DOMAIN, PORTAL, Browser, Portal, html, table, texts
from tests.authority.web.test_inventory import portal_token

ACME_PAGES = [
    f"/accounts/{DOMAIN}",
    f"/accounts/{DOMAIN}/events",
    f"/accounts/{DOMAIN}/usage-files",
    f"/accounts/{DOMAIN}/policies",
    f"/accounts/{DOMAIN}/reports",
    f"/accounts/{DOMAIN}/va/Prod/licenses",
    f"/accounts/{DOMAIN}/va/Prod/instances",
    f"/accounts/{DOMAIN}/va/Prod/general",
    f"/accounts/{DOMAIN}/va/Prod/reports/licenses.csv",
    f"/accounts/{DOMAIN}/va/Prod/reports/instances.csv",
]


def detail(response: httpx.Response) -> str:
    return " ".join(texts(html(response), '//p[@class="detail"]'))


@pytest.mark.parametrize("path", ACME_PAGES)
def test_another_tenant_gets_403_on_every_page(portal: Portal, path: str) -> None:
    olga = portal.user("olga", Role.SMART_ACCOUNT_ADMIN, OTHER_DOMAIN)
    answer = olga.get(PORTAL + path)
    assert answer.status_code == 403
    assert "your user has no access to smart account 'acme.example'" in detail(answer)
    assert texts(html(answer), '//span[@class="username"]') == ["olga"]  # same layout


def test_another_tenant_cannot_act(portal: Portal, alice: Browser) -> None:
    live = portal.live
    device = new_device(live, 1)
    api = live.client(auth=False)
    register(live, api, device, portal_token(alice))
    authorize(live, api, device, {TAG: 1})
    instance = live.services.instances.list_instances(DOMAIN, scope=SYSTEM).items[0].id
    olga = portal.user("olga", Role.SMART_ACCOUNT_ADMIN, OTHER_DOMAIN)
    olga.page(f"{PORTAL}/")
    base = f"{PORTAL}/accounts/{DOMAIN}/va/Prod"
    for path, data in (
        (f"{base}/instances/{instance}/remove", {}),
        (f"{base}/instances/{instance}/transfer", {"target": "Spare"}),
        (f"{base}/tokens", {"expires_after_days": "30"}),
    ):
        assert olga.post(path, data).status_code == 403
    assert (
        live.services.instances.get_instance(DOMAIN, instance, scope=SYSTEM).virtual_account
        == "Prod"
    )
    assert len(live.services.tokens.list_tokens(DOMAIN, "Prod", scope=SYSTEM)) == 1


def test_instance_of_another_virtual_account_is_not_reachable_through_mine(
    portal: Portal, alice: Browser
) -> None:
    live = portal.live
    register(live, live.client(auth=False), new_device(live, 1), portal_token(alice))
    instance = live.services.instances.list_instances(DOMAIN, scope=SYSTEM).items[0].id
    victor = portal.user("victor", Role.VIRTUAL_ACCOUNT_ADMIN, DOMAIN, "Spare")
    victor.page(f"{PORTAL}/accounts/{DOMAIN}/va/Spare/instances")
    answer = victor.post(f"{PORTAL}/accounts/{DOMAIN}/va/Spare/instances/{instance}/remove")
    assert answer.status_code == 404
    assert live.services.instances.list_instances(DOMAIN, scope=SYSTEM).total == 1


def test_virtual_account_user_sees_only_its_virtual_account(portal: Portal) -> None:
    victor = portal.user("victor", Role.VIRTUAL_ACCOUNT_USER, DOMAIN, "Spare")
    rows = table(victor.page(f"{PORTAL}/accounts/{DOMAIN}"), "virtual-accounts")
    assert [r[0] for r in rows] == ["Spare"]
    assert victor.get(f"{PORTAL}/accounts/{DOMAIN}/va/Spare/licenses").status_code == 200
    answer = victor.get(f"{PORTAL}/accounts/{DOMAIN}/va/Prod/licenses")
    assert answer.status_code == 403
    assert "no access to virtual account 'Prod'" in detail(answer)
    assert (
        victor.get(f"{PORTAL}/accounts/{DOMAIN}/va/Prod/reports/instances.csv").status_code == 403
    )


def test_virtual_account_admin_cannot_transfer_out_of_its_reach(
    portal: Portal, alice: Browser
) -> None:
    live = portal.live
    portal_token(alice, va="Spare")
    (token,) = live.services.tokens.list_tokens(DOMAIN, "Spare", scope=SYSTEM)
    victor = portal.user("victor", Role.VIRTUAL_ACCOUNT_ADMIN, DOMAIN, "Spare")
    victor.page(f"{PORTAL}/accounts/{DOMAIN}/va/Spare/general")
    # a token of Spare revoked through Prod's address is refused
    answer = victor.post(
        f"{PORTAL}/accounts/{DOMAIN}/va/Prod/tokens/{token.id}/revoke", {"confirm": "yes"}
    )
    assert answer.status_code == 403
    assert live.services.tokens.list_tokens(DOMAIN, "Spare", scope=SYSTEM)[0].status == "active"


def test_admin_sees_every_account(portal: Portal) -> None:
    root = portal.user("root", Role.ADMIN)
    for path in ACME_PAGES:
        assert root.get(PORTAL + path).status_code == 200, path


@pytest.mark.parametrize(
    "path",
    [
        "/no/such/page",
        f"/accounts/{DOMAIN}/va/Nowhere/licenses",
        f"/accounts/{DOMAIN}/va/Nowhere/reports/licenses.csv",
        f"/accounts/{DOMAIN}/usage-files/00000000-0000-0000-0000-000000000000/ack",
    ],
)
def test_not_found_is_an_html_page(portal: Portal, alice: Browser, path: str) -> None:
    answer = alice.get(PORTAL + path)
    assert answer.status_code == 404
    doc = html(answer)
    assert texts(doc, "//h1") == ["404 Not found"]
    assert texts(doc, '//span[@class="username"]') == ["alice"]


def test_unknown_account_is_404_for_an_admin(portal: Portal) -> None:
    root = portal.user("root", Role.ADMIN)
    answer = root.get(f"{PORTAL}/accounts/nowhere.example")
    assert answer.status_code == 404
    assert "nowhere.example" in detail(answer)


def test_internal_error_is_an_html_500(
    portal: Portal, alice: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(domain: str) -> None:
        raise RuntimeError("database on fire")

    # The only way to provoke a bug on purpose: break one service call.
    monkeypatch.setattr(portal.services.policies, "list_policies", broken)
    answer = alice.get(f"{PORTAL}/accounts/{DOMAIN}/policies")
    assert answer.status_code == 500
    assert texts(html(answer), "//h1") == ["500 Internal error"]
    assert "database on fire" not in answer.text
