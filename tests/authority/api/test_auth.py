"""API keys and tenant isolation over real HTTP."""

from __future__ import annotations

import pytest

from smartlic.domain.enums import Role
from tests.authority.api.conftest import LiveAuthority
from tests.authority.api.helpers import (
    ACCOUNT,
    TAG,
    V1,
    build_world,
    ok,
    problem,
    va_path,
)

OTHER_DOMAIN = "globex.example"
OTHER_ACCOUNT = f"{V1}/accounts/{OTHER_DOMAIN}"


@pytest.fixture
def two_tenants(live_authority: LiveAuthority) -> LiveAuthority:
    api = live_authority.client()
    build_world(api)
    ok(api.post(f"{V1}/accounts", json={"name": "Globex", "domain": OTHER_DOMAIN}), 201)
    return live_authority


def test_a_key_is_required(live_authority: LiveAuthority) -> None:
    anonymous = live_authority.client(auth=False)
    reply = anonymous.get(f"{V1}/accounts")
    problem(reply, 401, "unauthenticated")
    assert reply.headers["www-authenticate"] == "Bearer"
    wrong = live_authority.client("slk_not-a-real-key")
    problem(wrong.get(f"{V1}/accounts"), 401, "unauthenticated")
    basic = anonymous.get(f"{V1}/accounts", headers={"Authorization": "Basic eDp5"})
    problem(basic, 401, "unauthenticated")


def test_bearer_and_x_api_key_both_work(live_authority: LiveAuthority) -> None:
    anonymous = live_authority.client(auth=False)
    ok(anonymous.get(f"{V1}/accounts", headers={"X-API-Key": live_authority.admin_key}))
    ok(live_authority.client().get(f"{V1}/accounts"))


def test_a_revoked_key_stops_working(live_authority: LiveAuthority) -> None:
    created = live_authority.services.api_keys.create_api_key(
        name="short-lived", role=Role.ADMIN, smart_account=None, actor="t"
    )
    api = live_authority.client(created.text)
    ok(api.get(f"{V1}/accounts"))
    live_authority.services.api_keys.revoke_api_key(created.id, actor="t")
    problem(api.get(f"{V1}/accounts"), 401, "unauthenticated")


def test_a_scoped_key_sees_only_its_account(two_tenants: LiveAuthority) -> None:
    api = two_tenants.client(two_tenants.api_key(Role.SMART_ACCOUNT_ADMIN, "acme.example"))
    assert [a["domain"] for a in ok(api.get(f"{V1}/accounts"))["items"]] == ["acme.example"]
    ok(api.get(ACCOUNT))
    ok(api.post(f"{ACCOUNT}/virtual-accounts", json={"name": "Mine"}), 201)
    for path in (
        OTHER_ACCOUNT,
        f"{OTHER_ACCOUNT}/virtual-accounts",
        f"{OTHER_ACCOUNT}/devices",
        f"{OTHER_ACCOUNT}/events",
        f"{OTHER_ACCOUNT}/virtual-accounts/DEFAULT/licenses",
        f"{OTHER_ACCOUNT}/virtual-accounts/DEFAULT/tokens",
        f"{V1}/events",
    ):
        problem(api.get(path), 403, "forbidden")
    problem(api.post(f"{OTHER_ACCOUNT}/virtual-accounts", json={"name": "X"}), 403, "forbidden")
    problem(api.post(f"{OTHER_ACCOUNT}/virtual-accounts/DEFAULT/tokens", json={}), 403, "forbidden")
    # purchases, the catalogue and new smart accounts belong to authority admins
    problem(
        api.post(va_path("Prod", "/licenses"), json={"tag": TAG, "quantity": 1}), 403, "forbidden"
    )
    problem(api.post(f"{V1}/accounts", json={"name": "N", "domain": "n.example"}), 403, "forbidden")


def test_an_unknown_account_looks_the_same_as_another_tenants(two_tenants: LiveAuthority) -> None:
    api = two_tenants.client(two_tenants.api_key(Role.SMART_ACCOUNT_ADMIN, "acme.example"))
    problem(api.get(f"{V1}/accounts/nobody.example"), 403, "forbidden")
    problem(api.get(OTHER_ACCOUNT), 403, "forbidden")


def test_a_user_key_reads_but_does_not_change(two_tenants: LiveAuthority) -> None:
    api = two_tenants.client(two_tenants.api_key(Role.SMART_ACCOUNT_USER, "acme.example"))
    assert ok(api.get(va_path("Prod", "/licenses")))["virtual_account"] == "Prod"
    ok(api.get(va_path("Prod", "/tokens")))
    problem(api.post(va_path("Prod", "/tokens"), json={}), 403, "forbidden")
    problem(api.post(f"{ACCOUNT}/virtual-accounts", json={"name": "Nope"}), 403, "forbidden")
    move = {"tag": TAG, "quantity": 1, "target": "Spare"}
    problem(api.post(va_path("Prod", "/licenses/actions/transfer"), json=move), 403, "forbidden")
    assert [va["name"] for va in ok(api.get(f"{ACCOUNT}/virtual-accounts"))["items"]] == [
        "DEFAULT",
        "Prod",
        "Spare",
    ]
