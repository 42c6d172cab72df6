"""The report archive: Periodic Records, Manual Records and Compliance Warning Reports.

A report is the compliance of one virtual account, or of every virtual account of a smart
account, at its generation time (``pool_rows``: the pool counters and holdings judged by
``domain.compliance``, the one home of the compliance rule, as ``licenses.compliance`` does),
archived with its kind, generation time and parameters. Reports are
immutable: nothing here updates or deletes one (they go with their smart account).

Usage::

    reports = SqlReportsService(engine, clock)
    r = reports.generate("acme.example", kind=ReportKind.MANUAL, scope=SYSTEM)
    reports.csv_text(r)        # one line per pool
    reports.pdf_bytes(r)       # the readable document (fpdf2)
    reports.add_schedule("acme.example", Frequency.DAILY, "06:00", scope=SYSTEM)
    reports.run_schedules()    # the job runner's "reports.periodic"
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fpdf import FPDF
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smartlic.authority.services import _pool
from smartlic.authority.services._base import ServiceBase
from smartlic.authority.services.scope import Principal, scope_in, system
from smartlic.domain.compliance import pool_status
from smartlic.domain.reports import Frequency, ReportKind, next_run
from smartlic.errors import Forbidden, NotFound
from smartlic.formats.bounds import check_page
from smartlic.storage.models import License, Report, ReportSchedule, SmartAccount, VirtualAccount

Recorder = Callable[..., None]  # ServiceBase.record

__all__ = ["COLUMNS", "ReportOut", "ScheduleOut", "SqlReportsService", "archive", "pool_rows"]

PERIODIC = system("job:reports.periodic")

COLUMNS = (
    "virtual_account",
    "tag",
    "license",
    "purchased",
    "in_use",
    "reserved",
    "available",
    "shortfall",
    "status",
)


@dataclass(frozen=True)
class ReportOut:
    id: str
    smart_account: str
    virtual_account: str | None
    kind: ReportKind
    generated_at: datetime
    generated_by: str
    parameters: dict[str, Any]
    shortfalls: int
    rows: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class ScheduleOut:
    id: str
    smart_account: str
    virtual_account: str | None
    frequency: Frequency
    time_of_day: str
    next_run_at: datetime


def pool_rows(s: Session, va: VirtualAccount, now: datetime) -> list[dict[str, Any]]:
    """One row per license of ``va``'s pool, as every report form shows it."""
    holdings = _pool.holdings_by_license(s, va.id)
    counters = _pool.counters(s, va.id)
    ids = sorted(set(holdings) | set(counters))
    lics = {lic.id: lic for lic in s.scalars(select(License).where(License.id.in_(ids)))}
    rows = []
    for lid in ids:
        bought = _pool.purchased_now(holdings.get(lid, []), now)
        c = counters.get(lid)
        in_use, reserved = (c.in_use, c.reserved) if c else (0, 0)
        available = bought - in_use - reserved
        rows.append(
            {
                "virtual_account": va.name,
                "tag": lics[lid].tag,
                "license": lics[lid].name,
                "purchased": bought,
                "in_use": in_use,
                "reserved": reserved,
                "available": available,
                "shortfall": max(0, -available),
                "status": pool_status(bought, in_use, reserved).value,
            }
        )
    return sorted(rows, key=lambda r: str(r["license"]))


def archive(
    s: Session,
    record: Recorder,
    sa: SmartAccount,
    va: VirtualAccount | None,
    kind: ReportKind,
    now: datetime,
    actor: str,
    parameters: dict[str, Any],
) -> Report:
    """Compute and archive one report in ``s`` (the one place reports are written), recording
    ``report.generated``; ``va`` None: every virtual account of ``sa``."""
    vas = [va]
    if va is None:
        q = select(VirtualAccount).where(VirtualAccount.smart_account_id == sa.id)
        vas = list(s.scalars(q.order_by(VirtualAccount.name)))
    rows = [row for v in vas if v is not None for row in pool_rows(s, v, now)]
    if kind is ReportKind.COMPLIANCE_WARNING:
        rows = [r for r in rows if r["shortfall"] > 0]
    va_name = va.name if va is not None else None
    report = Report(
        smart_account_id=sa.id,
        virtual_account=va_name,
        kind=kind.value,
        generated_at=now,
        generated_by=actor[:200],
        parameters={"virtual_account": va_name, **parameters},
        rows=rows,
        shortfalls=sum(1 for r in rows if r["shortfall"] > 0),
    )
    s.add(report)
    s.flush()
    record(
        s,
        "report.generated",
        actor=actor,
        smart_account=sa,
        virtual_account=va_name,
        subject=report.id,
        report_id=report.id,
        kind=kind.value,
        shortfalls=report.shortfalls,
    )
    return report


class SqlReportsService(ServiceBase):
    def generate(
        self,
        domain: str,
        *,
        kind: ReportKind,
        scope: Principal,
        virtual_account: str | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> ReportOut:
        """Compute and archive one report; records ``report.generated``. An account-wide
        report needs a role over the whole smart account."""
        kind = ReportKind(kind)
        sc = scope_in(scope, domain)
        if virtual_account is not None:
            sc.require_read(virtual_account)
        elif not sc.sees_all:
            raise Forbidden(f"{sc.noun} may report on its virtual accounts only")
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            va = self.virtual_account(s, sa, virtual_account) if virtual_account else None
            report = archive(
                s, self.record, sa, va, kind, self.now(), scope.label(), parameters or {}
            )
            return _out(report, domain, with_rows=True)

    def list_reports(
        self,
        domain: str,
        *,
        kind: ReportKind | None = None,
        virtual_account: str | None = None,
        limit: int = 100,
        offset: int = 0,
        scope: Principal,
    ) -> tuple[list[ReportOut], int]:
        """Newest first; ``virtual_account`` keeps only that virtual account's reports; a
        caller limited to some virtual accounts sees only theirs."""
        sc = scope_in(scope, domain)
        check_page(limit, offset, 1000)
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            q = select(Report).where(Report.smart_account_id == sa.id)
            if not sc.sees_all:
                q = q.where(sc.where(Report.virtual_account))
            if kind is not None:
                q = q.where(Report.kind == ReportKind(kind).value)
            if virtual_account is not None:
                q = q.where(Report.virtual_account == virtual_account)
            total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
            q = q.order_by(Report.generated_at.desc(), Report.id).limit(limit).offset(offset)
            return [_out(r, domain, with_rows=False) for r in s.scalars(q)], total

    def get_report(self, domain: str, report_id: str, *, scope: Principal) -> ReportOut:
        sc = scope_in(scope, domain)
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            r = s.get(Report, report_id[:36])
            if r is None or r.smart_account_id != sa.id:
                raise NotFound(f"no report {report_id!r} in {domain!r}")
            if not sc.sees_all:
                sc.require_visible(r.virtual_account or "", f"report {report_id!r}")
            return _out(r, domain, with_rows=True)

    @staticmethod
    def load(s: Session, report_id: str) -> ReportOut | None:
        """A report by id in the caller's transaction (the mailer attaches it)."""
        r = s.get(Report, report_id[:36])
        sa = s.get(SmartAccount, r.smart_account_id) if r else None
        return _out(r, sa.domain, with_rows=True) if r and sa else None

    # ------------------------------------------------------------ documents

    @staticmethod
    def csv_text(report: ReportOut) -> str:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        w.writerows(report.rows)
        return buf.getvalue()

    @staticmethod
    def pdf_bytes(report: ReportOut) -> bytes:
        pdf = FPDF(orientation="landscape")
        pdf.set_creation_date(report.generated_at)
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 14)
        pdf.cell(0, 10, _title(report), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=9)
        pdf.cell(0, 6, _subtitle(report), new_x="LMARGIN", new_y="NEXT")
        with pdf.table(text_align="LEFT") as table:
            table.row(list(COLUMNS))
            for r in report.rows:
                table.row([_latin1(str(r.get(c, ""))) for c in COLUMNS])
        return bytes(pdf.output())

    # ------------------------------------------------------------ schedules

    def add_schedule(
        self,
        domain: str,
        frequency: Frequency,
        time_of_day: str,
        *,
        scope: Principal,
        virtual_account: str | None = None,
    ) -> ScheduleOut:
        scope_in(scope, domain).require_manage()
        frequency = Frequency(frequency)
        now = self.now()
        first = next_run(frequency, time_of_day, after=now)
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            if virtual_account is not None:
                self.virtual_account(s, sa, virtual_account)
            row = ReportSchedule(
                smart_account_id=sa.id,
                virtual_account=virtual_account,
                frequency=frequency.value,
                time_of_day=time_of_day,
                next_run_at=first,
                created_at=now,
            )
            s.add(row)
            s.flush()
            self.record(
                s,
                "report.schedule.created",
                actor=scope.label(),
                smart_account=sa,
                virtual_account=virtual_account,
                subject=row.id,
                frequency=frequency.value,
                time_of_day=time_of_day,
            )
            return _schedule_out(row, domain)

    def list_schedules(self, domain: str, *, scope: Principal) -> list[ScheduleOut]:
        scope_in(scope, domain).require_manage()
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            q = select(ReportSchedule).where(ReportSchedule.smart_account_id == sa.id)
            return [_schedule_out(r, domain) for r in s.scalars(q.order_by(ReportSchedule.id))]

    def run_schedules(self) -> str:
        """Generate the Periodic Records that are due (the job "reports.periodic"). Runs
        missed while the authority was down are coalesced into one record: a record is the
        inventory *now*, so back-dated copies would all say the same thing."""
        now, done = self.now(), 0
        with self.transaction() as s:
            due = [
                (r.id, _domain(s, r), r.virtual_account)
                for r in s.scalars(
                    select(ReportSchedule).where(ReportSchedule.next_run_at <= now).limit(1000)
                )
            ]
        for sched_id, domain, va in due:
            with self.transaction() as s:
                row = s.get(ReportSchedule, sched_id)
                if row is None or row.next_run_at > now:
                    continue
                params = {"schedule": row.id, "frequency": row.frequency, "at": row.time_of_day}
                row.next_run_at = next_run(Frequency(row.frequency), row.time_of_day, after=now)
            self.generate(
                domain,
                kind=ReportKind.PERIODIC,
                scope=PERIODIC,
                virtual_account=va,
                parameters=params,
            )
            done += 1
        return f"{done} periodic record(s)"

    # ------------------------------------------------------------ internals


def _domain(s: Session, r: ReportSchedule) -> str:
    sa = s.get(SmartAccount, r.smart_account_id)
    assert sa is not None
    return sa.domain


def _out(r: Report, domain: str, *, with_rows: bool) -> ReportOut:
    return ReportOut(
        id=r.id,
        smart_account=domain,
        virtual_account=r.virtual_account,
        kind=ReportKind(r.kind),
        generated_at=r.generated_at,
        generated_by=r.generated_by,
        parameters=dict(r.parameters or {}),
        shortfalls=r.shortfalls,
        rows=list(r.rows or []) if with_rows else [],
    )


def _schedule_out(r: ReportSchedule, domain: str) -> ScheduleOut:
    return ScheduleOut(
        id=r.id,
        smart_account=domain,
        virtual_account=r.virtual_account,
        frequency=Frequency(r.frequency),
        time_of_day=r.time_of_day,
        next_run_at=r.next_run_at,
    )


_TITLES = {
    ReportKind.MANUAL: "Manual Record",
    ReportKind.PERIODIC: "Periodic Record",
    ReportKind.COMPLIANCE_WARNING: "Compliance Warning Report",
}


def _title(r: ReportOut) -> str:
    where = r.smart_account + (f" / {r.virtual_account}" if r.virtual_account else "")
    return _latin1(f"{_TITLES[r.kind]}: {where}")


def _subtitle(r: ReportOut) -> str:
    return _latin1(
        f"Generated {r.generated_at.isoformat()} by {r.generated_by}; "
        f"{len(r.rows)} pool(s), {r.shortfalls} short; report {r.id}"
    )


def _latin1(text: str) -> str:
    """The PDF core fonts are Latin-1; anything else is replaced, never an error."""
    return text.encode("latin-1", "replace").decode("latin-1")
