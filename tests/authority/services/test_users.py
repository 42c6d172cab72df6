"""Portal users on SQLite and PostgreSQL: Argon2id passwords, one refusal for every bad login,
role grants scoped to accounts, and every change in the event log."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from smartlic.authority.api.deps import can_read_va, can_write_account, can_write_va
from smartlic.authority.services.scope import SYSTEM, scope_in, system, visible_smart_accounts
from smartlic.authority.services.users import SqlUsersService, UserPrincipal
from smartlic.domain.enums import Role
from smartlic.errors import AuthenticationFailed, Conflict, Forbidden, InvalidInput, NotFound
from smartlic.storage.models import User
from tests.authority.services.conftest import World

PASSWORD = "correct horse battery"


@pytest.fixture
def users(world: World) -> SqlUsersService:
    return world.services.users


@pytest.mark.production_argon2
def test_password_is_stored_as_argon2id(users: SqlUsersService, engine: Engine) -> None:
    created = users.create_user(
        username="alice", password=PASSWORD, display_name="Alice", email="a@x.example", actor="t"
    )
    assert (created.username, created.display_name, created.disabled) == ("alice", "Alice", False)
    with Session(engine) as s:
        stored = s.scalar(select(User.password_hash).where(User.username == "alice"))
    assert stored is not None and stored.startswith("$argon2id$") and PASSWORD not in stored
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")  # production parameters


def test_authenticate_gives_a_user_principal(users: SqlUsersService) -> None:
    users.create_user(username="alice", password=PASSWORD, actor="t")
    users.grant("alice", Role.SMART_ACCOUNT_ADMIN, smart_account="example.com", actor="t")
    principal = users.authenticate("alice", PASSWORD)
    assert isinstance(principal, UserPrincipal)
    assert (principal.role, principal.smart_account) == (Role.SMART_ACCOUNT_ADMIN, "example.com")
    assert principal.label() == "user:alice"


@pytest.mark.parametrize(
    ("username", "password"),
    [("alice", "wrong password"), ("nobody", PASSWORD), ("alice", ""), ("", "")],
)
def test_bad_logins_are_indistinguishable(
    users: SqlUsersService, username: str, password: str
) -> None:
    users.create_user(username="alice", password=PASSWORD, actor="t")
    with pytest.raises(AuthenticationFailed) as caught:
        users.authenticate(username, password)
    assert caught.value.detail == "unknown user or wrong password"


@pytest.mark.production_argon2
def test_unknown_user_costs_a_password_check(users: SqlUsersService) -> None:
    users.create_user(username="alice", password=PASSWORD, actor="t")

    def cost(username: str) -> float:
        start = time.perf_counter()
        with pytest.raises(AuthenticationFailed):
            users.authenticate(username, "wrong password")
        return time.perf_counter() - start

    cost("nobody")  # the decoy hash is computed once
    known, unknown = min(cost("alice") for _ in range(3)), min(cost("nobody") for _ in range(3))
    assert unknown > known / 3  # both run Argon2id; an early "no such user" would be ~0


def test_disabled_user_cannot_log_in(users: SqlUsersService) -> None:
    users.create_user(username="alice", password=PASSWORD, actor="t")
    assert users.set_disabled("alice", True, actor="t").disabled
    with pytest.raises(AuthenticationFailed):
        users.authenticate("alice", PASSWORD)
    users.set_disabled("alice", False, actor="t")
    users.authenticate("alice", PASSWORD)


@pytest.mark.parametrize(
    ("username", "password", "email", "pointer"),
    [
        ("has space", PASSWORD, "", "/username"),
        ("", PASSWORD, "", "/username"),
        ("bob", "short", "", "/password"),
        ("bob", PASSWORD, "not-an-address", "/email"),
    ],
)
def test_bad_user_input_creates_nothing(
    users: SqlUsersService, username: str, password: str, email: str, pointer: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        users.create_user(username=username, password=password, email=email, actor="t")
    assert caught.value.pointer == pointer
    assert users.list_users() == []


def test_duplicate_username_is_a_conflict(users: SqlUsersService) -> None:
    users.create_user(username="alice", password=PASSWORD, actor="t")
    with pytest.raises(Conflict):
        users.create_user(username="alice", password=PASSWORD, actor="t")
    assert [u.username for u in users.list_users()] == ["alice"]


@pytest.mark.parametrize(
    ("role", "sa", "va"),
    [
        (Role.ADMIN, "example.com", None),
        (Role.SMART_ACCOUNT_USER, None, None),
        (Role.SMART_ACCOUNT_USER, "example.com", "East"),
        (Role.VIRTUAL_ACCOUNT_ADMIN, "example.com", None),
    ],
)
def test_grant_scope_must_fit_the_role(
    users: SqlUsersService, role: Role, sa: str | None, va: str | None
) -> None:
    users.create_user(username="alice", password=PASSWORD, actor="t")
    with pytest.raises(InvalidInput):
        users.grant("alice", role, smart_account=sa, virtual_account=va, actor="t")
    assert users.get_user("alice").grants == ()


def test_grant_to_unknown_account_or_user_is_not_found(users: SqlUsersService) -> None:
    users.create_user(username="alice", password=PASSWORD, actor="t")
    with pytest.raises(NotFound):
        users.grant("alice", Role.SMART_ACCOUNT_USER, smart_account="nope.example", actor="t")
    with pytest.raises(NotFound):
        users.grant(
            "alice",
            Role.VIRTUAL_ACCOUNT_USER,
            smart_account="example.com",
            virtual_account="Nope",
            actor="t",
        )
    with pytest.raises(NotFound):
        users.grant("bob", Role.ADMIN, actor="t")


def test_grant_twice_is_one_grant_and_revoke_removes_it(users: SqlUsersService) -> None:
    users.create_user(username="alice", password=PASSWORD, actor="t")
    for _ in range(2):
        users.grant(
            "alice",
            Role.VIRTUAL_ACCOUNT_ADMIN,
            smart_account="example.com",
            virtual_account="East",
            actor="t",
        )
    (grant,) = users.get_user("alice").grants
    assert (grant.role, grant.smart_account, grant.virtual_account) == (
        Role.VIRTUAL_ACCOUNT_ADMIN,
        "example.com",
        "East",
    )
    users.revoke(
        "alice",
        Role.VIRTUAL_ACCOUNT_ADMIN,
        smart_account="example.com",
        virtual_account="East",
        actor="t",
    )
    assert users.get_user("alice").grants == ()
    with pytest.raises(NotFound):
        users.revoke("alice", Role.ADMIN, actor="t")


def test_scoped_principal_follows_the_api_rules(world: World, users: SqlUsersService) -> None:
    world.services.accounts.create_smart_account(
        name="Other", domain="other.example", scope=system("t")
    )
    users.create_user(username="alice", password=PASSWORD, actor="t")
    users.grant("alice", Role.SMART_ACCOUNT_USER, smart_account="example.com", actor="t")
    users.grant(
        "alice",
        Role.VIRTUAL_ACCOUNT_ADMIN,
        smart_account="example.com",
        virtual_account="East",
        actor="t",
    )
    alice = users.authenticate("alice", PASSWORD)
    can_write_va(alice.scoped("example.com", "East"), "example.com", "East")
    can_read_va(alice.scoped("example.com", "West"), "example.com", "West")
    with pytest.raises(Forbidden):
        can_write_va(alice.scoped("example.com", "West"), "example.com", "West")
    with pytest.raises(Forbidden):
        can_write_account(alice.scoped("example.com"), "example.com")
    with pytest.raises(Forbidden):
        can_read_va(alice.scoped("other.example", "DEFAULT"), "other.example", "DEFAULT")
    assert visible_smart_accounts(alice) == {"example.com"}
    assert scope_in(alice, "example.com").visible(["East", "West"]) == ["East", "West"]


def test_virtual_account_user_sees_only_its_virtual_account(users: SqlUsersService) -> None:
    users.create_user(username="vic", password=PASSWORD, actor="t")
    users.grant(
        "vic",
        Role.VIRTUAL_ACCOUNT_USER,
        smart_account="example.com",
        virtual_account="West",
        actor="t",
    )
    vic = users.authenticate("vic", PASSWORD)
    assert scope_in(vic, "example.com").visible(["East", "West"]) == ["West"]
    with pytest.raises(Forbidden):
        can_read_va(vic.scoped("example.com", "East"), "example.com", "East")
    with pytest.raises(Forbidden):
        can_write_va(vic.scoped("example.com", "West"), "example.com", "West")


def test_admin_sees_everything(users: SqlUsersService) -> None:
    users.create_user(username="root", password=PASSWORD, actor="t")
    users.grant("root", Role.ADMIN, actor="t")
    root = users.authenticate("root", PASSWORD)
    assert visible_smart_accounts(root) is None
    can_write_account(root.scoped("example.com"), "example.com")


def test_user_without_grants_may_do_nothing(users: SqlUsersService) -> None:
    users.create_user(username="nobody", password=PASSWORD, actor="t")
    nobody = users.authenticate("nobody", PASSWORD)
    assert visible_smart_accounts(nobody) == set()
    with pytest.raises(Forbidden):
        can_read_va(nobody.scoped("example.com", "East"), "example.com", "East")


def test_every_change_is_in_the_event_log(world: World, users: SqlUsersService) -> None:
    users.create_user(username="alice", password=PASSWORD, actor="cli:op")
    users.grant("alice", Role.SMART_ACCOUNT_ADMIN, smart_account="example.com", actor="cli:op")
    users.revoke("alice", Role.SMART_ACCOUNT_ADMIN, smart_account="example.com", actor="cli:op")
    users.set_disabled("alice", True, actor="cli:op")
    names = [
        e.name
        for e in world.services.events.list_events(None, name_prefix="user.", scope=SYSTEM).items
    ]
    assert sorted(names) == ["user.created", "user.disabled", "user.granted", "user.revoked"]
    in_account = world.services.events.list_events(
        "example.com", name_prefix="user.", scope=SYSTEM
    ).items
    assert {e.name for e in in_account} == {"user.granted", "user.revoked"}
    assert all(e.subject == "alice" and e.actor == "cli:op" for e in in_account)
