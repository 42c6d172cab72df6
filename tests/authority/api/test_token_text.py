"""``/api/v1`` shows registration-token texts (sealed at rest) to callers who may manage the
tokens, through the same service path as the CSSM list; a reader asking for them is refused."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from smartlic.crypto import hash_secret
from smartlic.domain.enums import Role
from smartlic.storage.models import RegistrationToken
from tests.authority.api.conftest import LiveAuthority
from tests.authority.api.helpers import (
    DOMAIN,
    build_world,
    create_token,
    ok,
    problem,
    snapshot,
    va_path,
)


@pytest.fixture
def world(live_authority: LiveAuthority) -> LiveAuthority:
    build_world(live_authority.client())
    return live_authority


def _key(live: LiveAuthority, role: Role, va: str | None = None) -> str:
    created = live.services.api_keys.create_api_key(
        name=f"{role.value}-{va}", role=role, smart_account=DOMAIN, virtual_account=va, actor="t"
    )
    return created.text


def test_a_token_manager_lists_the_texts(world: LiveAuthority) -> None:
    admin = world.client()
    made = create_token(admin, "Prod", description="lab")
    listed = ok(admin.get(va_path("Prod", "/tokens"), params={"with_text": "true"}))["items"]
    assert [(t["id"], t["text"]) for t in listed] == [(made["token"]["id"], made["text"])]
    plain = ok(admin.get(va_path("Prod", "/tokens")))["items"]
    assert [t["text"] for t in plain] == [None]  # only when asked for
    va_admin = world.client(_key(world, Role.VIRTUAL_ACCOUNT_ADMIN, "Prod"))
    mine = ok(va_admin.get(va_path("Prod", "/tokens"), params={"with_text": "true"}))["items"]
    assert [t["text"] for t in mine] == [made["text"]]
    with world.services.engine.connect() as c:  # at rest: a hash and a sealed text, no text
        row = c.execute(select(RegistrationToken)).one()._mapping
    assert row["token_hash"] == hash_secret(made["text"])
    assert made["text"] not in repr(dict(row))


@pytest.mark.parametrize(
    ("role", "va", "code"),
    [
        (Role.VIRTUAL_ACCOUNT_USER, "Prod", "forbidden"),  # reads the tokens, may not manage them
        (Role.SMART_ACCOUNT_USER, None, "forbidden"),
        (Role.VIRTUAL_ACCOUNT_ADMIN, "Spare", "forbidden"),  # manages another VA's tokens
    ],
)
def test_a_caller_who_may_not_manage_tokens_is_refused_the_texts(
    world: LiveAuthority, role: Role, va: str | None, code: str
) -> None:
    admin = world.client()
    made = create_token(admin, "Prod")
    caller = world.client(_key(world, role, va))
    before = snapshot(admin)
    refused = caller.get(va_path("Prod", "/tokens"), params={"with_text": "true"})
    body = problem(refused, 403, code)
    assert made["text"] not in refused.text
    assert "Prod" in body["detail"]
    assert snapshot(admin) == before
    if role is not Role.VIRTUAL_ACCOUNT_ADMIN:  # a reader still lists them, without texts
        listed = ok(caller.get(va_path("Prod", "/tokens")))["items"]
        assert [t["text"] for t in listed] == [None]
