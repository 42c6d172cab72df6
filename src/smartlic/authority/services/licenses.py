"""The license catalogue, holdings in virtual accounts, compliance and license transfers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from smartlic.authority.services import _pool
from smartlic.authority.services._base import ServiceBase
from smartlic.authority.services.interfaces import (
    ComplianceOut,
    HoldingOut,
    LicenseMove,
    LicenseOut,
    PoolLineOut,
)
from smartlic.authority.services.scope import AccountScope, Principal, require_admin, scope_in
from smartlic.domain.compliance import (
    MAX_QUANTITY,
    HoldingTerms,
    holding_active,
    pool_status,
    validate_holding,
)
from smartlic.domain.enums import ComplianceStatus, Enforcement, HoldingKind
from smartlic.domain.products import valid_tag
from smartlic.errors import (
    Conflict,
    InsufficientLicenses,
    InvalidInput,
    NotFound,
    SmartlicError,
    UnknownTag,
)
from smartlic.storage.models import (
    Holding,
    InstanceUsage,
    License,
    PoolCounter,
    ProductInstance,
    SmartAccount,
    VirtualAccount,
)

CONCERNED_PAGE = 20


def license_out(lic: License) -> LicenseOut:
    return LicenseOut(
        tag=lic.tag,
        name=lic.name,
        display_name=lic.display_name,
        description=lic.description,
        version=lic.version,
        enforcement=lic.enforcement,
    )


def holding_out(h: Holding, now: datetime) -> HoldingOut:
    return HoldingOut(
        id=h.id,
        tag=h.license.tag,
        quantity=h.quantity,
        kind=h.kind,
        starts_at=h.starts_at,
        ends_at=h.ends_at,
        subscription_id=h.subscription_id,
        active=holding_active(_pool.terms(h), now),
    )


def _at(moves: list[LicenseMove], i: int, field: str) -> str:
    """A refusal's pointer: the field itself for one move, ``/licenses/<i>/field`` for many."""
    return f"/{field}" if len(moves) == 1 else f"/licenses/{i}/{field}"


def _on_line(exc: SmartlicError, moves: list[LicenseMove], i: int) -> SmartlicError:
    """The refusal of move ``i``, pointing at its line when there are several."""
    if len(moves) > 1:
        field = (exc.pointer or "/").rsplit("/", 1)[-1]
        exc.pointer = _at(moves, i, field) if field else f"/licenses/{i}"
        exc.detail = f"line {i + 1}: {exc.detail}"
    return exc


def _check_quantity(quantity: int) -> None:
    if (
        isinstance(quantity, bool)
        or not isinstance(quantity, int)
        or not 1 <= quantity <= MAX_QUANTITY
    ):
        raise InvalidInput(f"quantity must be an integer 1-{MAX_QUANTITY}", pointer="/quantity")


class SqlLicensesService(ServiceBase):
    def define_license(
        self,
        *,
        tag: str,
        name: str,
        display_name: str,
        description: str = "",
        version: str = "1.0",
        enforcement: Enforcement = Enforcement.UNENFORCED,
        scope: Principal,
    ) -> LicenseOut:
        require_admin(scope)
        if not valid_tag(tag):
            raise InvalidInput(
                "tag must look like regid.YYYY-MM.<reverse-domain>.<name>,<version>_<uuid>",
                pointer="/tag",
            )
        if not 1 <= len(name.strip()) <= 100:
            raise InvalidInput("name must be 1-100 characters", pointer="/name")
        try:
            with self.transaction() as s:
                lic = License(
                    tag=tag,
                    name=name.strip(),
                    display_name=display_name[:200] or name,
                    description=description[:1000],
                    version=version[:32],
                    enforcement=Enforcement(enforcement),
                    created_at=self.now(),
                )
                s.add(lic)
                s.flush()
                self.record(s, "license.defined", actor=scope.label(), subject=tag, name=name)
                return license_out(lic)
        except IntegrityError as exc:
            raise Conflict(f"license {tag!r} is already defined", pointer="/tag") from exc

    def list_catalogue(self) -> list[LicenseOut]:
        with self.transaction() as s:
            return [license_out(lic) for lic in s.scalars(select(License).order_by(License.name))]

    def add_holding(
        self,
        domain: str,
        virtual_account: str,
        *,
        tag: str,
        quantity: int,
        kind: HoldingKind = HoldingKind.PERPETUAL,
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
        subscription_id: str | None = None,
        scope: Principal,
    ) -> HoldingOut:
        """A purchase lands in a virtual account: authority admins only."""
        require_admin(scope)
        _check_quantity(quantity)
        t = validate_holding(
            HoldingTerms(quantity, HoldingKind(kind), starts_at, ends_at), self.now()
        )
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            va = self.virtual_account(s, sa, virtual_account)
            lic = self._known(s, tag)
            _pool.touch(s, va.id, [lic.id])  # a purchase may end a shortfall
            h = Holding(
                virtual_account_id=va.id,
                license_id=lic.id,
                quantity=t.quantity,
                kind=t.kind,
                starts_at=t.starts_at,
                ends_at=t.ends_at,
                subscription_id=subscription_id,
                created_at=self.now(),
            )
            s.add(h)
            s.flush()
            h.license = lic
            self.record(
                s,
                "license.added",
                actor=scope.label(),
                smart_account=sa,
                virtual_account=va.name,
                subject=tag,
                quantity=quantity,
                kind=t.kind.value,
            )
            return holding_out(h, self.now())

    def compliance(self, domain: str, virtual_account: str, *, scope: Principal) -> ComplianceOut:
        return self.compliance_of(domain, [virtual_account], scope=scope)[0]

    def compliance_of(
        self, domain: str, virtual_accounts: list[str] | None = None, *, scope: Principal
    ) -> list[ComplianceOut]:
        """The compliance of several virtual accounts (``None``: every one ``scope`` may read,
        by name) in one transaction and a fixed number of queries, whatever their count."""
        visible = scope_in(scope, domain)
        names = None if virtual_accounts is None else list(dict.fromkeys(virtual_accounts))
        for name in names or ():
            visible.require_read(name)
        now = self.now()
        with self.transaction() as s:
            vas = self._vas(s, domain, names, visible)
            ids = [va.id for va in vas]
            holdings = _pool.holdings_by_va(s, ids)
            counters = _pool.counters_by_va(s, ids)
            lic_ids = {i for per in holdings.values() for i in per}
            lic_ids |= {i for per in counters.values() for i in per}
            lics = {
                lic.id: lic for lic in s.scalars(select(License).where(License.id.in_(lic_ids)))
            }
            return [
                self._report(
                    s, domain, va, lics, holdings.get(va.id, {}), counters.get(va.id, {}), now
                )
                for va in vas
            ]

    def _vas(
        self, s: Session, domain: str, names: list[str] | None, visible: AccountScope
    ) -> list[VirtualAccount]:
        sa = self.smart_account(s, domain)
        q = select(VirtualAccount).where(
            VirtualAccount.smart_account_id == sa.id, visible.where(VirtualAccount.name)
        )
        if names is None:
            return list(s.scalars(q.order_by(VirtualAccount.name)))
        found = {va.name: va for va in s.scalars(q.where(VirtualAccount.name.in_(names)))}
        for name in names:
            if name not in found:
                raise NotFound(f"no virtual account {name!r} in {domain!r}")
        return [found[name] for name in names]

    def _report(
        self,
        s: Session,
        domain: str,
        va: VirtualAccount,
        lics: dict[str, License],
        holdings: dict[str, list[Holding]],
        counters: dict[str, PoolCounter],
        now: datetime,
    ) -> ComplianceOut:
        ids = sorted(set(holdings) | set(counters))
        lines = [
            self._line(s, va.id, lics[i], holdings.get(i, []), counters.get(i), now) for i in ids
        ]
        lines.sort(key=lambda line: line.name)
        bad = any(line.status is ComplianceStatus.OUT_OF_COMPLIANCE for line in lines)
        return ComplianceOut(
            smart_account=domain,
            virtual_account=va.name,
            lines=lines,
            computed_at=now,
            status=ComplianceStatus.OUT_OF_COMPLIANCE if bad else ComplianceStatus.IN_COMPLIANCE,
        )

    def _line(
        self,
        s: Session,
        va_id: str,
        lic: License,
        holdings: list[Holding],
        counter: PoolCounter | None,
        now: datetime,
    ) -> PoolLineOut:
        bought = _pool.purchased_now(holdings, now)
        in_use = counter.in_use if counter else 0
        reserved = counter.reserved if counter else 0
        status = pool_status(bought, in_use, reserved)
        concerned: list[str] = []
        if status is ComplianceStatus.OUT_OF_COMPLIANCE:
            concerned = list(
                s.scalars(
                    select(InstanceUsage.instance_id)
                    .join(ProductInstance, ProductInstance.id == InstanceUsage.instance_id)
                    .where(
                        ProductInstance.virtual_account_id == va_id,
                        InstanceUsage.license_id == lic.id,
                        InstanceUsage.count > 0,
                    )
                    .order_by(InstanceUsage.instance_id)
                    .limit(CONCERNED_PAGE)
                )
            )
        return PoolLineOut(
            tag=lic.tag,
            name=lic.name,
            display_name=lic.display_name,
            enforcement=lic.enforcement,
            purchased=bought,
            in_use=in_use,
            reserved=reserved,
            available=bought - in_use - reserved,
            status=status,
            holdings=[holding_out(h, now) for h in holdings],
            instances_concerned=concerned,
        )

    def transfer(
        self,
        domain: str,
        source: str,
        target: str,
        *,
        tag: str,
        quantity: int,
        kind: HoldingKind | None = None,
        scope: Principal,
    ) -> None:
        """Move licenses between two virtual accounts ``scope`` may both change (only
        holdings of ``kind`` if given: perpetual, term or demo)."""
        self.transfer_many(domain, source, [LicenseMove(tag, quantity, target, kind)], scope=scope)

    def transfer_many(
        self, domain: str, source: str, moves: list[LicenseMove], *, scope: Principal
    ) -> None:
        """Several moves out of ``source`` as one transaction: all are made or none (the
        first refused move names its line: ``/licenses/<i>/...``)."""
        allowed = scope_in(scope, domain)
        allowed.require_write(source)
        for i, move in enumerate(moves):
            allowed.require_write(move.target)
            _check_quantity(move.quantity)
            if source == move.target:
                raise InvalidInput(
                    "source and target virtual accounts are the same",
                    pointer=_at(moves, i, "target"),
                )
        now = self.now()
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            src = self.virtual_account(s, sa, source)
            pools: list[tuple[str, str]] = []
            for i, move in enumerate(moves):  # every pool named, before any is locked
                try:
                    dst = self.virtual_account(s, sa, move.target)
                    lic_id = self._known(s, move.tag).id
                    pools += [(src.id, lic_id), (dst.id, lic_id)]
                except SmartlicError as exc:
                    raise _on_line(exc, moves, i) from None
            _pool.lock_counters(s, pools)  # in one order: opposite transfers cannot deadlock
            for i, move in enumerate(moves):
                try:
                    self._transfer_one(s, sa, src, move, now, scope)
                except SmartlicError as exc:
                    raise _on_line(exc, moves, i) from None

    def _transfer_one(
        self,
        s: Session,
        sa: SmartAccount,
        src: VirtualAccount,
        move: LicenseMove,
        now: datetime,
        scope: Principal,
    ) -> None:
        dst = self.virtual_account(s, sa, move.target)
        lic = self._known(s, move.tag)
        _pool.lock_counter(s, src.id, lic.id)
        holdings = [
            h
            for h in _pool.holdings_by_license(s, src.id, [lic.id]).get(lic.id, [])
            if holding_active(_pool.terms(h), now)
        ]
        counter = _pool.counters(s, src.id, [lic.id]).get(lic.id)
        used = (counter.in_use + counter.reserved) if counter else 0
        available = _pool.purchased_now(holdings, now) - used
        if move.kind is not None:  # of that kind, and never more than the pool can spare
            holdings = [h for h in holdings if h.kind is move.kind]
            available = min(available, _pool.purchased_now(holdings, now))
        if move.quantity > available:
            kind = f"{move.kind.value} " if move.kind else ""
            raise InsufficientLicenses(
                f"{src.name!r} has {max(available, 0)} {kind}{lic.name} available, "
                f"{move.quantity} asked",
                pointer="/quantity",
            )
        self._move(s, holdings, dst.id, move.quantity)
        self.record(
            s,
            "license.transferred",
            actor=scope.label(),
            smart_account=sa,
            virtual_account=src.name,
            subject=move.tag,
            quantity=move.quantity,
            target=move.target,
            **({"kind": move.kind.value} if move.kind else {}),
        )

    @staticmethod
    def _move(s: Session, holdings: list[Holding], target_va: str, quantity: int) -> None:
        """Move ``quantity`` from ``holdings``: perpetual first, then the longest term first."""

        def precedence(h: Holding) -> tuple[bool, float]:
            return (h.ends_at is None, h.ends_at.timestamp() if h.ends_at else 0.0)

        order = sorted(holdings, key=precedence, reverse=True)
        _pool.touch(s, target_va, {h.license_id for h in holdings})
        for h in order:
            if quantity == 0:
                break
            take = min(h.quantity, quantity)
            quantity -= take
            s.add(
                Holding(
                    virtual_account_id=target_va,
                    license_id=h.license_id,
                    quantity=take,
                    kind=h.kind,
                    starts_at=h.starts_at,
                    ends_at=h.ends_at,
                    subscription_id=h.subscription_id,
                    created_at=h.created_at,
                )
            )
            if take == h.quantity:
                s.delete(h)
            else:
                h.quantity -= take

    def _known(self, s: Session, tag: str) -> License:
        lic = self.license_by_tag(s, tag)
        if lic is None:
            raise UnknownTag(f"no license with tag {tag!r}", pointer="/tag")
        return lic
