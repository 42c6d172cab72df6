"""The manager's tasks in the portal, in a real browser at desktop and phone width: licenses
moved between virtual accounts, a product instance's page, its transfer with the preview of
the target's pool, its removal with a confirmation, virtual accounts created, renamed and
deleted, users, API keys and clients (secret copied, revoked with a confirmation), and a
read-only user who sees no forms. Then the same actions as attacks over plain HTTP: a reader's
POST and another tenant's ids are refused as the API refuses them, and nothing stored changes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from smartlic.authority.app import create_app
from smartlic.authority.services import Services
from smartlic.authority.services.scope import system
from smartlic.authority.settings import AuthoritySettings
from smartlic.clock import SystemClock
from smartlic.crypto import Udi, load_certificate
from smartlic.domain.enums import Role
from smartlic.domain.products import make_tag
from smartlic.errors import NotFound
from smartlic.formats.signed import open_sealed
from smartlic.storage import upgrade
from tests.authority.api.conftest import serve_in_thread
from tests.authority.api.helpers import snapshot
from tests.browser.conftest import fits_the_width
from tests.browser.test_portal import login
from tests.devices import TestDevice

DOMAIN, OTHER_DOMAIN = "acme.example", "other.example"
TAG = make_tag("portalmanage")
LICENSE = "Portal Manage License"
BOSS, READER, STRANGER = "boss", "reader", "stranger"
PASSWORD = "manage password 1"
T = system("test")


@dataclass
class Site:
    url: str
    services: Services
    admin_key: str  # an authority admin's API key: the test's view of what is stored
    other_instance: str  # ids of the other tenant
    other_key: str
    other_client: str
    serial: int = 0

    def instance(self, va: str, count: int, domain: str = DOMAIN) -> str:
        """A product instance registered (real signatures) in ``va`` using ``count`` licenses."""
        self.serial += 1
        svc = self.services
        token = svc.tokens.create_token(domain, va, scope=T).text
        device = TestDevice(Udi("C1000V", f"PM{self.serial:04d}"), SystemClock())
        envelope = svc.device.register(device.register_request(token))
        key = load_certificate(envelope["certificate"]).public_key()
        device.accept_registration(open_sealed(envelope, key))  # type: ignore[arg-type]
        if count:
            svc.device.authorize(device.authorize({TAG: count}))
        found = svc.instances.list_instances(domain, va, search=device.udi.sn, scope=T)
        return found.items[0].id

    def line(self, va: str) -> Any:
        lines = self.services.licenses.compliance(DOMAIN, va, scope=T).lines
        return next(line for line in lines if line.tag == TAG)


def _tenant(svc: Services, domain: str, vas: dict[str, int]) -> None:
    svc.accounts.create_smart_account(name=domain.split(".")[0].title(), domain=domain, scope=T)
    for va, quantity in vas.items():
        if va != "DEFAULT":
            svc.accounts.create_virtual_account(domain, name=va, scope=T)
        if quantity:
            svc.licenses.add_holding(domain, va, tag=TAG, quantity=quantity, scope=T)


def _user(svc: Services, name: str, role: Role, domain: str) -> None:
    svc.users.create_user(username=name, password=PASSWORD, actor="test")
    svc.users.grant(name, role, smart_account=domain, actor="test")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """acme.example (Prod: 100 licenses, Spare: 2, Lab: none) with an admin and a reader, and
    other.example with its own instance, API key, API client and user; served on loopback."""
    settings = AuthoritySettings(data_dir=tmp_path_factory.mktemp("authority"))
    settings.data_dir.mkdir(exist_ok=True)
    upgrade(settings.database)
    app = create_app(settings, clock=SystemClock())
    svc: Services = app.state.services
    svc.licenses.define_license(tag=TAG, name="portalmanage", display_name=LICENSE, scope=T)
    _tenant(svc, DOMAIN, {"Prod": 100, "Spare": 2, "Lab": 0})
    _tenant(svc, OTHER_DOMAIN, {"DEFAULT": 5})
    _user(svc, BOSS, Role.SMART_ACCOUNT_ADMIN, DOMAIN)
    _user(svc, READER, Role.SMART_ACCOUNT_USER, DOMAIN)
    _user(svc, STRANGER, Role.SMART_ACCOUNT_USER, OTHER_DOMAIN)
    admin = svc.api_keys.create_api_key(name="root", role=Role.ADMIN, smart_account=None, actor="t")
    other_key = svc.api_keys.create_api_key(
        name="theirs", role=Role.SMART_ACCOUNT_ADMIN, smart_account=OTHER_DOMAIN, actor="t"
    )
    other_client = svc.api_clients.create_client(OTHER_DOMAIN, actor="t")
    server, thread, url = serve_in_thread(app)
    made = Site(url, svc, admin.text, "", other_key.id, other_client.client_id)
    made.other_instance = made.instance("DEFAULT", 1, OTHER_DOMAIN)
    yield made
    server.should_exit = True
    thread.join(timeout=10)


def sign_in(page: Page, site: Site, user: str = BOSS) -> None:
    login(page, site, user, PASSWORD)  # type: ignore[arg-type]


def va_page(site: Site, va: str, tab: str) -> str:
    return f"{site.url}/portal/accounts/{DOMAIN}/va/{va}/{tab}"


def check_width(page: Page, viewport: str) -> None:
    if viewport == "phone":
        assert fits_the_width(page), f"{page.url} is wider than a phone"


# ---------------------------------------------------------------- in the browser


def test_licenses_move_between_virtual_accounts(page: Page, site: Site, viewport: str) -> None:
    sign_in(page, site)
    page.goto(va_page(site, "Prod", "licenses"))
    form = page.locator("#license-transfer")
    available = site.line("Prod").available
    form.get_by_label("License").select_option(label=f"{LICENSE} ({available} available)")
    form.get_by_label("Count", exact=True).fill(str(available + 1))
    form.get_by_label("Target virtual account").select_option("Spare")
    form.get_by_role("button", name="Transfer").click()
    expect(page.get_by_role("alert")).to_contain_text(f"has {available} {'portalmanage'}")
    expect(form.get_by_label("Count", exact=True)).to_have_value(
        str(available + 1)
    )  # what was typed
    expect(form.get_by_label("Target virtual account")).to_have_value("Spare")
    assert site.line("Prod").available == available  # nothing moved
    check_width(page, viewport)

    spare = site.line("Spare").purchased
    form.get_by_label("Count", exact=True).fill("2")
    form.get_by_role("button", name="Transfer").click()
    expect(page.get_by_role("status")).to_contain_text(f"2 {LICENSE} moved from Prod to Spare")
    assert (site.line("Prod").available, site.line("Spare").purchased) == (available - 2, spare + 2)


def test_instance_page_and_transfer_with_the_preview(page: Page, site: Site, viewport: str) -> None:
    instance = site.instance("Prod", 3)
    sign_in(page, site)
    page.goto(va_page(site, "Prod", "instances"))
    page.locator(f"tr[data-id='{instance}'] td.name a").click()
    expect(page.locator("h1")).to_contain_text("UDI_PID:C1000V; UDI_SN:PM")
    expect(page.locator("#instance-licenses")).to_contain_text(LICENSE)
    expect(page.locator("#instance-licenses")).to_contain_text("3")
    expect(page.locator("#instance-events")).to_contain_text("registered in")
    check_width(page, viewport)

    page.get_by_label("Target virtual account").select_option("Lab")
    page.get_by_role("button", name="Preview transfer").click()
    expect(page.locator("#transfer-warning")).to_contain_text(
        re.compile(r"Lab would be Out of Compliance for portalmanage: \d+ in use, 0 purchased")
    )
    expect(page.locator("#transfer-preview")).to_contain_text(re.compile("out of compliance", re.I))
    check_width(page, viewport)
    page.get_by_role("link", name="Cancel").click()  # nothing moved
    assert site.services.instances.get_instance(DOMAIN, instance, scope=T).virtual_account == "Prod"

    page.get_by_label("Target virtual account").select_option("Lab")
    page.get_by_role("button", name="Preview transfer").click()
    page.get_by_role("button", name="Transfer anyway").click()
    expect(page.get_by_role("status")).to_contain_text("moved to Lab")
    moved = site.services.instances.get_instance(DOMAIN, instance, scope=T)
    assert moved.virtual_account == "Lab"
    page.goto(va_page(site, "Lab", f"instances/{instance}"))
    expect(page.locator("#instance-events")).to_contain_text("transferred from")


def test_a_transfer_the_target_covers_is_previewed_as_in_compliance(page: Page, site: Site) -> None:
    instance = site.instance("Spare", 1)
    sign_in(page, site)
    page.goto(va_page(site, "Spare", f"instances/{instance}/transfer?target=Prod"))
    expect(page.locator("#transfer-ok")).to_contain_text("Prod stays In Compliance")
    page.get_by_role("button", name="Transfer", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("moved to Prod")


def test_remove_asks_for_a_confirmation(page: Page, site: Site, viewport: str) -> None:
    instance = site.instance("Prod", 1)
    in_use = site.line("Prod").in_use
    sign_in(page, site)
    page.goto(va_page(site, "Prod", "instances"))
    row = page.locator(f"tr[data-id='{instance}']")
    row.get_by_role("link", name="Remove...").click()
    expect(page.locator("h1")).to_contain_text("Remove UDI_PID:C1000V")
    expect(page.locator(".confirm")).to_contain_text(f"1 x {LICENSE}")
    check_width(page, viewport)
    page.get_by_role("link", name="Cancel").click()
    assert site.services.instances.get_instance(DOMAIN, instance, scope=T)  # still there

    page.goto(va_page(site, "Prod", "instances"))
    page.locator(f"tr[data-id='{instance}']").get_by_role("link", name="Remove...").click()
    page.get_by_role("button", name="Remove").click()
    expect(page.get_by_role("status")).to_contain_text("removed")
    with pytest.raises(NotFound):
        site.services.instances.get_instance(DOMAIN, instance, scope=T)
    assert site.line("Prod").in_use == in_use - 1


def test_virtual_accounts_created_renamed_and_deleted(
    page: Page, site: Site, viewport: str
) -> None:
    name, renamed = f"QA {viewport}", f"QA2 {viewport}"
    sign_in(page, site)
    page.goto(f"{site.url}/portal/accounts/{DOMAIN}")
    page.get_by_role("link", name="Create, rename or delete virtual accounts").click()
    create = page.locator("#va-create")
    create.get_by_label("Name").fill("Prod")
    create.get_by_label("Description").fill("a twin")
    create.get_by_role("button", name="Create Virtual Account").click()
    expect(page.get_by_role("alert")).to_contain_text("Virtual account 'Prod' already exists")
    expect(create.get_by_label("Description")).to_have_value("a twin")
    check_width(page, viewport)

    create.get_by_label("Name").fill(name)
    create.get_by_role("button", name="Create Virtual Account").click()
    expect(page.get_by_role("status")).to_contain_text(f"Virtual account {name} created")
    row = page.locator(f"tr[data-va='{name}']")
    row.get_by_label(f"New name of {name}").fill(renamed)
    row.get_by_role("button", name="Rename").click()
    expect(page.get_by_role("status")).to_contain_text(f"{name} is now {renamed}")

    page.locator(f"tr[data-va='{renamed}']").get_by_role("link", name="Delete...").click()
    expect(page.locator("h1")).to_contain_text(f"Delete virtual account {renamed}?")
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status")).to_contain_text(f"Virtual account {renamed} deleted")
    names = {v.name for v in site.services.accounts.list_virtual_accounts(DOMAIN, scope=T)}
    assert not {name, renamed} & names

    page.locator("tr[data-va='Prod']").get_by_role("link", name="Delete...").click()
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "'Prod' still holds licenses or instances: transfer or remove them first"
    )
    assert "Prod" in {v.name for v in site.services.accounts.list_virtual_accounts(DOMAIN, scope=T)}


def test_users_created_given_a_role_and_disabled(page: Page, site: Site, viewport: str) -> None:
    name = f"vic-{viewport}"
    sign_in(page, site)
    page.goto(f"{site.url}/portal/accounts/{DOMAIN}")
    page.get_by_role("link", name="Users").click()
    create = page.locator("#user-create")
    create.get_by_label("Username").fill(name)
    create.get_by_label("E-mail").fill(f"{name}@acme.example")
    create.get_by_label("Password (8 or more characters)").fill("short")
    create.get_by_role("combobox", name=re.compile("^Role")).select_option(
        label="Virtual Account Administrator"
    )
    create.get_by_role("combobox", name=re.compile("^Virtual account")).select_option("Spare")
    create.get_by_role("button", name="Create User").click()
    expect(page.get_by_role("alert")).to_contain_text("Password: 8 to 1024 characters")
    expect(create.get_by_label("Username")).to_have_value(name)  # kept, but not the password
    expect(create.get_by_role("combobox", name=re.compile("^Role"))).to_have_value(
        "virtual-account-admin"
    )
    check_width(page, viewport)

    create.get_by_label("Password (8 or more characters)").fill(PASSWORD)
    create.get_by_role("button", name="Create User").click()
    expect(page.get_by_role("status")).to_contain_text(f"User {name} created")
    row = page.locator(f"tr[data-user='{name}']")
    expect(row.locator(".roles")).to_have_text("Virtual Account Administrator of Spare")

    row.get_by_label(f"Role of {name}").select_option(label="Smart Account User (read-only)")
    row.get_by_role("button", name="Change role").click()
    expect(page.get_by_role("status")).to_contain_text(f"{name} is now Smart Account User")
    row = page.locator(f"tr[data-user='{name}']")
    row.get_by_role("button", name="Disable").click()
    expect(page.locator(f"tr[data-user='{name}'] .user-status")).to_have_text("Disabled")
    assert site.services.users.get_user(name).disabled


def test_api_client_and_key_created_copied_and_revoked(
    page: Page, site: Site, viewport: str
) -> None:
    sign_in(page, site)
    page.goto(f"{site.url}/portal/accounts/{DOMAIN}")
    page.get_by_role("link", name="API Access").click()
    client_form = page.locator("#client-create")
    client_form.get_by_label("Role of the client").select_option(
        label="Smart Account User (read-only)"
    )
    client_form.get_by_role("button", name="Create API Client").click()
    secret = page.locator("#new-client-secret").input_value()
    client_id = page.locator("#new-client-id").input_value()
    page.locator("#new-client").get_by_role("button", name="Copy").last.click()
    expect(page.locator("#new-client").get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    check_width(page, viewport)
    with httpx.Client(base_url=site.url, timeout=30) as http:
        grant = {"grant_type": "client_credentials"}
        assert (
            http.post("/as/token.oauth2", data=grant, auth=(client_id, secret)).status_code == 200
        )

    page.locator(f"tr[data-id='{client_id}']").get_by_role("link", name="Revoke...").click()
    expect(page.locator("h1")).to_contain_text(f"Revoke the API client {client_id}?")
    page.get_by_role("link", name="Cancel").click()
    expect(page.locator(f"tr[data-id='{client_id}'] .client-status")).to_have_text("active")
    page.locator(f"tr[data-id='{client_id}']").get_by_role("link", name="Revoke...").click()
    page.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("status")).to_contain_text("revoked")
    expect(page.locator(f"tr[data-id='{client_id}'] .client-status")).to_have_text("revoked")
    with httpx.Client(base_url=site.url, timeout=30) as http:
        grant = {"grant_type": "client_credentials"}
        assert (
            http.post("/as/token.oauth2", data=grant, auth=(client_id, secret)).status_code == 401
        )

    key_form = page.locator("#key-create")
    key_form.get_by_label("Name").fill(f"ci {viewport}")
    key_form.get_by_role("button", name="Create API Key").click()
    key = page.locator("#new-key-text").input_value()
    with httpx.Client(
        base_url=site.url, timeout=30, headers={"Authorization": f"Bearer {key}"}
    ) as http:
        assert http.get(f"/api/v1/accounts/{DOMAIN}").status_code == 200


def test_a_read_only_user_sees_the_pages_without_forms(
    page: Page, site: Site, viewport: str
) -> None:
    instance = site.instance("Prod", 1)
    sign_in(page, site, READER)
    for path in (
        va_page(site, "Prod", "licenses"),
        va_page(site, "Prod", "instances"),
        va_page(site, "Prod", f"instances/{instance}"),
        f"{site.url}/portal/accounts/{DOMAIN}/virtual-accounts",
    ):
        answer = page.goto(path)
        assert answer is not None and answer.status == 200, path
        expect(page.locator("h1").first).to_be_visible()
        forms = page.locator("main form[method=post]")
        assert forms.count() == 0, path
        assert page.get_by_role("link", name=re.compile(r"Remove|Delete|Revoke")).count() == 0
        check_width(page, viewport)
    expect(page.get_by_role("link", name="Users")).to_have_count(0)
    for path in ("users", "api-access"):
        answer = page.goto(f"{site.url}/portal/accounts/{DOMAIN}/{path}")
        assert answer is not None and answer.status == 403, path
        expect(page.locator(".detail")).to_contain_text("may not change the smart account")


# ---------------------------------------------------------------- attacks over plain HTTP


def portal_session(site: Site, user: str) -> tuple[httpx.Client, str]:
    """A logged-in HTTP client and its form token, as a script (not a browser) would get."""
    http = httpx.Client(base_url=site.url, timeout=30)
    form = http.get("/portal/login")
    token = _csrf(form.text)
    data = {"csrf_token": token, "username": user, "password": PASSWORD, "next": "/portal/"}
    assert http.post("/portal/login", data=data).status_code == 303
    return http, _csrf(http.get(f"/portal/accounts/{DOMAIN}").text)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found[1]


def stored(site: Site) -> dict[str, Any]:
    """Everything a refused form could have changed: accounts, pools, devices, tokens (through
    the API, as an authority admin), users, API keys and clients."""
    with httpx.Client(base_url=site.url, timeout=30, headers={"X-API-Key": site.admin_key}) as api:
        state = snapshot(api)
    svc = site.services
    state["users"] = svc.users.list_users()
    for domain in (DOMAIN, OTHER_DOMAIN):
        state[f"keys {domain}"] = svc.api_keys.list_api_keys(domain)
        state[f"clients {domain}"] = svc.api_clients.list_clients(domain)
    return state


ACME = f"/portal/accounts/{DOMAIN}"
WRITES = [  # (path, form): every change of the manager's pages
    (f"{ACME}/va/Prod/licenses/transfer", {"license": TAG, "count": "1", "target": "Spare"}),
    (f"{ACME}/virtual-accounts", {"name": "Sneaky"}),
    (f"{ACME}/virtual-accounts/Spare/rename", {"new_name": "Sneaky"}),
    (f"{ACME}/virtual-accounts/Lab/delete", {"confirm": "yes"}),
    (f"{ACME}/users", {"username": "sneaky", "password": PASSWORD, "role": "smart-account-admin"}),
    (f"{ACME}/users/{BOSS}/role", {"role": "smart-account-user"}),
    (f"{ACME}/users/{BOSS}/disable", {}),
    (f"{ACME}/users/{BOSS}/remove", {"confirm": "yes"}),
    (f"{ACME}/api-access/keys", {"name": "sneaky", "role": "smart-account-admin"}),
    (f"{ACME}/api-access/clients", {"role": "smart-account-admin"}),
]


def test_a_reader_posting_the_forms_is_refused_and_nothing_changes(site: Site) -> None:
    instance = site.instance("Prod", 1)
    writes = [
        *WRITES,
        (f"{ACME}/va/Prod/instances/{instance}/remove", {"confirm": "yes"}),
        (f"{ACME}/va/Prod/instances/{instance}/transfer", {"target": "Lab", "confirm": "yes"}),
    ]
    before = stored(site)
    http, token = portal_session(site, READER)
    with closing(http):
        for path, form in writes:
            answer = http.post(path, data={"csrf_token": token, **form})
            assert answer.status_code == 403, (path, answer.text)
            assert "read-only" in answer.text or "may not change" in answer.text, path
        for path in (f"{ACME}/va/Prod/instances/{instance}/remove", f"{ACME}/users"):
            assert http.get(path).status_code == 403, path  # nor the confirmation pages
    assert stored(site) == before


def test_another_tenants_ids_are_refused_and_nothing_changes(site: Site) -> None:
    other = f"/portal/accounts/{OTHER_DOMAIN}"
    not_found = [  # another tenant's object named under our account: it does not exist here
        f"{ACME}/va/Prod/instances/{site.other_instance}/remove",
        f"{ACME}/va/Prod/instances/{site.other_instance}/transfer",
        f"{ACME}/api-access/keys/{site.other_key}/revoke",
        f"{ACME}/api-access/clients/{site.other_client}/revoke",
        f"{ACME}/users/{STRANGER}/disable",
        f"{ACME}/users/{STRANGER}/remove",
        f"{ACME}/users/{STRANGER}/role",
    ]
    forbidden = [  # another smart account, named by its domain (the API answers 403 too)
        f"{other}/va/DEFAULT/instances/{site.other_instance}/remove",
        f"{other}/va/DEFAULT/licenses/transfer",
        f"{other}/virtual-accounts",
        f"{other}/api-access/clients/{site.other_client}/revoke",
        f"{other}/users/{STRANGER}/disable",
    ]
    before = stored(site)
    http, token = portal_session(site, BOSS)
    form = {"confirm": "yes", "target": "Lab", "role": "smart-account-user", "name": "x"}
    with closing(http):
        for path in not_found:
            answer = http.post(path, data={"csrf_token": token, **form})
            assert answer.status_code == 404, (path, answer.text)
        for path in forbidden:
            answer = http.post(path, data={"csrf_token": token, **form})
            assert answer.status_code == 403, (path, answer.text)
        for path in (
            f"{ACME}/va/Prod/instances/{site.other_instance}",
            f"{ACME}/va/Prod/instances/{site.other_instance}/remove",
            f"{ACME}/api-access/keys/{site.other_key}/revoke",
        ):
            assert http.get(path).status_code == 404, path
        assert http.get(f"{other}/va/DEFAULT/instances/{site.other_instance}").status_code == 403
        answer = http.post(f"{ACME}/virtual-accounts", data={"name": "x"})  # no form token
        assert answer.status_code == 403
    assert stored(site) == before


def test_an_instance_of_another_virtual_account_is_not_found_under_this_one(site: Site) -> None:
    instance = site.instance("Spare", 1)
    http, token = portal_session(site, BOSS)
    with closing(http):
        assert http.get(f"{ACME}/va/Prod/instances/{instance}").status_code == 404
        answer = http.post(
            f"{ACME}/va/Prod/instances/{instance}/remove", data={"csrf_token": token}
        )
        assert answer.status_code == 404
    assert (
        site.services.instances.get_instance(DOMAIN, instance, scope=T).virtual_account == "Spare"
    )
