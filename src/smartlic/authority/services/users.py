"""Portal users: people with a password (Argon2id) and role grants per account.

A grant gives one ``Role`` over the whole authority (``admin``), one smart account
(``smart-account-admin`` / ``-user``) or one virtual account (``virtual-account-admin`` /
``-user``). A logged-in user is a ``UserPrincipal``: a ``Principal`` holding all its grants, so
the portal passes it to the same service calls as the API, and the services apply the one set
of tenant rules (``services/scope.py``).

Usage::

    users = SqlUsersService(engine, clock)
    users.create_user(username="alice", password="correct horse", actor="cli")
    users.grant("alice", Role.SMART_ACCOUNT_ADMIN, smart_account="acme.example", actor="cli")
    principal = users.authenticate("alice", "correct horse")   # else AuthenticationFailed
    services.tokens.list_tokens("acme.example", "Prod", scope=principal)
    users.change_password("alice", "correct horse", "battery staple", keep_session=sid)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Mapped, Session

from smartlic.authority.services._base import ServiceBase
from smartlic.authority.services.portal_sessions import end_sessions
from smartlic.authority.services.scope import Grant, Principal, check_grant_shape
from smartlic.crypto import hash_password, verify_password
from smartlic.domain.enums import Role
from smartlic.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound
from smartlic.storage.models import RoleGrant, SmartAccount, User, VirtualAccount

__all__ = [
    "GrantOut",
    "SqlUsersService",
    "UserOut",
    "UserPrincipal",
    "principal_of",
    "user_principal",
]

_USERNAME = re.compile(r"^[A-Za-z0-9._@-]{1,100}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024


@dataclass(frozen=True)
class GrantOut:
    id: str
    role: Role
    smart_account: str | None  # domain; None for admin
    virtual_account: str | None  # name; only for virtual-account roles
    created_at: datetime


@dataclass(frozen=True)
class UserOut:
    id: str
    username: str
    display_name: str
    email: str
    created_at: datetime
    disabled: bool
    grants: tuple[GrantOut, ...]


@dataclass(frozen=True)
class UserPrincipal(Principal):
    """A logged-in user: a ``Principal`` holding all of the user's grants, so the tenant rules
    (``scope.scope_in``) see every grant at once. The role fields hold its first grant."""

    grants: tuple[GrantOut, ...] = ()

    noun = "your user"

    def label(self) -> str:
        return f"user:{self.name}"

    def all_grants(self) -> tuple[Grant, ...]:
        return tuple(Grant(g.role, g.smart_account, g.virtual_account) for g in self.grants)

    def scoped(self, domain: str, virtual_account: str | None = None) -> UserPrincipal:
        """The same user: every check reads all its grants (kept for ``web/auth.py``)."""
        return self


def principal_of(user: UserOut) -> UserPrincipal:
    """The user as a principal: its first grant (admin first), or one that may do nothing."""
    grants = sorted(user.grants, key=lambda g: g.role is not Role.ADMIN)
    if not grants:
        return UserPrincipal(user.username, Role.VIRTUAL_ACCOUNT_USER, None, grants=())
    first = grants[0]
    return UserPrincipal(
        user.username,
        first.role,
        first.smart_account,
        first.virtual_account,
        grants=user.grants,
    )


def user_principal(s: Session, user: User) -> UserPrincipal:
    """The principal of ``user`` as stored in session ``s`` (an access token's user)."""
    return principal_of(SqlUsersService.user_out(s, user))


@cache
def _decoy_hash() -> str:
    """A hash to verify against when the user is unknown, so both cases cost the same."""
    return hash_password("smartlic decoy password")


def _check_password(password: str, pointer: str = "/password") -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        what = pointer.strip("/").replace("_", " ")
        raise InvalidInput(f"{what}: {MIN_PASSWORD} to {MAX_PASSWORD} characters", pointer=pointer)


def _check_new_user(username: str, password: str, email: str) -> None:
    if not _USERNAME.match(username):
        raise InvalidInput(
            "username: 1-100 letters, digits or . _ @ - (no spaces)", pointer="/username"
        )
    _check_password(password)
    if email and not _EMAIL.match(email):
        raise InvalidInput("email: not an e-mail address", pointer="/email")


def _same(column: Mapped[str | None], value: str | None) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value


class SqlUsersService(ServiceBase):
    def create_user(
        self,
        *,
        username: str,
        password: str,
        display_name: str = "",
        email: str = "",
        actor: str,
    ) -> UserOut:
        _check_new_user(username, password, email)
        password_hash = hash_password(password)  # slow on purpose: outside the transaction
        with self.transaction() as s:
            if s.scalar(select(User.id).where(User.username == username)) is not None:
                raise Conflict(f"user {username!r} already exists", pointer="/username")
            user = User(
                username=username,
                display_name=display_name[:200],
                email=email[:320],
                password_hash=password_hash,
                created_at=self.now(),
            )
            s.add(user)
            s.flush()
            self.record(s, "user.created", actor=actor, subject=username)
            return self.user_out(s, user)

    def authenticate(self, username: str, password: str) -> UserPrincipal:
        """The user's principal; the same ``AuthenticationFailed`` for an unknown user, a wrong
        password or a disabled user, after the same Argon2id work in every case."""
        with self.transaction() as s:
            user = s.scalar(select(User).where(User.username == username[:100]))
            stored = user.password_hash if user is not None else _decoy_hash()
            good = verify_password(stored, password[:MAX_PASSWORD])
            if user is None or not good or user.disabled:
                raise AuthenticationFailed("unknown user or wrong password")
            self.record(s, "user.logged-in", actor=f"user:{username}", subject=username)
            return principal_of(self.user_out(s, user))

    def change_password(
        self, username: str, current: str, new: str, *, keep_session: str | None = None
    ) -> None:
        """The user's own change: ``current`` must be right. Every other session of the user
        ends (``keep_session`` is the one the change was made from)."""
        _check_password(new, "/new_password")
        with self.transaction() as s:
            user = self._user(s, username)
            stored = user.password_hash
        if not verify_password(stored, current[:MAX_PASSWORD]):
            raise AuthenticationFailed("the current password is wrong", code="wrong-password")
        self._store_password(username, new, actor=f"user:{username}", keep=keep_session)

    def set_password(self, username: str, new: str, *, actor: str) -> None:
        """An administrator's reset: every session of the user ends."""
        _check_password(new)
        self._store_password(username, new, actor=actor, keep=None)

    def _store_password(self, username: str, new: str, *, actor: str, keep: str | None) -> None:
        password_hash = hash_password(new)  # slow on purpose: outside the transaction
        with self.transaction() as s:
            user = self._user(s, username)
            user.password_hash = password_hash
            end_sessions(s, user.id, keep=keep)
            self.record(s, "user.password-changed", actor=actor, subject=username)

    def get_user(self, username: str) -> UserOut:
        with self.transaction() as s:
            return self.user_out(s, self._user(s, username))

    def list_users(self) -> list[UserOut]:
        with self.transaction() as s:
            return [self.user_out(s, u) for u in s.scalars(select(User).order_by(User.username))]

    def set_disabled(self, username: str, disabled: bool, *, actor: str) -> UserOut:
        with self.transaction() as s:
            user = self._user(s, username)
            if disabled:
                end_sessions(s, user.id)
            if user.disabled != disabled:
                user.disabled = disabled
                name = "user.disabled" if disabled else "user.enabled"
                self.record(s, name, actor=actor, subject=username)
            return self.user_out(s, user)

    def grant(
        self,
        username: str,
        role: Role,
        *,
        smart_account: str | None = None,
        virtual_account: str | None = None,
        actor: str,
    ) -> GrantOut:
        """Give ``role`` over the scope; granting what is already granted changes nothing."""
        role = Role(role)
        check_grant_shape(role, smart_account, virtual_account)
        with self.transaction() as s:
            user = self._user(s, username)
            sa, va = self._scope(s, smart_account, virtual_account)
            row = self._add_grant(s, user, role, sa, va, actor)
            return GrantOut(row.id, role, smart_account, virtual_account, row.created_at)

    def set_account_roles(
        self,
        username: str,
        smart_account: str,
        role: Role | None,
        *,
        virtual_account: str | None = None,
        actor: str,
    ) -> None:
        """The user's roles in ``smart_account`` become ``role`` alone (over
        ``virtual_account`` for a virtual-account role), or none when ``role`` is None; its
        roles elsewhere stay. One transaction: a failure part way leaves the roles as they
        were, never both the old and the new role, nor none."""
        if role is not None:
            check_grant_shape(Role(role), smart_account, virtual_account)
        with self.transaction() as s:
            user = self._user(s, username)
            sa = self.smart_account(s, smart_account)
            va = self.virtual_account(s, sa, virtual_account) if virtual_account else None
            kept = self._add_grant(s, user, Role(role), sa, va, actor) if role else None
            rows = s.execute(
                select(RoleGrant, VirtualAccount)
                .outerjoin(VirtualAccount, VirtualAccount.id == RoleGrant.virtual_account_id)
                .where(RoleGrant.user_id == user.id, RoleGrant.smart_account_id == sa.id)
                .order_by(RoleGrant.created_at, RoleGrant.id)
            ).all()
            for row, row_va in rows:
                if kept is None or row.id != kept.id:
                    self._drop_grant(s, row, username, sa, row_va, actor)

    def revoke(
        self,
        username: str,
        role: Role,
        *,
        smart_account: str | None = None,
        virtual_account: str | None = None,
        actor: str,
    ) -> None:
        role = Role(role)
        with self.transaction() as s:
            user = self._user(s, username)
            sa, va = self._scope(s, smart_account, virtual_account)
            row = self._grant_row(s, user, role, sa, va)
            if row is None:
                raise NotFound(f"user {username!r} has no such grant of {role.value!r}")
            self._drop_grant(s, row, username, sa, va, actor)

    def _add_grant(
        self,
        s: Session,
        user: User,
        role: Role,
        sa: SmartAccount | None,
        va: VirtualAccount | None,
        actor: str,
    ) -> RoleGrant:
        """The grant of ``role`` over the scope, made if missing (and recorded)."""
        row = self._grant_row(s, user, role, sa, va)
        if row is not None:
            return row
        row = RoleGrant(
            user_id=user.id,
            role=role,
            smart_account_id=sa.id if sa else None,
            virtual_account_id=va.id if va else None,
            created_at=self.now(),
            created_by=actor,
        )
        s.add(row)
        s.flush()
        va_name = va.name if va else None
        self._record_grant(s, "user.granted", actor, user.username, role, sa, va_name)
        return row

    def _drop_grant(
        self,
        s: Session,
        row: RoleGrant,
        username: str,
        sa: SmartAccount | None,
        va: VirtualAccount | None,
        actor: str,
    ) -> None:
        s.delete(row)
        s.flush()  # now, in this transaction's order: a refusal stops here
        va_name = va.name if va else None
        self._record_grant(s, "user.revoked", actor, username, row.role, sa, va_name)

    # ------------------------------------------------------------ helpers

    @staticmethod
    def _user(s: Session, username: str) -> User:
        user = s.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(f"no user {username!r}")
        return user

    def _scope(
        self, s: Session, smart_account: str | None, virtual_account: str | None
    ) -> tuple[SmartAccount | None, VirtualAccount | None]:
        sa = self.smart_account(s, smart_account) if smart_account else None
        va = self.virtual_account(s, sa, virtual_account) if sa and virtual_account else None
        return sa, va

    @staticmethod
    def _grant_row(
        s: Session, user: User, role: Role, sa: SmartAccount | None, va: VirtualAccount | None
    ) -> RoleGrant | None:
        return s.scalar(
            select(RoleGrant).where(
                RoleGrant.user_id == user.id,
                RoleGrant.role == role,
                _same(RoleGrant.smart_account_id, sa.id if sa else None),
                _same(RoleGrant.virtual_account_id, va.id if va else None),
            )
        )

    def _record_grant(
        self,
        s: Session,
        name: str,
        actor: str,
        username: str,
        role: Role,
        sa: SmartAccount | None,
        virtual_account: str | None,
    ) -> None:
        self.record(
            s,
            name,
            actor=actor,
            smart_account=sa,
            virtual_account=virtual_account,
            subject=username,
            role=role.value,
        )

    @staticmethod
    def user_out(s: Session, user: User) -> UserOut:
        rows = s.execute(
            select(RoleGrant, SmartAccount.domain, VirtualAccount.name)
            .outerjoin(SmartAccount, SmartAccount.id == RoleGrant.smart_account_id)
            .outerjoin(VirtualAccount, VirtualAccount.id == RoleGrant.virtual_account_id)
            .where(RoleGrant.user_id == user.id)
            .order_by(RoleGrant.created_at, RoleGrant.id)
        ).all()
        grants = tuple(GrantOut(g.id, g.role, d, v, g.created_at) for g, d, v in rows)
        return UserOut(
            user.id,
            user.username,
            user.display_name,
            user.email,
            user.created_at,
            user.disabled,
            grants,
        )
