"""Tenant scope: who may see and change what, decided in one place.

Every caller of a management service is a ``Principal``: an API key (one grant), a portal
user (``users.UserPrincipal``: any number of grants) or ``SYSTEM`` (the CLI, jobs, the demo).
A ``Grant`` gives one ``Role`` over the whole authority, one smart account or one virtual
account (domain-notes 5.2, simplified):

==========================  ==============================  ==================================
role                        reads                           changes
==========================  ==============================  ==================================
``admin``                   everything                      everything; alone creates smart
                                                            accounts, the catalogue, holdings
``smart-account-admin``     its smart account               its smart account (virtual
                                                            accounts, every VA's content)
``smart-account-user``      its smart account               nothing
``virtual-account-admin``   its virtual account             its virtual account (tokens, files,
                                                            devices, transfers between VAs it
                                                            administers)
``virtual-account-user``    its virtual account             nothing
==========================  ==============================  ==================================

Grants add up: a smart-account user who is also admin of ``Prod`` reads the whole account
and changes ``Prod``. A virtual-account role without a virtual account grants nothing.

The services apply the scope inside every read and write (``scope_in(principal, domain)``),
so the REST API and the portal get the same answers from the same calls. What a caller may
not read is filtered out of lists and is ``404 not-found`` when asked for by id (the answer
does not tell whether it exists); what it may read but not change is ``403 forbidden``, as is
another smart account asked for by its domain (the caller named it already).

Usage::

    from smartlic.authority.services.scope import SYSTEM, Principal, scope_in

    key = Principal("ops", Role.VIRTUAL_ACCOUNT_USER, "acme.example", "Prod")
    scope = scope_in(key, "acme.example")   # (Forbidden for a smart account without a grant)
    scope.can_read("Spare")                 # False
    scope.require_write("Prod")             # Forbidden: this API key is read-only
    scope.visible(["Prod", "Spare"])        # ["Prod"]
    q = select(UsageFile).join(VirtualAccount).where(scope.where(VirtualAccount.name))
    scope_in(system("cli:alice"), "acme.example").require_manage()  # the CLI may do anything

Services take the principal as ``scope=`` (reads and writes alike); a write's event names
``scope.label()``. A new front end (another API, a CSSM-compatible one) authenticates its caller
to a ``Principal`` (``SqlApiKeysService.authenticate``) and passes it on; it never filters
results itself. Where it must refuse before calling a service (an upload before its body is
read), it calls ``scope_in(principal, domain).require_write(va)``, as ``api/deps_usage.py``
does. Poll answers of the vendor device API belong to ``poll_owner(principal)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, true
from sqlalchemy.orm import InstrumentedAttribute

from smartlic.domain.enums import Role
from smartlic.errors import Forbidden, InvalidInput, NotFound

__all__ = [
    "SYSTEM",
    "AccountScope",
    "Grant",
    "Principal",
    "check_grant_shape",
    "may_write",
    "poll_owner",
    "require_admin",
    "require_poll_owner",
    "scope_in",
    "system",
    "visible_smart_accounts",
]

WRITERS = frozenset({Role.ADMIN, Role.SMART_ACCOUNT_ADMIN, Role.VIRTUAL_ACCOUNT_ADMIN})
_SA_ROLES = frozenset({Role.SMART_ACCOUNT_ADMIN, Role.SMART_ACCOUNT_USER})
_VA_ROLES = frozenset({Role.VIRTUAL_ACCOUNT_ADMIN, Role.VIRTUAL_ACCOUNT_USER})


@dataclass(frozen=True)
class Grant:
    """One role over the authority (``admin``), a smart account or one virtual account."""

    role: Role
    smart_account: str | None = None
    virtual_account: str | None = None


def check_grant_shape(role: Role, smart_account: str | None, virtual_account: str | None) -> None:
    """Refuse a grant (of a user or an API key) whose accounts do not fit its role."""
    ok = {
        Role.ADMIN: smart_account is None and virtual_account is None,
        **dict.fromkeys(_SA_ROLES, smart_account is not None and virtual_account is None),
        **dict.fromkeys(_VA_ROLES, smart_account is not None and virtual_account is not None),
    }[Role(role)]
    if not ok:
        raise InvalidInput(
            "admin takes no account; smart-account roles take a smart account; "
            "virtual-account roles take a smart account and a virtual account",
            pointer="/role",
        )


@dataclass(frozen=True)
class Principal:
    """Who calls a service: an API key with one role, maybe limited to an account.

    ``key_id`` is the API key's id (what a poll task is bound to); ``label()`` names the
    caller in the event log.
    """

    name: str
    role: Role
    smart_account: str | None  # None = every account (role ADMIN)
    virtual_account: str | None = None
    key_id: str | None = None

    noun = "this API key"  # how refusals name the caller

    def label(self) -> str:
        return f"apikey:{self.name}"

    def all_grants(self) -> tuple[Grant, ...]:
        return (Grant(self.role, self.smart_account, self.virtual_account),)

    @property
    def is_admin(self) -> bool:
        return any(g.role is Role.ADMIN for g in self.all_grants())


class _System(Principal):
    noun = "the authority"

    def label(self) -> str:
        return self.name


def system(actor: str) -> Principal:
    """The authority itself acting for ``actor`` (``"cli:alice"``, a job, the demo, a device
    whose signature was checked): allowed everything; its events name ``actor``."""
    return _System(actor, Role.ADMIN, None)


SYSTEM = system("system")


@dataclass(frozen=True)
class AccountScope:
    """What one principal may read and change inside one smart account.

    ``readable`` / ``writable`` are virtual-account names, ``None`` meaning all of them;
    ``manages`` is the right to change the smart account itself (its virtual accounts,
    account-wide policies).
    """

    domain: str
    noun: str
    admin: bool
    manages: bool
    readable: frozenset[str] | None
    writable: frozenset[str] | None

    @property
    def sees_all(self) -> bool:
        return self.readable is None

    def can_read(self, va: str) -> bool:
        return self.readable is None or va in self.readable

    def can_write(self, va: str) -> bool:
        return self.writable is None or va in self.writable

    def writes_anything(self) -> bool:
        return self.writable is None or bool(self.writable)

    def visible(self, names: Iterable[str]) -> list[str]:
        return [n for n in names if self.can_read(n)]

    def where(self, column: InstrumentedAttribute[Any] | ColumnElement[Any]) -> ColumnElement[bool]:
        """A SQL condition keeping the rows of readable virtual accounts (by name)."""
        if self.readable is None:
            return true()
        return column.in_(sorted(self.readable))

    def require_read(self, va: str) -> None:
        if not self.can_read(va):
            raise Forbidden(f"{self.noun} has no access to virtual account {va!r}")

    def require_write(self, va: str) -> None:
        self.require_read(va)
        if not self.can_write(va):
            raise Forbidden(f"{self.noun} is read-only in virtual account {va!r}")

    def require_manage(self) -> None:
        if not self.manages:
            raise Forbidden(f"{self.noun} may not change the smart account {self.domain!r}")

    def require_visible(self, va: str, what: str) -> None:
        """``NotFound`` for an object (named by id) of a virtual account the caller cannot
        read: the answer must not tell that it exists elsewhere."""
        if not self.can_read(va):
            raise NotFound(f"no {what} in {self.domain!r}")


def require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("this operation needs an authority admin")


def visible_smart_accounts(principal: Principal) -> set[str] | None:
    """Domains the principal has a grant in; ``None`` means every one (an admin)."""
    grants = principal.all_grants()
    if any(g.role is Role.ADMIN for g in grants):
        return None
    return {g.smart_account for g in grants if g.smart_account is not None}


def scope_in(principal: Principal, domain: str) -> AccountScope:
    """The principal's scope in smart account ``domain``; ``Forbidden`` if it has none there."""
    mine = principal.all_grants()
    grants = [g for g in mine if g.role is Role.ADMIN or g.smart_account == domain]
    if any(g.role is Role.ADMIN for g in grants):
        return AccountScope(domain, principal.noun, True, True, None, None)
    account_wide = [g for g in grants if g.role in _SA_ROLES]
    per_va = [g for g in grants if g.role in _VA_ROLES and g.virtual_account is not None]
    if not account_wide and not per_va:
        raise Forbidden(f"{principal.noun} has no access to smart account {domain!r}")
    manages = any(g.role is Role.SMART_ACCOUNT_ADMIN for g in account_wide)
    readable = None if account_wide else frozenset(_names(per_va))
    writable = None if manages else frozenset(_names(g for g in per_va if g.role in WRITERS))
    return AccountScope(domain, principal.noun, False, manages, readable, writable)


def may_write(principal: Principal, domain: str, va: str) -> bool:
    """Whether ``principal`` may change virtual account ``va`` of ``domain`` (what
    ``scope_in(principal, domain).require_write(va)`` allows), for a caller that must refuse
    without naming the account (a device's virtual account the caller did not name)."""
    try:
        return scope_in(principal, domain).can_write(va)
    except Forbidden:
        return False


def _names(grants: Iterable[Grant]) -> list[str]:
    return [g.virtual_account for g in grants if g.virtual_account is not None]


# ---------------------------------------------------------------- poll answers

ANONYMOUS = "device"


def poll_owner(principal: Principal | None) -> str:
    """Who may collect the answer of an asynchronous request (``OK_POLL`` -> ``COMPLETE``):
    the API key that made it, by its id, or ``"device"`` for a device that sent no key (its
    request was signed; the 62-bit random poll id is then the only handle on the answer)."""
    if principal is None:
        return ANONYMOUS
    return f"apikey-id:{principal.key_id}" if principal.key_id else principal.label()


def require_poll_owner(owner: str, principal: Principal | None) -> None:
    """Answer a poll only to the caller that made the request: the same API key, or no key
    for a device's own request. A poll without a key for a keyed request is refused."""
    if owner != poll_owner(principal):
        raise Forbidden(
            "this poll task belongs to another client: poll with the credentials of the request"
        )
