"""Scans that turn the state of the store into events: pools out of compliance, licenses,
tokens and instances about to expire or gone quiet.

Each warning is raised once: an ``alert_marks`` row names it (``pool:<va>:<license>``,
``holding:<id>:<days>``, ``token:<id>``, ``instance:<id>``), inserted with ON CONFLICT DO
NOTHING, so a scan that runs twice (or in two processes) emits each event once. The events go
to the event log (dotted names, style habit 14); notifications and webhooks read them there.

Both scans are set-based (a few queries whatever the number of instances); ``bench/jobs.py``
measures them against the bare SQL they need.

Usage::

    scans = Scans(engine, clock)
    scans.compliance()    # "compliance.pool.out_of_compliance" + a Compliance Warning Report
    scans.expiry()        # "license.expiring", "token.expiring", "instance.not_reporting"
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, literal, or_, select
from sqlalchemy.orm import Session

from smartlic.authority.services._base import ServiceBase
from smartlic.authority.services._compliance import raise_warnings, shortfall_query
from smartlic.authority.services._files import udi_of
from smartlic.authority.services._marks import mark, upsert_mark
from smartlic.clock import Clock
from smartlic.domain.enums import HoldingKind
from smartlic.storage.models import (
    AlertMark,
    Holding,
    License,
    ProductInstance,
    RegistrationToken,
    SmartAccount,
    VirtualAccount,
)

__all__ = ["EXPIRY_DAYS", "Scans", "shortfall_query"]

SCAN_ACTOR = "job:compliance.scan"

EXPIRY_DAYS = (7, 30, 60, 90)  # "term or demo license ending in 90/60/30/7 days" (issue 12)
TOKEN_WARN = timedelta(days=7)


class Scans(ServiceBase):
    def __init__(self, engine: Any, clock: Clock) -> None:
        super().__init__(engine, clock)

    def compliance(self) -> str:
        """Raise each newly short pool once; re-arm pools back in compliance (the safety net
        of the warnings raised by the writes themselves, ``_compliance``)."""
        with self.transaction() as s:
            new, gone = raise_warnings(s, self.now(), self.record, SCAN_ACTOR)
        return f"{new} pool(s) went out of compliance, {gone} back in"

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
            if key in raised or not mark(s, key, now):
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
            if mark(s, f"token:{t.id}", now):
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
            upsert_mark(s, f"instance:{inst.id}", last)
            n += 1
            expired = inst.cert_expires_at is not None and inst.cert_expires_at <= now
            self.record(
                s,
                "instance.authorization.expired" if expired else "instance.not_reporting",
                actor="job:expiry.scan",
                smart_account=sa,
                virtual_account=va.name,
                subject=str(udi_of(inst)),
                last_contact=last.isoformat() if last else None,
            )
        return n
