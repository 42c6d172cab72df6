"""The manager's portal pages over real HTTP on both databases: license transfer between
virtual accounts, virtual accounts, users of an account, API keys and clients. Each refusal is
an attack: a clear reason on the page, the form as it was typed, and nothing stored changed.
(The same tasks in a real browser: tests/browser/test_portal_manage.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, text

from smartlic.authority.services.scope import SYSTEM
from smartlic.domain.enums import Role
from tests.authority.api.helpers import DOMAIN, TAG
from tests.authority.web.conftest import (
    OTHER_DOMAIN,
    PORTAL,
    Browser,
    Portal,
    html,
    table,
    texts,
)
from tests.authority.web.test_inventory import registered

ACME = f"{PORTAL}/accounts/{DOMAIN}"


def alert(answer: Any) -> list[str]:
    return texts(html(answer), '//p[@role="alert"]')


def pool(portal: Portal, va: str) -> tuple[int, int]:
    lines = portal.services.licenses.compliance(DOMAIN, va, scope=SYSTEM).lines
    line = next(line for line in lines if line.tag == TAG)
    return line.purchased, line.available


def members(portal: Portal) -> dict[str, Any]:
    return {
        m.user.username: ([(g.role, g.virtual_account) for g in m.grants], m.user.disabled)
        for m in portal.services.account_users.list_members(DOMAIN, scope=SYSTEM)
    }


def test_licenses_move_and_a_transfer_beyond_what_is_free_is_refused(
    portal: Portal, alice: Browser
) -> None:
    alice.page(f"{ACME}/va/Prod/licenses")
    form = {"license": TAG, "count": "11", "target": "Spare"}
    answer = alice.post(f"{ACME}/va/Prod/licenses/transfer", form)
    assert answer.status_code == 409
    assert alert(answer) == ["'Prod' has 10 metroipaccess available, 11 asked"]
    doc = html(answer)
    assert doc.xpath('//input[@name="count"]/@value') == ["11"]
    assert doc.xpath('//select[@name="target"]/option[@selected]/text()') == ["Spare"]
    assert (pool(portal, "Prod"), pool(portal, "Spare")) == ((10, 10), (5, 5))

    bad = alice.post(f"{ACME}/va/Prod/licenses/transfer", {**form, "count": "two"})
    assert (bad.status_code, alert(bad)) == (422, ["Count: a whole number from 1 to 10000000"])

    answer = alice.post(f"{ACME}/va/Prod/licenses/transfer", {**form, "count": "4"})
    assert answer.status_code == 303
    doc = alice.page(answer.headers["location"])
    assert texts(doc, '//p[@role="status"]') == ["4 Device metroipaccess moved from Prod to Spare."]
    assert (pool(portal, "Prod"), pool(portal, "Spare")) == ((6, 6), (9, 9))


def test_a_virtual_account_admin_transfers_only_to_what_it_administers(portal: Portal) -> None:
    vic = portal.user("vic", Role.VIRTUAL_ACCOUNT_ADMIN, DOMAIN, "Prod")
    doc = vic.page(f"{ACME}/va/Prod/licenses")
    assert texts(doc, '//section[@id="license-transfer"]//p[@class="note"]') == [
        "There is no other virtual account you may change."
    ]
    answer = vic.post(
        f"{ACME}/va/Prod/licenses/transfer", {"license": TAG, "count": "1", "target": "Spare"}
    )
    assert answer.status_code == 403  # Spare is not vic's to change
    assert pool(portal, "Prod") == (10, 10)


def test_virtual_account_refusals(portal: Portal, alice: Browser) -> None:
    alice.page(f"{ACME}/virtual-accounts")
    answer = alice.post(f"{ACME}/virtual-accounts", {"name": " ", "description": "kept"})
    assert (answer.status_code, alert(answer)) == (422, ["Name: required"])
    assert html(answer).xpath('//input[@name="description"]/@value') == ["kept"]
    answer = alice.post(f"{ACME}/virtual-accounts/Spare/rename", {"new_name": "Prod"})
    assert (answer.status_code, alert(answer)) == (409, ["Virtual account 'Prod' already exists"])
    answer = alice.post(f"{ACME}/virtual-accounts/DEFAULT/delete", {"confirm": "yes"})
    assert (answer.status_code, alert(answer)) == (
        409,
        ["The default virtual account cannot be deleted"],
    )
    answer = alice.post(f"{ACME}/virtual-accounts/Nowhere/delete", {"confirm": "yes"})
    assert answer.status_code == 404
    names = [v.name for v in portal.services.accounts.list_virtual_accounts(DOMAIN, scope=SYSTEM)]
    assert names == ["DEFAULT", "Prod", "Spare"]


def test_a_virtual_account_holding_an_instance_is_not_deleted(
    portal: Portal, alice: Browser
) -> None:
    portal.services.accounts.create_virtual_account(DOMAIN, name="Lab", scope=SYSTEM)
    instance = registered(portal.live, alice, 1)
    portal.services.instances.transfer_instance(DOMAIN, instance, target="Lab", scope=SYSTEM)
    answer = alice.post(f"{ACME}/virtual-accounts/Lab/delete", {"confirm": "yes"})
    assert answer.status_code == 409
    assert alert(answer) == [
        "Virtual account 'Lab' still holds licenses or instances: transfer or remove them first"
    ]
    portal.services.instances.remove_instance(DOMAIN, instance, scope=SYSTEM)
    assert alice.post(f"{ACME}/virtual-accounts/Lab/delete", {"confirm": "yes"}).status_code == 303


def test_users_of_the_account_only(portal: Portal, alice: Browser) -> None:
    portal.user("olga", Role.SMART_ACCOUNT_ADMIN, OTHER_DOMAIN)
    rows = table(alice.page(f"{ACME}/users"), "users")
    assert [row[0] for row in rows] == ["alice"]  # not olga, of another account
    assert rows[0][3] == "Smart Account Administrator"


def test_user_create_refusals_leave_no_user_behind(portal: Portal, alice: Browser) -> None:
    alice.page(f"{ACME}/users")
    form = {"username": "vic", "password": "long enough 1", "role": "virtual-account-admin"}
    cases = [
        ({**form, "virtual_account": "Nowhere"}, 404, "No virtual account 'Nowhere'"),
        ({**form, "role": "admin"}, 422, "Role: one of smart-account-admin"),
        ({**form, "username": "a b", "virtual_account": "Spare"}, 422, "Username: 1-100 letters"),
        ({**form, "role": "smart-account-user", "email": "nope"}, 422, "E-mail: not an e-mail"),
    ]
    for data, status, message in cases:
        answer = alice.post(f"{ACME}/users", data)
        assert answer.status_code == status, data
        assert alert(answer)[0].startswith(message), alert(answer)
        assert html(answer).xpath('//input[@name="username"]/@value') == [data["username"]]
        assert html(answer).xpath('//input[@name="password"]/@value') == []  # never echoed
    assert "vic" not in {u.username for u in portal.services.users.list_users()}


def test_roles_change_and_a_user_is_removed_from_the_account(
    portal: Portal, alice: Browser
) -> None:
    alice.page(f"{ACME}/users")
    form = {"username": "vic", "password": "long enough 1", "role": "smart-account-user"}
    assert alice.post(f"{ACME}/users", form).status_code == 303
    role = {"role": "virtual-account-admin", "virtual_account": "Spare"}
    assert alice.post(f"{ACME}/users/vic/role", role).status_code == 303
    assert members(portal)["vic"] == ([(Role.VIRTUAL_ACCOUNT_ADMIN, "Spare")], False)
    answer = alice.post(f"{ACME}/users/alice/role", {"role": "smart-account-user"})
    assert answer.status_code == 409  # not one's own
    assert alice.post(f"{ACME}/users/vic/remove", {"confirm": "yes"}).status_code == 303
    assert "vic" not in members(portal)
    assert portal.services.users.get_user("vic").grants == ()  # still a user of the authority


@contextmanager
def revokes_refused(engine: Engine, username: str) -> Iterator[None]:
    """The database refuses to delete ``username``'s grants (a trigger): a failure between
    a role change's new grant and the old grant's removal, made by the real database."""
    with engine.begin() as conn:
        uid = conn.execute(text("SELECT id FROM users WHERE username = :u"), {"u": username})
        user_id = uid.scalar_one()
    if engine.dialect.name == "postgresql":
        make = [
            "CREATE FUNCTION refuse_revoke() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF OLD.user_id = '{user_id}' THEN RAISE EXCEPTION 'revoke refused'; END IF; "
            "RETURN OLD; END $$",
            "CREATE TRIGGER refuse_revoke BEFORE DELETE ON role_grants "
            "FOR EACH ROW EXECUTE FUNCTION refuse_revoke()",
        ]
        drop = [
            "DROP TRIGGER IF EXISTS refuse_revoke ON role_grants",
            "DROP FUNCTION IF EXISTS refuse_revoke()",
        ]
    else:
        make = [
            f"CREATE TRIGGER refuse_revoke BEFORE DELETE ON role_grants WHEN OLD.user_id = "
            f"'{user_id}' BEGIN SELECT RAISE(ABORT, 'revoke refused'); END"
        ]
        drop = ["DROP TRIGGER IF EXISTS refuse_revoke"]
    with engine.begin() as conn:
        for sql in make:
            conn.execute(text(sql))
    try:
        yield
    finally:  # the PostgreSQL test database outlives the test
        with engine.begin() as conn:
            for sql in drop:
                conn.execute(text(sql))


def test_a_role_change_is_one_transaction(portal: Portal, alice: Browser) -> None:
    """A role change that fails part way (after the new grant, at the old grant's removal)
    leaves the user with its old role only: never both, never none."""
    alice.page(f"{ACME}/users")
    form = {"username": "vic", "password": "long enough 1", "role": "smart-account-user"}
    assert alice.post(f"{ACME}/users", form).status_code == 303
    before = members(portal)["vic"]
    events = portal.services.events.list_events(DOMAIN, scope=SYSTEM).total
    role = {"role": "virtual-account-admin", "virtual_account": "Spare"}
    with revokes_refused(portal.services.users.engine, "vic"):
        answer = alice.post(f"{ACME}/users/vic/role", role)
        assert answer.status_code >= 400, answer.status_code
        assert members(portal)["vic"] == before == ([(Role.SMART_ACCOUNT_USER, None)], False)
        assert alice.post(f"{ACME}/users/vic/remove", {"confirm": "yes"}).status_code >= 400
        assert members(portal)["vic"] == before  # removing is one transaction too
    assert portal.services.events.list_events(DOMAIN, scope=SYSTEM).total == events
    assert alice.post(f"{ACME}/users/vic/role", role).status_code == 303  # the database agrees
    assert members(portal)["vic"] == ([(Role.VIRTUAL_ACCOUNT_ADMIN, "Spare")], False)


def test_a_user_with_roles_elsewhere_is_disabled_only_by_who_manages_both(
    portal: Portal, alice: Browser
) -> None:
    portal.user("olga", Role.SMART_ACCOUNT_USER, OTHER_DOMAIN)
    portal.services.users.grant("olga", Role.SMART_ACCOUNT_USER, smart_account=DOMAIN, actor="t")
    alice.page(f"{ACME}/users")
    answer = alice.post(f"{ACME}/users/olga/disable")
    assert answer.status_code == 403
    assert alert(answer) == ["Your user has no access to smart account 'other.example'"]
    assert not portal.services.users.get_user("olga").disabled

    root = portal.user("root", Role.ADMIN)
    root.page(f"{ACME}/users")
    assert root.post(f"{ACME}/users/olga/disable").status_code == 303
    assert portal.services.users.get_user("olga").disabled
    assert root.post(f"{ACME}/users/olga/disable", {"enable": "yes"}).status_code == 303
    assert not portal.services.users.get_user("olga").disabled


def test_api_keys_and_clients_of_the_account(portal: Portal, alice: Browser) -> None:
    theirs = portal.services.api_keys.create_api_key(
        name="theirs", role=Role.SMART_ACCOUNT_USER, smart_account=OTHER_DOMAIN, actor="t"
    )
    alice.page(f"{ACME}/api-access")
    form = {"name": "ci", "role": "virtual-account-user", "virtual_account": "Spare"}
    answer = alice.post(f"{ACME}/api-access/keys", form)
    assert answer.status_code == 201
    (key,) = html(answer).xpath('//input[@id="new-key-text"]/@value')
    with portal.live.client(auth=False) as api:
        headers = {"Authorization": f"Bearer {key}"}
        assert (
            api.get(f"/api/v1/accounts/{DOMAIN}/virtual-accounts", headers=headers).json()["items"][
                0
            ]["name"]
            == "Spare"
        )  # the key sees its virtual account only
    rows = table(alice.page(f"{ACME}/api-access"), "api-keys")
    assert [row[:2] for row in rows] == [["ci", "Virtual Account User (read-only) of Spare"]]

    refused = alice.post(f"{ACME}/api-access/keys", {**form, "name": "", "role": "admin"})
    assert (refused.status_code, alert(refused)) == (422, ["Name: required"])
    refused = alice.post(f"{ACME}/api-access/clients", {"role": "admin"})
    assert (refused.status_code, alert(refused)) == (422, ["Role: choose one of the roles listed"])
    assert len(portal.services.api_keys.list_api_keys(DOMAIN)) == 1
    assert portal.services.api_clients.list_clients(DOMAIN) == []

    other = alice.post(f"{ACME}/api-access/keys/{theirs.id}/revoke", {"confirm": "yes"})
    assert other.status_code == 404
    (mine,) = portal.services.api_keys.list_api_keys(DOMAIN)
    assert alice.post(f"{ACME}/api-access/keys/{mine.id}/revoke").status_code == 303
    assert portal.services.api_keys.list_api_keys(DOMAIN)[0].revoked_at is not None
    assert portal.services.api_keys.list_api_keys(OTHER_DOMAIN)[0].revoked_at is None


@pytest.mark.parametrize("path", ["users", "api-access", "virtual-accounts/Spare/delete"])
def test_account_management_needs_an_account_admin(portal: Portal, path: str) -> None:
    vic = portal.user("vic", Role.VIRTUAL_ACCOUNT_ADMIN, DOMAIN, "Prod")
    doc = vic.page(f"{ACME}/{path}", 403)
    assert texts(doc, '//p[@class="detail"]') == [
        "your user may not change the smart account 'acme.example'"
    ]


@pytest.mark.parametrize(
    "path",
    [
        "virtual-accounts",
        "users",
        "api-access",
        "va/Prod/instances/00000000-0000-0000-0000-000000000000",
        "va/Prod/instances/00000000-0000-0000-0000-000000000000/remove",
    ],
)
def test_the_management_pages_need_a_login(portal: Portal, path: str) -> None:
    stranger = portal.browser()
    answer = stranger.get(f"{ACME}/{path}")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith(f"{PORTAL}/login?next=")
    answer = stranger.post(f"{ACME}/virtual-accounts", {"name": "x"})
    assert answer.status_code in (303, 403)  # to the login page, or no form token: refused
    assert "x" not in {
        v.name for v in portal.services.accounts.list_virtual_accounts(DOMAIN, scope=SYSTEM)
    }
