"""Reporting watch: product instances whose ACK is overdue and collectors out of sync.

**ACK overdue** (``usage.ack.overdue`` → the ``ack-overdue`` notification). A policy with
"Reporting ACK required: yes" gives each product instance a next ACK deadline: from its first
use with the *first report requirement*, then from its last acknowledged report with the
*reporting frequency*, sooner after a usage change with *report on change* (second reference
document, "Policy"; domain-notes 2.2). The authority acknowledges every report it accepts, so
its last ACK to an instance is the instance's last accepted report, and the deadline is the
one the instance status already shows (``domain.instance_status.report_due`` over the policy
in force for its virtual account; a policy without ACK, or an instance that never used a
license, has none). An instance past its deadline is warned about once per deadline: the
mark ``ack:<instance>`` remembers the deadline warned about; a report moves the deadline on,
which ends the condition and re-arms the warning for the next deadline missed.

**Collector out of sync** (``collector.out_of_sync`` → ``collector-out-of-sync``). A collector
is a caller with an API key (or an API client's token) acting for devices: forwarding their
usage (``POST .../reportusage``), uploading their usage data files (``POST .../usage-files``
with its key) or forwarding their authorization code requests and returns (``POST
.../authrequest``). Each such call that something accepted stores the collector's last contact
per smart account of the devices concerned, in the transaction that accepted it
(``collector_contacts``, ``touch_collector``: the one place that says what a contact is; a
device on its own, a portal user or a refused call is none). One silent for longer than
``out_of_sync_after`` (the authority setting ``SMARTLIC_AUTHORITY_COLLECTOR_SYNC_S``, default
one day) is warned about once per silence:
the mark ``collector:<contact>`` remembers the last contact warned about; the collector's next
report ends the condition and re-arms it.

Both run as the job ``reporting.scan`` (hourly), a page of instances at a time.

Usage::

    watch = ReportingWatch(engine, clock, out_of_sync_after=timedelta(days=1))
    watch.run()     # "2 ACK(s) overdue, 1 collector(s) out of sync"
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import literal, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from smartlic.authority.services._base import ServiceBase
from smartlic.authority.services._files import udi_of
from smartlic.authority.services._instance_status import StatusReader
from smartlic.authority.services._marks import marks_at, upsert_mark
from smartlic.authority.services.scope import Principal, poll_owner
from smartlic.clock import Clock
from smartlic.storage.models import (
    AlertMark,
    CollectorContact,
    ProductInstance,
    SmartAccount,
    VirtualAccount,
)

__all__ = ["ReportingWatch", "touch_collector"]

ACTOR = "job:reporting.scan"
# services._instance_status.is_policy_mode, as SQL: a trust code, or no identity certificate
POLICY_MODE = or_(
    ProductInstance.trust_key_id.is_not(None), ProductInstance.cert_fingerprint.is_(None)
)
PAGE = 500


def touch_collector(
    s: Session, principal: Principal | None, instance_ids: Iterable[str | None], now: datetime
) -> None:
    """Store that ``principal``, if a collector (a caller with an API key or an API client's
    token), was in contact now for the smart accounts of the product instances
    ``instance_ids`` (those its call had accepted; None entries are skipped)."""
    ids = sorted({i for i in instance_ids if i})
    if principal is None or principal.key_id is None or not ids:
        return
    sa_ids = s.scalars(
        select(VirtualAccount.smart_account_id)
        .join(ProductInstance, ProductInstance.virtual_account_id == VirtualAccount.id)
        .where(ProductInstance.id.in_(ids))
        .distinct()
    )
    ins = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
    caller, name = poll_owner(principal), principal.label()[:200]
    for sa_id in sorted(sa_ids):
        stmt = ins(CollectorContact).values(
            id=str(uuid.uuid4()),
            smart_account_id=sa_id,
            caller=caller,
            name=name,
            first_contact_at=now,
            last_contact_at=now,
        )
        s.execute(
            stmt.on_conflict_do_update(
                index_elements=["smart_account_id", "caller"],
                set_={"last_contact_at": now, "name": name},
            )
        )


class ReportingWatch(ServiceBase):
    def __init__(
        self, engine: Any, clock: Clock, *, out_of_sync_after: timedelta = timedelta(days=1)
    ) -> None:
        super().__init__(engine, clock)
        self.out_of_sync_after = out_of_sync_after

    def run(self) -> str:
        acks = self.ack_overdue()
        collectors = self.collectors()
        return f"{acks} ACK(s) overdue, {collectors} collector(s) out of sync"

    # ------------------------------------------------------------ ACK overdue

    def ack_overdue(self) -> int:
        now, after, n = self.now(), "", 0
        while True:
            with self.transaction() as s:
                page = list(
                    s.scalars(
                        select(ProductInstance)
                        .where(ProductInstance.id > after, POLICY_MODE)
                        .order_by(ProductInstance.id)
                        .limit(PAGE)
                    )
                )
                if not page:
                    return n
                n += self._ack_page(s, page, now)
                after = page[-1].id

    def _ack_page(self, s: Session, page: list[ProductInstance], now: datetime) -> int:
        views = StatusReader(s, now).views(page)
        due = {
            i.id: views[i.id].verdict.report_due
            for i in page
            if views[i.id].verdict.report_due is not None and now > views[i.id].verdict.report_due  # type: ignore[operator]
        }
        if not due:
            return 0
        marks = marks_at(s, [f"ack:{i}" for i in due])
        n = 0
        for inst in page:
            deadline = due.get(inst.id)
            seen = marks.get(f"ack:{inst.id}")
            if deadline is None or (seen is not None and seen >= deadline):
                continue
            upsert_mark(s, f"ack:{inst.id}", deadline)
            self._raise_ack(s, inst, deadline)
            n += 1
        return n

    def _raise_ack(self, s: Session, inst: ProductInstance, deadline: datetime) -> None:
        va = s.get(VirtualAccount, inst.virtual_account_id)
        assert va is not None
        self.record(
            s,
            "usage.ack.overdue",
            actor=ACTOR,
            smart_account=s.get(SmartAccount, va.smart_account_id),
            virtual_account=va.name,
            subject=str(udi_of(inst)),
            hostname=inst.hostname,
            ack_deadline=deadline.isoformat(),
            last_report=inst.last_report_at.isoformat() if inst.last_report_at else None,
        )

    # ------------------------------------------------------------ collectors

    def collectors(self) -> int:
        now = self.now()
        key = literal("collector:") + CollectorContact.id
        q = (
            select(CollectorContact, SmartAccount)
            .join(SmartAccount, SmartAccount.id == CollectorContact.smart_account_id)
            .outerjoin(AlertMark, AlertMark.key == key)
            .where(
                CollectorContact.last_contact_at < now - self.out_of_sync_after,
                or_(AlertMark.key.is_(None), AlertMark.at < CollectorContact.last_contact_at),
            )
        )
        with self.transaction() as s:
            rows = s.execute(q).all()
            for c, sa in rows:
                upsert_mark(s, f"collector:{c.id}", c.last_contact_at)
                self.record(
                    s,
                    "collector.out_of_sync",
                    actor=ACTOR,
                    smart_account=sa,
                    subject=c.name,
                    collector=c.name,
                    last_contact=c.last_contact_at.isoformat(),
                    silent_for_s=int((now - c.last_contact_at).total_seconds()),
                    expected_within_s=int(self.out_of_sync_after.total_seconds()),
                )
        return len(rows)
