from __future__ import annotations

from datetime import timedelta

import pytest

from smartlic.authority.services.scope import SYSTEM, system
from smartlic.domain.enums import HoldingKind, Role
from smartlic.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidInput,
    NotEmpty,
    NotFound,
    UnknownTag,
)
from tests.authority.services.conftest import TAG, World


def test_a_smart_account_always_has_a_default_virtual_account(world: World) -> None:
    names = [
        va.name for va in world.services.accounts.list_virtual_accounts(world.domain, scope=SYSTEM)
    ]
    assert names == ["DEFAULT", "East", "West"]
    assert [
        va.is_default
        for va in world.services.accounts.list_virtual_accounts(world.domain, scope=SYSTEM)
    ] == [
        True,
        False,
        False,
    ]


def test_duplicate_and_malformed_accounts_are_refused(world: World) -> None:
    acc = world.services.accounts
    with pytest.raises(Conflict):
        acc.create_smart_account(name="Again", domain="example.com", scope=system("t"))
    with pytest.raises(InvalidInput):
        acc.create_smart_account(name="Bad", domain="not a domain", scope=system("t"))
    with pytest.raises(Conflict):
        acc.create_virtual_account(world.domain, name="East", scope=system("t"))
    assert len(acc.list_smart_accounts(scope=SYSTEM)) == 1


def test_rename_and_delete_virtual_accounts(world: World) -> None:
    acc = world.services.accounts
    assert (
        acc.rename_virtual_account(world.domain, "East", new_name="North", scope=system("t")).name
        == "North"
    )
    with pytest.raises(Conflict):
        acc.rename_virtual_account(world.domain, "North", new_name="West", scope=system("t"))
    world.services.licenses.add_holding(
        world.domain, "West", tag=TAG, quantity=1, scope=system("t")
    )
    with pytest.raises(NotEmpty):
        acc.delete_virtual_account(world.domain, "West", scope=system("t"))
    with pytest.raises(Conflict):
        acc.delete_virtual_account(world.domain, "DEFAULT", scope=system("t"))
    acc.delete_virtual_account(world.domain, "North", scope=system("t"))
    assert [va.name for va in acc.list_virtual_accounts(world.domain, scope=SYSTEM)] == [
        "DEFAULT",
        "West",
    ]
    with pytest.raises(NotFound):
        acc.delete_virtual_account(world.domain, "North", scope=system("t"))


def test_holdings_validate_their_terms(world: World) -> None:
    lic = world.services.licenses
    now = world.clock.now()
    for bad in (0, -5, 10**9):
        with pytest.raises(InvalidInput):
            lic.add_holding(world.domain, "East", tag=TAG, quantity=bad, scope=system("t"))
    with pytest.raises(UnknownTag):
        lic.add_holding(world.domain, "East", tag=TAG + "x", quantity=1, scope=system("t"))
    with pytest.raises(InvalidInput, match="60 days"):
        lic.add_holding(
            world.domain,
            "East",
            tag=TAG,
            quantity=1,
            kind=HoldingKind.DEMO,
            ends_at=now + timedelta(days=61),
            scope=system("t"),
        )
    with pytest.raises(InvalidInput, match="end date"):
        lic.add_holding(
            world.domain, "East", tag=TAG, quantity=1, kind=HoldingKind.TERM, scope=system("t")
        )
    assert lic.compliance(world.domain, "East", scope=SYSTEM).lines == []


def test_tokens_are_shown_once_and_stored_hashed(world: World) -> None:
    created = world.services.tokens.create_token(world.domain, "East", days=30, scope=system("t"))
    assert len(created.text) > 40
    listed = world.services.tokens.list_tokens(world.domain, "East", scope=SYSTEM)
    assert [t.id for t in listed] == [created.token.id]
    assert listed[0].status == "active"
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from smartlic.storage.models import RegistrationToken

    engine = world.services.tokens.engine  # type: ignore[attr-defined]
    with Session(engine) as s:
        stored = s.scalars(select(RegistrationToken.token_hash)).all()
    assert created.text not in stored and len(stored[0]) == 64


@pytest.mark.parametrize("days", [0, 366, -1])
def test_token_validity_is_1_to_365_days(world: World, days: int) -> None:
    with pytest.raises(InvalidInput):
        world.services.tokens.create_token(world.domain, "East", days=days, scope=system("t"))


def test_revoke_token_is_idempotent_and_scoped(world: World) -> None:
    tok = world.services.tokens.create_token(world.domain, "East", scope=system("t")).token
    assert (
        world.services.tokens.revoke_token(world.domain, tok.id, scope=system("t")).status
        == "revoked"
    )
    assert (
        world.services.tokens.revoke_token(world.domain, tok.id, scope=system("t")).status
        == "revoked"
    )
    world.services.accounts.create_smart_account(
        name="Other", domain="other.org", scope=system("t")
    )
    with pytest.raises(NotFound):
        world.services.tokens.revoke_token("other.org", tok.id, scope=system("t"))


def test_api_keys_authenticate_and_revoke(world: World) -> None:
    keys = world.services.api_keys
    admin = keys.create_api_key(name="root", role=Role.ADMIN, smart_account=None, actor="t")
    scoped = keys.create_api_key(
        name="ops", role=Role.SMART_ACCOUNT_ADMIN, smart_account=world.domain, actor="t"
    )
    assert keys.authenticate(admin.text).role is Role.ADMIN
    assert keys.authenticate(scoped.text).smart_account == world.domain
    with pytest.raises(InvalidInput):
        keys.create_api_key(name="x", role=Role.SMART_ACCOUNT_USER, smart_account=None, actor="t")
    keys.revoke_api_key(scoped.id, actor="t")
    with pytest.raises(AuthenticationFailed):
        keys.authenticate(scoped.text)
    with pytest.raises(AuthenticationFailed):
        keys.authenticate("slk_nope")


def test_every_change_is_in_the_event_log(world: World) -> None:
    page = world.services.events.list_events(world.domain, scope=SYSTEM)
    names = [e.name for e in page.items]
    assert names.count("virtual_account.created") == 2
    assert "account.created" in names
    assert all(e.actor == "test" for e in page.items if e.name != "license.defined")
