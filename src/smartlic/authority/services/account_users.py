"""The users of one smart account, as its administrators manage them (the portal's *Users*
page): who holds a role in the account, new users, a changed role, a user removed from the
account or disabled.

Users themselves are authority-wide (``users.py``, the CLI's ``admin user``); this service is
that one seen from a smart account, with the tenant rules of ``scope.py``: only a caller who
manages the account (``scope_in(...).require_manage()``: a smart-account or authority admin)
may list or change its users, and a change that reaches beyond the account (disabling a user
who also holds roles elsewhere, granting ``admin``) needs the right to manage every account the
user holds a role in, as the caller's own grants decide.

Usage::

    members = AccountUsersService(engine, clock, users)
    members.create("acme.example", username="bob", password="pw pw pw pw",
                   role=Role.VIRTUAL_ACCOUNT_USER, virtual_account="Prod", scope=alice)
    members.set_role("acme.example", "bob", Role.SMART_ACCOUNT_USER, scope=alice)
    members.remove("acme.example", "bob", scope=alice)     # every role of bob in the account
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from smartlic.authority.services._base import ServiceBase
from smartlic.authority.services.scope import Principal, require_admin, scope_in
from smartlic.authority.services.users import GrantOut, SqlUsersService, UserOut
from smartlic.clock import Clock
from smartlic.domain.enums import Role
from smartlic.errors import Conflict, InvalidInput, NotFound

__all__ = ["ACCOUNT_ROLES", "AccountUsersService", "Member"]

# the roles an account's administrators hand out (``admin`` is the authority's, CLI only)
ACCOUNT_ROLES = (
    Role.SMART_ACCOUNT_ADMIN,
    Role.SMART_ACCOUNT_USER,
    Role.VIRTUAL_ACCOUNT_ADMIN,
    Role.VIRTUAL_ACCOUNT_USER,
)
_VA_ROLES = frozenset({Role.VIRTUAL_ACCOUNT_ADMIN, Role.VIRTUAL_ACCOUNT_USER})


@dataclass(frozen=True)
class Member:
    """A user with its roles in one smart account (``elsewhere``: roles in other accounts)."""

    user: UserOut
    grants: tuple[GrantOut, ...]
    elsewhere: bool


class AccountUsersService(ServiceBase):
    def __init__(self, engine: Engine, clock: Clock, users: SqlUsersService) -> None:
        super().__init__(engine, clock)
        self.users = users

    def list_members(self, domain: str, *, scope: Principal) -> list[Member]:
        """The users holding a role in ``domain``, by username."""
        self._manage(domain, scope)
        members = (_member(u, domain) for u in self.users.list_users())
        return [m for m in members if m.grants]

    def get_member(self, domain: str, username: str, *, scope: Principal) -> Member:
        """A user of ``domain``; ``NotFound`` for a user without a role in it (the answer does
        not tell whether the user exists elsewhere)."""
        self._manage(domain, scope)
        try:
            member = _member(self.users.get_user(username), domain)
        except NotFound:
            member = None
        if member is None or not member.grants:
            raise NotFound(f"no user {username!r} in {domain!r}")
        return member

    def create(
        self,
        domain: str,
        *,
        username: str,
        password: str,
        role: Role | str,
        virtual_account: str | None = None,
        display_name: str = "",
        email: str = "",
        scope: Principal,
    ) -> Member:
        """A new user holding ``role`` in ``domain`` (the role is checked before the user is
        created, so a refused role leaves no user behind)."""
        self._manage(domain, scope)
        role, va = self._role(domain, role, virtual_account)
        self.users.create_user(
            username=username,
            password=password,
            display_name=display_name,
            email=email,
            actor=scope.label(),
        )
        self.users.grant(
            username, role, smart_account=domain, virtual_account=va, actor=scope.label()
        )
        return self.get_member(domain, username, scope=scope)

    def set_role(
        self,
        domain: str,
        username: str,
        role: Role | str,
        virtual_account: str | None = None,
        *,
        scope: Principal,
    ) -> Member:
        """Replace the user's roles in ``domain`` with ``role`` (its roles elsewhere stay)."""
        self._other_member(domain, username, scope)
        role, va = self._role(domain, role, virtual_account)
        self.users.set_account_roles(
            username, domain, role, virtual_account=va, actor=scope.label()
        )
        return self.get_member(domain, username, scope=scope)

    def remove(self, domain: str, username: str, *, scope: Principal) -> None:
        """Take every role of the user in ``domain`` away (the user keeps its other roles)."""
        self._other_member(domain, username, scope)
        self.users.set_account_roles(username, domain, None, actor=scope.label())

    def set_disabled(
        self, domain: str, username: str, disabled: bool, *, scope: Principal
    ) -> Member:
        """Disable (every session ends) or enable the user. A user is one person across the
        authority: the caller must manage every account the user holds a role in."""
        member = self._other_member(domain, username, scope)
        for g in member.user.grants:
            if g.smart_account is None:
                require_admin(scope)
            else:
                self._manage(g.smart_account, scope)
        self.users.set_disabled(username, disabled, actor=scope.label())
        return self.get_member(domain, username, scope=scope)

    # ------------------------------------------------------------ helpers

    @staticmethod
    def _manage(domain: str, scope: Principal) -> None:
        scope_in(scope, domain).require_manage()

    def _other_member(self, domain: str, username: str, scope: Principal) -> Member:
        member = self.get_member(domain, username, scope=scope)
        if username == scope.name and not scope.is_admin:
            raise Conflict(
                "you cannot change your own roles or account: ask another administrator",
                code="self",
            )
        return member

    def _role(self, domain: str, role: Role | str, va: str | None) -> tuple[Role, str | None]:
        if role not in {r.value for r in ACCOUNT_ROLES}:
            names = ", ".join(r.value for r in ACCOUNT_ROLES)
            raise InvalidInput(f"role: one of {names}", pointer="/role")
        role = Role(role)
        if role not in _VA_ROLES:
            return role, None
        if not va:
            raise InvalidInput(
                "virtual account: required for a virtual-account role", pointer="/virtual_account"
            )
        with self.transaction() as s:
            self.virtual_account(s, self.smart_account(s, domain), va)
        return role, va


def _member(user: UserOut, domain: str) -> Member:
    mine = tuple(g for g in user.grants if g.smart_account == domain)
    return Member(user, mine, elsewhere=len(mine) < len(user.grants))
