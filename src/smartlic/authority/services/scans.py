"""Scans that turn the state of the store into events: pools out of compliance, licenses,
tokens and instances about to expire or gone quiet.

Each warning is raised once: an ``alert_marks`` row names it (``pool:<va>:<license>``,
``holding:<id>:<days>``, ``token:<id>``, ``instance:<id>``), inserted with ON CONFLICT DO
NOTHING, so a scan that runs twice (or in two processes) emits each event once. The events go
to the event log (dotted names, style habit 14); notifications and webhooks read them there.

Both scans are set-based (a few queries whatever the number of instances); ``bench/jobs.py``
measures them against the bare SQL they need.

Usage::

    scans = Scans(engine, clock, reports)
    scans.compliance()    # "compliance.pool.out_of_compliance" + a Compliance Warning Report
    scans.expiry()        # "license.expiring", "token.expiring", "instance.not_reporting"
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, delete, func, literal, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from smartlic.authority.services._base import ServiceBase
from smartlic.authority.services.reports import SqlReportsService
from smartlic.authority.services.scope import system
from smartlic.clock import Clock
from smartlic.domain.enums import HoldingKind
from smartlic.domain.reports import ReportKind
from smartlic.storage.models import (
    AlertMark,
    Holding,
    License,
    PoolCounter,
    ProductInstance,
    RegistrationToken,
    SmartAccount,
    VirtualAccount,
)

__all__ = ["EXPIRY_DAYS", "Scans", "shortfall_query"]

EXPIRY_DAYS = (7, 30, 60, 90)  # "term or demo license ending in 90/60/30/7 days" (issue 12)
TOKEN_WARN = timedelta(days=7)


def shortfall_query(now: datetime) -> Any:
    """(va id, license id, in use, reserved, purchased) of every pool using more than it
    holds now: in use + reserved > active holdings (``domain.compliance.holding_active``)."""
    active = and_(
        or_(Holding.starts_at.is_(None), Holding.starts_at <= now),
        or_(Holding.ends_at.is_(None), Holding.ends_at > now),
    )
    bought = func.coalesce(func.sum(case((active, Holding.quantity), else_=0)), 0)
    return (
        select(
            PoolCounter.virtual_account_id,
            PoolCounter.license_id,
            PoolCounter.in_use,
            PoolCounter.reserved,
            bought,
        )
        .outerjoin(
            Holding,
            and_(
                Holding.virtual_account_id == PoolCounter.virtual_account_id,
                Holding.license_id == PoolCounter.license_id,
            ),
        )
        .where(PoolCounter.in_use + PoolCounter.reserved > 0)
        .group_by(
            PoolCounter.virtual_account_id,
            PoolCounter.license_id,
            PoolCounter.in_use,
            PoolCounter.reserved,
        )
        .having(PoolCounter.in_use + PoolCounter.reserved > bought)
    )


class Scans(ServiceBase):
    def __init__(self, engine: Any, clock: Clock, reports: SqlReportsService) -> None:
        super().__init__(engine, clock)
        self.reports = reports

    def compliance(self) -> str:
        """Raise each newly short pool once; forget pools back in compliance."""
        now = self.now()
        with self.transaction() as s:
            short = {(va, lic): row for va, lic, *row in s.execute(shortfall_query(now))}
            marks = set(s.scalars(select(AlertMark.key).where(AlertMark.key.startswith("pool:"))))
            keys = {f"pool:{va}:{lic}": (va, lic) for va, lic in short}
            new = [keys[k] for k in keys if k not in marks and _mark(s, k, now)]
            gone = marks - set(keys)
            if gone:
                s.execute(delete(AlertMark).where(AlertMark.key.in_(gone)))
            if not new:
                return f"0 pool(s) went out of compliance, {len(gone)} back in"
            places = _places(s, {va for va, _ in new})
            tags = _tags(s, {lic for _, lic in new})
            for va, lic in new:
                in_use, reserved, bought = short[(va, lic)]
                sa, va_name = places[va]
                self.record(
                    s,
                    "compliance.pool.out_of_compliance",
                    actor="job:compliance.scan",
                    smart_account=sa,
                    virtual_account=va_name,
                    subject=tags[lic],
                    tag=tags[lic],
                    purchased=int(bought),
                    in_use=int(in_use),
                    reserved=int(reserved),
                    shortfall=int(in_use + reserved - bought),
                )
            to_report = sorted({(places[va][0].domain, places[va][1]) for va, _ in new})
        for domain, va_name in to_report:
            self.reports.generate(
                domain,
                kind=ReportKind.COMPLIANCE_WARNING,
                scope=system("job:compliance.scan"),
                virtual_account=va_name,
                parameters={"cause": "compliance.pool.out_of_compliance"},
            )
        return f"{len(new)} pool(s) went out of compliance, {len(gone)} back in"

    def expiry(self, *, quiet_after: timedelta = timedelta(days=30)) -> str:
        now = self.now()
        with self.transaction() as s:
            n = self._holdings(s, now) + self._tokens(s, now) + self._quiet(s, now, quiet_after)
        return f"{n} expiry warning(s)"

    # ------------------------------------------------------------ expiry parts

    def _holdings(self, s: Session, now: datetime) -> int:
        # columns, not entities: the steady-state scan reads ~1,000 rows and raises nothing
        q = (
            select(
                Holding.id,
                Holding.ends_at,
                Holding.kind,
                Holding.quantity,
                License.tag,
                VirtualAccount.name,
                VirtualAccount.smart_account_id,
            )
            .join(License, License.id == Holding.license_id)
            .join(VirtualAccount, VirtualAccount.id == Holding.virtual_account_id)
            .where(
                Holding.kind.in_([HoldingKind.TERM, HoldingKind.DEMO]),
                Holding.ends_at > now,
                Holding.ends_at <= now + timedelta(days=max(EXPIRY_DAYS)),
            )
        )
        due: dict[str, tuple[Any, ...]] = {}
        for hid, ends, kind, qty, tag, va_name, sa_id in s.execute(q):
            left = ends - now  # type: ignore[operator]  # the query keeps ends_at > now
            days = min(d for d in EXPIRY_DAYS if left <= timedelta(days=d))
            due[f"holding:{hid}:{days}"] = (ends, kind, qty, tag, va_name, sa_id, days)
        # one read of the marks already raised, then an insert only for new warnings
        raised = set(s.scalars(select(AlertMark.key).where(AlertMark.key.in_(list(due)))))
        n = 0
        for key, (ends, kind, qty, tag, va_name, sa_id, days) in due.items():
            if key in raised or not _mark(s, key, now):
                continue
            n += 1
            self.record(
                s,
                "license.expiring",
                actor="job:expiry.scan",
                smart_account=s.get(SmartAccount, sa_id),
                virtual_account=va_name,
                subject=tag,
                tag=tag,
                kind=HoldingKind(kind).value,
                quantity=qty,
                ends_at=ends.isoformat(),
                within_days=days,
            )
        return n

    def _tokens(self, s: Session, now: datetime) -> int:
        q = (
            select(RegistrationToken, VirtualAccount, SmartAccount)
            .join(VirtualAccount, VirtualAccount.id == RegistrationToken.virtual_account_id)
            .join(SmartAccount, SmartAccount.id == VirtualAccount.smart_account_id)
            .where(
                RegistrationToken.revoked_at.is_(None),
                RegistrationToken.expires_at > now,
                RegistrationToken.expires_at <= now + TOKEN_WARN,
            )
        )
        n = 0
        for t, va, sa in s.execute(q).all():
            if _mark(s, f"token:{t.id}", now):
                n += 1
                self.record(
                    s,
                    "token.expiring",
                    actor="job:expiry.scan",
                    smart_account=sa,
                    virtual_account=va.name,
                    subject=t.id,
                    expires_at=t.expires_at.isoformat(),
                    description=t.description,
                )
        return n

    def _quiet(self, s: Session, now: datetime, quiet_after: timedelta) -> int:
        """Instances silent for ``quiet_after`` (or whose identity certificate expired), once
        per silence: the mark remembers the last contact it warned about."""
        seen = func.coalesce(ProductInstance.last_contact_at, ProductInstance.registered_at)
        key = literal("instance:") + ProductInstance.id
        q = (
            select(ProductInstance, VirtualAccount, SmartAccount, seen)
            .join(VirtualAccount, VirtualAccount.id == ProductInstance.virtual_account_id)
            .join(SmartAccount, SmartAccount.id == VirtualAccount.smart_account_id)
            .outerjoin(AlertMark, AlertMark.key == key)
            .where(
                or_(seen < now - quiet_after, ProductInstance.cert_expires_at <= now),
                or_(AlertMark.key.is_(None), AlertMark.at < seen),
            )
        )
        n = 0
        for inst, va, sa, last in s.execute(q).all():
            _upsert_mark(s, f"instance:{inst.id}", last)
            n += 1
            expired = inst.cert_expires_at is not None and inst.cert_expires_at <= now
            self.record(
                s,
                "instance.authorization.expired" if expired else "instance.not_reporting",
                actor="job:expiry.scan",
                smart_account=sa,
                virtual_account=va.name,
                subject=f"PID:{inst.udi_pid},SN:{inst.udi_sn}",
                last_contact=last.isoformat() if last else None,
            )
        return n


def _mark(s: Session, key: str, now: datetime) -> bool:
    """Insert the mark; True only for the transaction that inserted it."""
    ins = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = ins(AlertMark).values(key=key, at=now).on_conflict_do_nothing().returning(AlertMark.key)
    return s.execute(stmt).first() is not None


def _upsert_mark(s: Session, key: str, at: datetime) -> None:
    ins = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = ins(AlertMark).values(key=key, at=at)
    s.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"at": at}))


def _places(s: Session, va_ids: Iterable[str]) -> dict[str, tuple[SmartAccount, str]]:
    q = (
        select(VirtualAccount.id, VirtualAccount.name, SmartAccount)
        .join(SmartAccount, SmartAccount.id == VirtualAccount.smart_account_id)
        .where(VirtualAccount.id.in_(list(va_ids)))
    )
    return {va_id: (sa, name) for va_id, name, sa in s.execute(q)}


def _tags(s: Session, license_ids: Iterable[str]) -> dict[str, str]:
    q = select(License.id, License.tag).where(License.id.in_(list(license_ids)))
    return {str(lid): str(tag) for lid, tag in s.execute(q).all()}
