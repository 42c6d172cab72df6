"""Smart accounts and their virtual accounts (license pools); a DEFAULT one always exists."""

from __future__ import annotations

import re

from sqlalchemy import Engine, exists, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from smartlic.authority.services._base import ServiceBase, id_number
from smartlic.authority.services._principal_cache import PrincipalCache
from smartlic.authority.services.interfaces import SmartAccountOut, VirtualAccountOut
from smartlic.authority.services.scope import (
    Principal,
    require_admin,
    scope_in,
    visible_smart_accounts,
)
from smartlic.clock import Clock
from smartlic.errors import Conflict, InvalidInput, NotEmpty, NotFound
from smartlic.storage.engine import on_postgresql
from smartlic.storage.models import (
    Holding,
    NumberCounter,
    PoolCounter,
    ProductInstance,
    RegistrationToken,
    SmartAccount,
    VirtualAccount,
)

DEFAULT_VA = "DEFAULT"
_DOMAIN = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")


def _name(value: str, field: str) -> str:
    value = value.strip()
    if not 1 <= len(value) <= 200:
        raise InvalidInput(f"{field} must be 1-200 characters", pointer=f"/{field}")
    return value


def sa_out(sa: SmartAccount) -> SmartAccountOut:
    return SmartAccountOut(
        id=sa.id, name=sa.name, domain=sa.domain, created_at=sa.created_at, number=sa.number or 0
    )


def va_out(va: VirtualAccount, domain: str) -> VirtualAccountOut:
    return VirtualAccountOut(
        id=va.id,
        smart_account=domain,
        name=va.name,
        description=va.description,
        is_default=va.is_default,
        created_at=va.created_at,
        number=va.number or 0,
    )


def next_number(s: Session, column: InstrumentedAttribute[int | None]) -> int:
    """The next stable numeric id of ``column``'s table, never one given before (a deleted
    account's id stays unused: a tool still sending it must find nothing). Taken from the
    table's ``number_counters`` row by one upsert, which locks the row until commit:
    concurrent creations, in other authority processes too, queue on it and each get the
    next id. A missing row (a new database, or one emptied) starts from the largest id in
    use (0013_number_counters)."""
    kind = column.class_.__tablename__
    first = select(func.coalesce(func.max(column), 0) + 1).scalar_subquery()
    upsert = pg_insert if on_postgresql(s) else sqlite_insert
    take = (
        upsert(NumberCounter)
        .values(name=kind, last=first)
        .on_conflict_do_update(
            index_elements=[NumberCounter.name], set_={"last": NumberCounter.last + 1}
        )
        .returning(NumberCounter.last)
    )
    return int(s.execute(take).scalar_one())


class SqlAccountsService(ServiceBase):
    def __init__(self, engine: Engine, clock: Clock, cache: PrincipalCache | None = None) -> None:
        super().__init__(engine, clock)
        # cached principals name their virtual account: a rename or delete empties the cache
        self.principals = cache or PrincipalCache(clock)

    def create_smart_account(self, *, name: str, domain: str, scope: Principal) -> SmartAccountOut:
        require_admin(scope)
        domain = domain.strip().lower()
        if not _DOMAIN.match(domain) or len(domain) > 200:
            raise InvalidInput(f"not a domain name: {domain!r}", pointer="/domain")
        try:
            with self.transaction() as s:
                sa = SmartAccount(
                    name=_name(name, "name"),
                    domain=domain,
                    number=next_number(s, SmartAccount.number),
                    created_at=self.now(),
                )
                s.add(sa)
                s.flush()
                s.add(
                    VirtualAccount(
                        smart_account_id=sa.id,
                        name=DEFAULT_VA,
                        is_default=True,
                        number=next_number(s, VirtualAccount.number),
                        description="Default virtual account",
                        created_at=self.now(),
                    )
                )
                self.record(
                    s,
                    "account.created",
                    actor=scope.label(),
                    smart_account=sa,
                    subject=domain,
                    name=sa.name,
                )
                return sa_out(sa)
        except IntegrityError as exc:
            raise Conflict(f"smart account {domain!r} already exists", pointer="/domain") from exc

    def list_smart_accounts(self, *, scope: Principal) -> list[SmartAccountOut]:
        """The smart accounts ``scope`` has a grant in."""
        domains = visible_smart_accounts(scope)
        q = select(SmartAccount).order_by(SmartAccount.domain)
        if domains is not None:
            q = q.where(SmartAccount.domain.in_(sorted(domains)))
        with self.transaction() as s:
            return [sa_out(sa) for sa in s.scalars(q)]

    def get_smart_account(self, domain: str, *, scope: Principal) -> SmartAccountOut:
        scope_in(scope, domain)
        with self.transaction() as s:
            return sa_out(self.smart_account(s, domain))

    def names_of(
        self, smart_account: str, virtual_account: str | None, *, scope: Principal
    ) -> tuple[str, str | None]:
        """(domain, virtual account name) for the vendor's numeric ids (``v2/accounts/search``);
        a non-numeric value is already a domain / name and is returned as it is. An id the
        caller has no grant in is not found (the answer does not tell that it exists)."""
        if not smart_account.isdigit():
            if virtual_account is not None and virtual_account.isdigit():
                raise InvalidInput("a numeric virtual account id needs a numeric account id")
            return smart_account, virtual_account
        domains = visible_smart_accounts(scope)
        with self.transaction() as s:
            sa = s.scalar(
                select(SmartAccount).where(SmartAccount.number == id_number(smart_account))
            )
            if sa is None or (domains is not None and sa.domain not in domains):
                raise NotFound(f"no smart account {smart_account}")
            if virtual_account is None or not virtual_account.isdigit():
                return sa.domain, virtual_account
            return sa.domain, self.virtual_account_by_ref(s, sa, virtual_account).name

    def create_virtual_account(
        self, domain: str, *, name: str, description: str = "", scope: Principal
    ) -> VirtualAccountOut:
        scope_in(scope, domain).require_manage()
        name = _name(name, "name")
        try:
            with self.transaction() as s:
                sa = self.smart_account(s, domain)
                va = VirtualAccount(
                    smart_account_id=sa.id,
                    name=name,
                    description=description[:1000],
                    number=next_number(s, VirtualAccount.number),
                    created_at=self.now(),
                )
                s.add(va)
                s.flush()
                self.record(
                    s,
                    "virtual_account.created",
                    actor=scope.label(),
                    smart_account=sa,
                    virtual_account=name,
                    subject=name,
                )
                return va_out(va, domain)
        except IntegrityError as exc:
            raise Conflict(f"virtual account {name!r} already exists", pointer="/name") from exc

    def list_virtual_accounts(self, domain: str, *, scope: Principal) -> list[VirtualAccountOut]:
        """The virtual accounts of ``domain`` that ``scope`` may read."""
        visible = scope_in(scope, domain)
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            rows = s.scalars(
                select(VirtualAccount)
                .where(VirtualAccount.smart_account_id == sa.id, visible.where(VirtualAccount.name))
                .order_by(VirtualAccount.name)
            )
            return [va_out(va, domain) for va in rows]

    def rename_virtual_account(
        self, domain: str, name: str, *, new_name: str, scope: Principal
    ) -> VirtualAccountOut:
        scope_in(scope, domain).require_manage()
        new_name = _name(new_name, "name")
        try:
            with self.transaction() as s:
                sa = self.smart_account(s, domain)
                va = self.virtual_account(s, sa, name)
                va.name = new_name
                s.flush()
                self.record(
                    s,
                    "virtual_account.renamed",
                    actor=scope.label(),
                    smart_account=sa,
                    virtual_account=new_name,
                    subject=new_name,
                    old_name=name,
                )
                out = va_out(va, domain)
        except IntegrityError as exc:
            raise Conflict(f"virtual account {new_name!r} already exists", pointer="/name") from exc
        self.principals.invalidate()
        return out

    def delete_virtual_account(self, domain: str, name: str, *, scope: Principal) -> None:
        scope_in(scope, domain).require_manage()
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            va = self.virtual_account(s, sa, name)
            if va.is_default:
                raise Conflict("the default virtual account cannot be deleted", code="is-default")
            if self._has_contents(s, va.id):
                raise NotEmpty(f"virtual account {name!r} still holds licenses or instances")
            s.query(RegistrationToken).filter_by(virtual_account_id=va.id).delete()
            s.query(PoolCounter).filter_by(virtual_account_id=va.id).delete()
            s.delete(va)
            self.record(
                s,
                "virtual_account.deleted",
                actor=scope.label(),
                smart_account=sa,
                virtual_account=name,
                subject=name,
            )
        self.principals.invalidate()

    @staticmethod
    def _has_contents(s: Session, va_id: str) -> bool:
        holdings = s.scalar(select(exists().where(Holding.virtual_account_id == va_id)))
        instances = s.scalar(
            select(func.count()).where(ProductInstance.virtual_account_id == va_id)
        )
        return bool(holdings) or bool(instances)
