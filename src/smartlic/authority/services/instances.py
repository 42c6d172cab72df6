"""Product instances: list, search, transfer between virtual accounts (with a preview of the
target pool), remove (frees licenses). Statuses are computed at read time
(``_instance_status``, rules in ``smartlic.domain.instance_status``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from smartlic.authority.services import _pool
from smartlic.authority.services._base import ServiceBase
from smartlic.authority.services._files import udi_of
from smartlic.authority.services._instance_status import StatusReader, StatusView
from smartlic.authority.services._keyset import after, check_cursor, split
from smartlic.authority.services._search import exact_udi, substring, typed_udi
from smartlic.authority.services._usage import (
    active_reservation,
    current_usage,
    lock_instances,
    move_all,
    move_pools,
    outstanding_codes,
    release_all,
)
from smartlic.authority.services.interfaces import (
    InstanceOut,
    Page,
    TransferLineOut,
    TransferPreviewOut,
)
from smartlic.authority.services.reservations import (
    reservation_pools,
    return_reservation,
    returned_reservation,
)
from smartlic.authority.services.scope import AccountScope, Principal, scope_in
from smartlic.crypto import Udi
from smartlic.domain.compliance import pool_status
from smartlic.domain.enums import ComplianceStatus, InstanceStatus
from smartlic.errors import InvalidInput, NotFound
from smartlic.formats.bounds import check_page
from smartlic.storage.models import (
    License,
    LicenseReservation,
    ProductInstance,
    SmartAccount,
    VirtualAccount,
)

MAX_PAGE = 1000
# a search naming at most this many instances is paged by their ids (``_searched``)
CANDIDATES = 2000


# The sort orders of instance lists: the columns each sorts by.
INSTANCE_ORDERS: dict[str, tuple[Any, ...]] = {
    "registered": (ProductInstance.registered_at,),
    "name": (ProductInstance.udi_pid, ProductInstance.udi_sn),
    "hostname": (ProductInstance.hostname,),
    "contact": (ProductInstance.last_contact_at,),
}


# the keyset of the ``registered`` order (ix_product_instances_page / _va_page)
KEYSET = (ProductInstance.registered_at, ProductInstance.id)


class _Listed(NamedTuple):
    """A row of a listing: what a page shows of an instance and the facts of its status
    (``InstanceFacts``), without the rest of the row (the identity certificate's PEM)."""

    id: str
    virtual_account_id: str
    udi_pid: str
    udi_sn: str
    hostname: str
    software_tag: str
    registered_at: datetime
    last_contact_at: datetime | None
    status: InstanceStatus
    cert_fingerprint: str | None
    cert_expires_at: datetime | None
    trust_key_id: str | None
    last_report_at: datetime | None
    virtual_account: str  # its name


# the columns of a listing, in the order of ``_Listed``
LISTED = (*(getattr(ProductInstance, f) for f in _Listed._fields[:-1]), VirtualAccount.name)


def _ordering(order: str, descending: bool) -> list[Any]:
    columns = [*INSTANCE_ORDERS[order], ProductInstance.id]
    return [_direction(c, descending) for c in columns]


def _direction(column: Any, descending: bool) -> Any:
    """``column`` ascending or descending, NULLs last. Only a nullable column says so: on a
    NOT NULL one it changes no order, and it would stop SQLite (ascending) and PostgreSQL
    (descending) from reading the keyset index in order (a sort of the whole account)."""
    ordered = column.desc() if descending else column.asc()
    return ordered.nulls_last() if column.nullable else ordered


class SqlInstancesService(ServiceBase):
    candidates = CANDIDATES

    def list_instances(
        self,
        domain: str,
        virtual_account: str | None = None,
        *,
        search: str | None = None,
        order: str = "registered",
        descending: bool = False,
        limit: int = 50,
        offset: int = 0,
        cursor: str | None = None,
        scope: Principal,
    ) -> Page[InstanceOut]:
        """Instances of one virtual account, or of every one ``scope`` may read, sorted by one
        of ``INSTANCE_ORDERS`` (the id breaks ties, so pages never overlap); a page by ``offset``
        (with the total) or, in the ``registered`` order, after a ``cursor`` (keyset, no
        total)."""
        if order not in INSTANCE_ORDERS:
            raise InvalidInput(f"order: one of {', '.join(INSTANCE_ORDERS)}", pointer="/order")
        if cursor is not None and order != "registered":
            raise InvalidInput("a cursor pages the 'registered' order only", pointer="/cursor")
        check_page(limit, offset, MAX_PAGE)
        check_cursor(cursor, offset)
        visible = scope_in(scope, domain)
        if virtual_account is not None:
            visible.require_read(virtual_account)
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            q = self._listing(s, sa, visible, virtual_account)
            q, matches = self._searched(s, q, search) if search else (q, None)
            total = None
            if cursor is None:
                total = self._count(s, q) if matches is None else matches
            q = after(q, KEYSET, cursor, ("time", "text"), descending=descending)
            ordering = _ordering(order, descending)
            found = s.execute(q.order_by(*ordering).limit(limit + 1).offset(offset))
            listed = [_Listed._make(row) for row in found]
            rows, token = split(listed, limit, lambda r: [r.registered_at, r.id])
            token = token if order == "registered" else None
            views = StatusReader(s, self.now()).views(rows)
            items = [self._out(sa, r.virtual_account, r, views[r.id]) for r in rows]
        return Page(items=items, total=total, limit=limit, offset=offset, next_cursor=token)

    def _listing(
        self,
        s: Session,
        sa: SmartAccount,
        visible: AccountScope,
        virtual_account: str | None,
    ) -> Select[Any]:
        q = (
            select(*LISTED)
            .join(VirtualAccount)
            .where(VirtualAccount.smart_account_id == sa.id, visible.where(VirtualAccount.name))
        )
        if virtual_account is not None:
            q = q.where(VirtualAccount.id == self.virtual_account(s, sa, virtual_account).id)
        return q

    def _searched(self, s: Session, q: Select[Any], search: str) -> tuple[Select[Any], int | None]:
        """``q`` narrowed to the instances ``search`` names (``_search``), and their count when
        they are few: those are found first by the search's own indexes and the page is then
        sorted among their ids, so it never walks the account's registration order filtering
        a million rows for them (what the planner chose for a rare hostname with ``LIMIT``)."""
        ids_of = q.with_only_columns(ProductInstance.id)
        udi = typed_udi(search)
        if udi is not None:  # a UDI: its unique index first
            ids = list(s.scalars(ids_of.where(exact_udi(udi))))
            if ids:
                return q.where(ProductInstance.id.in_(ids)), len(ids)
        match = substring(s, search)
        ids = list(s.scalars(ids_of.where(match).limit(self.candidates + 1)))
        if len(ids) > self.candidates:  # a broad search: the page's sort meets matches soon
            return q.where(match), None
        return q.where(ProductInstance.id.in_(ids)), len(ids)

    @staticmethod
    def _count(s: Session, q: Select[Any]) -> int:
        return s.scalar(select(func.count()).select_from(q.subquery())) or 0

    def resolve_instance(self, domain: str, ref: str, *, scope: Principal) -> str:
        """The id of the instance ``ref`` names, as a person types it: ``PID:SN`` (the UDI), the
        full id, or an id prefix of at least 4 characters that names one instance only."""
        visible = scope_in(scope, domain)
        ref = ref.strip()
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            q = (
                select(ProductInstance.id, VirtualAccount.name)
                .join(VirtualAccount)
                .where(VirtualAccount.smart_account_id == sa.id, visible.where(VirtualAccount.name))
            )
            if ":" in ref:  # a UDI, or a refusal that says what one looks like
                udi = Udi.parse(ref)
                q = q.where(ProductInstance.udi_pid == udi.pid, ProductInstance.udi_sn == udi.sn)
            elif len(ref) >= 4:
                q = q.where(ProductInstance.id.startswith(ref.lower(), autoescape=True))
            else:
                raise InvalidInput(
                    f"{ref!r}: give the instance's PID:SN or at least 4 characters of its id"
                )
            found = s.execute(q.limit(2)).all()
        if not found:
            raise NotFound(f"no product instance {ref!r} in {domain!r}")
        if len(found) > 1:
            raise InvalidInput(f"{ref!r} names more than one product instance: give more of its id")
        return str(found[0][0])

    def get_instance(self, domain: str, instance_id: str, *, scope: Principal) -> InstanceOut:
        visible = scope_in(scope, domain)
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            inst, va = self._find(s, sa, instance_id, visible)
            return self._one(s, sa, va, inst)

    def preview_transfer(
        self, domain: str, instance_id: str, *, target: str, scope: Principal
    ) -> TransferPreviewOut:
        """What ``transfer_instance`` would do to the target pool; changes nothing. Asked only
        by a caller who may make the transfer (both virtual accounts writable)."""
        allowed = scope_in(scope, domain)
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            inst, va = self._find(s, sa, instance_id, allowed)
            allowed.require_write(va.name)
            allowed.require_write(target)
            dst = self.virtual_account(s, sa, target)
            lines = self._target_lines(s, inst, dst, self.now()) if dst.id != va.id else []
            bad = [ln for ln in lines if ln.status == ComplianceStatus.OUT_OF_COMPLIANCE]
            warnings = [
                f"{dst.name} would be Out of Compliance for {ln.name}: {ln.in_use_after} in "
                f"use, {ln.purchased} purchased"
                for ln in bad
            ]
            return TransferPreviewOut(
                instance_id=inst.id,
                source=va.name,
                target=dst.name,
                lines=lines,
                out_of_compliance=bool(bad),
                warnings=warnings,
            )

    def transfer_instance(
        self, domain: str, instance_id: str, *, target: str, scope: Principal
    ) -> InstanceOut:
        """Move an instance between two virtual accounts ``scope`` may both change."""
        return self.transfer_instances(domain, [(instance_id, target)], scope=scope)[0]

    def transfer_instances(
        self, domain: str, moves: Sequence[tuple[str, str]], *, scope: Principal
    ) -> list[InstanceOut]:
        """Move instances ((instance id, target virtual account)) as one transaction: every
        instance and target is found and allowed before any moves, and all move or none (the
        CSSM ``devices/transfer``; a refusal must not leave the first devices moved)."""
        allowed = scope_in(scope, domain)
        if len({iid for iid, _ in moves}) != len(moves):
            raise InvalidInput("a product instance is named twice")
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            lock_instances(s, [iid for iid, _ in moves])  # instances, then pools
            found = []
            for instance_id, target in moves:
                inst, va = self._find(s, sa, instance_id, allowed)
                allowed.require_write(va.name)
                allowed.require_write(target)
                found.append((inst, va, self.virtual_account(s, sa, target)))
            if len(found) > 1:  # every pool of the batch locked first, in one order
                pools = [p for i, va, dst in found for p in move_pools(s, i, dst.id)]
                _pool.lock_counters(s, pools)
            return [self._move(s, sa, inst, va, dst, scope) for inst, va, dst in found]

    def _move(
        self,
        s: Session,
        sa: SmartAccount,
        inst: ProductInstance,
        va: VirtualAccount,
        dst: VirtualAccount,
        scope: Principal,
    ) -> InstanceOut:
        if dst.id != va.id:
            # what the target pool falls short of (the portal asked for a confirmation)
            short = [
                ln.name
                for ln in self._target_lines(s, inst, dst, self.now())
                if ln.status == ComplianceStatus.OUT_OF_COMPLIANCE
            ]
            move_all(s, inst, dst.id, self.now())
            self.record(
                s,
                "instance.transferred",
                actor=scope.label(),
                smart_account=sa,
                virtual_account=va.name,
                subject=self._label(inst),
                target=dst.name,
                out_of_compliance=short,
            )
        return self._one(s, sa, dst, inst)

    def remove_instance(
        self, domain: str, instance_id: str, *, return_code: str | None = None, scope: Principal
    ) -> None:
        """Remove an instance and free what it uses; one holding a license reservation needs
        the reservation's return code (the portal's "Reservation Return Code")."""
        self.remove_instances(domain, [(instance_id, return_code)], scope=scope)

    def remove_instances(
        self, domain: str, removals: Sequence[tuple[str, str | None]], *, scope: Principal
    ) -> None:
        """Remove instances ((instance id, return code or None)) as one transaction: every
        instance is found, allowed and its reservation's return code checked before any is
        removed, and all go or none (the CSSM ``devices/remove``: a wrong return code must not
        leave the first devices removed). Every pool of the batch is locked first, in one
        order, as ``transfer_instances`` does."""
        allowed = scope_in(scope, domain)
        if len({iid for iid, _ in removals}) != len(removals):
            raise InvalidInput("a product instance is named twice")
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            lock_instances(s, [iid for iid, _ in removals])  # instances, then pools
            found = []
            for instance_id, return_code in removals:
                inst, va = self._find(s, sa, instance_id, allowed)
                allowed.require_write(va.name)
                found.append((inst, va, returned_reservation(s, inst, return_code)))
            if len(found) > 1:  # every pool of the batch locked first, in one order
                pools = [p for i, _, r in found for p in self._freed_pools(s, i, r)]
                _pool.lock_counters(s, pools)
            for inst, va, reservation in found:
                self._remove(s, sa, inst, va, reservation, scope)

    @staticmethod
    def _freed_pools(
        s: Session, inst: ProductInstance, reservation: LicenseReservation | None
    ) -> list[tuple[str, str]]:
        used = [(inst.virtual_account_id, lid) for lid in current_usage(s, inst.id)]
        return used + reservation_pools(reservation)

    def _remove(
        self,
        s: Session,
        sa: SmartAccount,
        inst: ProductInstance,
        va: VirtualAccount,
        reservation: LicenseReservation | None,
        scope: Principal,
    ) -> None:
        if reservation is not None:
            return_reservation(s, reservation, self.now())
        release_all(s, inst)
        s.delete(inst)
        self.record(
            s,
            "instance.removed",
            actor=scope.label(),
            smart_account=sa,
            virtual_account=va.name,
            subject=self._label(inst),
            **({"reservation_returned": reservation.code_id} if reservation else {}),
        )

    # ------------------------------------------------------------ helpers

    @staticmethod
    def _target_lines(
        s: Session, inst: ProductInstance, dst: VirtualAccount, now: datetime
    ) -> list[TransferLineOut]:
        moving = {lid: u.count for lid, u in current_usage(s, inst.id).items() if u.count}
        for code in outstanding_codes(s, inst):
            moving[code.license_id] = moving.get(code.license_id, 0) + code.count
        reservation = active_reservation(s, inst)
        for line in reservation.lines if reservation is not None else ():
            moving[line.license_id] = moving.get(line.license_id, 0) + line.count
        if not moving:
            return []
        pool = _pool.read_counts(s, dst.id, list(moving))
        holdings = _pool.holdings_by_license(s, dst.id, list(moving))
        lics = s.scalars(select(License).where(License.id.in_(list(moving))))
        lines = []
        for lic in sorted(lics, key=lambda lic: lic.name):
            bought = _pool.purchased_now(holdings.get(lic.id, []), now)
            after = sum(pool[lic.id]) + moving[lic.id]
            status = pool_status(bought, after)
            lines.append(
                TransferLineOut(lic.tag, lic.name, moving[lic.id], bought, after, status.value)
            )
        return lines

    @staticmethod
    def _find(
        s: Session, sa: SmartAccount, instance_id: str, visible: AccountScope
    ) -> tuple[ProductInstance, VirtualAccount]:
        row = s.execute(
            select(ProductInstance, VirtualAccount)
            .join(VirtualAccount)
            .where(ProductInstance.id == instance_id, VirtualAccount.smart_account_id == sa.id)
        ).first()
        if row is None:
            raise NotFound(f"no product instance {instance_id!r} in {sa.domain!r}")
        visible.require_visible(row[1].name, f"product instance {instance_id!r}")
        return row[0], row[1]

    @staticmethod
    def _label(inst: ProductInstance) -> str:
        return str(udi_of(inst))

    def _one(
        self, s: Session, sa: SmartAccount, va: VirtualAccount, inst: ProductInstance
    ) -> InstanceOut:
        view = StatusReader(s, self.now()).views([inst])[inst.id]
        return self._out(sa, va.name, inst, view)

    @staticmethod
    def _out(
        sa: SmartAccount, va_name: str, inst: ProductInstance | _Listed, view: StatusView
    ) -> InstanceOut:
        return InstanceOut(
            id=inst.id,
            smart_account=sa.domain,
            virtual_account=va_name,
            udi_pid=inst.udi_pid,
            udi_sn=inst.udi_sn,
            hostname=inst.hostname,
            software_tag=inst.software_tag,
            registered_at=inst.registered_at,
            last_contact_at=inst.last_contact_at,
            status=view.verdict.status.value,
            alerts=view.verdict.alert_texts,
            usage=view.usage,
            certificate_expires=inst.cert_expires_at,
            report_due=view.verdict.report_due,
        )
