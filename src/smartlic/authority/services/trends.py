"""Usage trends: one rollup a day of in use against purchased, per virtual account and license.

The job "usage.rollup" writes today's figures (rewriting them if it runs again the same day);
in use is the pool counters' count, which every authorization and RUM report moves, and
purchased is the holdings active at that moment (``scans.shortfall_query``'s rule).
``svg_chart`` draws a series as an SVG polyline on the server, so the portal needs no script
and works air-gapped.

Usage::

    trends = SqlTrendsService(engine, clock)
    trends.rollup()                                    # the job
    points = trends.series("acme.example", "Prod", days=30)
    svg = svg_chart(points, title="DNA Advantage")
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta
from html import escape
from typing import Any

from sqlalchemy import case, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from smartlic.authority.services._base import ServiceBase
from smartlic.authority.services._compliance import holding_active
from smartlic.authority.services.scope import Principal, scope_in
from smartlic.errors import InvalidInput
from smartlic.storage.models import Holding, License, PoolCounter, UsageRollup, VirtualAccount

__all__ = ["SqlTrendsService", "TrendPoint", "svg_chart", "trend_csv"]


@dataclass(frozen=True)
class TrendPoint:
    day: date
    virtual_account: str
    tag: str
    license: str
    in_use: int
    purchased: int


class SqlTrendsService(ServiceBase):
    def rollup(self) -> str:
        now = self.now()
        today = now.date()
        active = holding_active(Holding.starts_at, Holding.ends_at, now)
        bought = select(
            Holding.virtual_account_id,
            Holding.license_id,
            func.sum(case((active, Holding.quantity), else_=0)),
        ).group_by(Holding.virtual_account_id, Holding.license_id)
        used = select(PoolCounter.virtual_account_id, PoolCounter.license_id, PoolCounter.in_use)
        with self.transaction() as s:
            figures: dict[tuple[str, str], list[int]] = {}
            for va, lic, qty in s.execute(bought):
                figures[(va, lic)] = [0, int(qty or 0)]
            for va, lic, in_use in s.execute(used):
                figures.setdefault((va, lic), [0, 0])[0] = int(in_use)
            rows = [
                {"day": today, "virtual_account_id": va, "license_id": lic, "in_use": u,
                 "purchased": p}
                for (va, lic), (u, p) in sorted(figures.items())
            ]  # fmt: skip
            s.execute(delete(UsageRollup).where(UsageRollup.day == today))
            if rows:
                ins = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
                s.execute(ins(UsageRollup), rows)
        return f"{len(rows)} rollup(s) for {today.isoformat()}"

    def series(
        self,
        domain: str,
        virtual_account: str | None = None,
        *,
        days: int = 30,
        scope: Principal,
    ) -> list[TrendPoint]:
        """Oldest first per virtual account and license, of the virtual accounts the caller
        may read."""
        sc = scope_in(scope, domain)
        if virtual_account is not None:
            sc.require_read(virtual_account)
        if not 1 <= days <= 3660:
            raise InvalidInput("days must be 1-3660", pointer="/days")
        since = self.now().date() - timedelta(days=days - 1)
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            q: Any = (
                select(UsageRollup, VirtualAccount.name, License.tag, License.name)
                .join(VirtualAccount, VirtualAccount.id == UsageRollup.virtual_account_id)
                .join(License, License.id == UsageRollup.license_id)
                .where(VirtualAccount.smart_account_id == sa.id, UsageRollup.day >= since)
                .where(sc.where(VirtualAccount.name))
            )
            if virtual_account is not None:
                q = q.where(
                    VirtualAccount.name == self.virtual_account(s, sa, virtual_account).name
                )
            q = q.order_by(VirtualAccount.name, License.name, UsageRollup.day)
            return [
                TrendPoint(r.day, va, tag, name, r.in_use, r.purchased)
                for r, va, tag, name in s.execute(q)
            ]


def trend_csv(points: list[TrendPoint]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["day", "virtual_account", "tag", "license", "in_use", "purchased"])
    for p in points:
        w.writerow([p.day.isoformat(), p.virtual_account, p.tag, p.license, p.in_use, p.purchased])
    return buf.getvalue()


def svg_chart(points: list[TrendPoint], *, title: str, width: int = 600, height: int = 200) -> str:
    """In use (solid) and purchased (dashed) over the days of ``points`` (one license)."""
    pad = 30
    if not points:
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'role="img"><title>{escape(title)}</title><text x="{pad}" y="{height // 2}">'
            "no data yet</text></svg>"
        )
    first = points[0].day
    span = max(1, (points[-1].day - first).days)
    top = max(1, *(max(p.in_use, p.purchased) for p in points))

    def xy(p: TrendPoint, v: int) -> str:
        x = pad + (width - 2 * pad) * (p.day - first).days / span
        y = height - pad - (height - 2 * pad) * v / top
        return f"{x:.1f},{y:.1f}"

    used = " ".join(xy(p, p.in_use) for p in points)
    bought = " ".join(xy(p, p.purchased) for p in points)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'class="trend"><title>{escape(title)}</title>'
        f'<text x="{pad}" y="16">{escape(title)} (max {top})</text>'
        f'<polyline fill="none" stroke="currentColor" stroke-width="2" points="{used}"/>'
        f'<polyline fill="none" stroke="gray" stroke-dasharray="4 3" points="{bought}"/>'
        f'<text x="{pad}" y="{height - 8}">{first.isoformat()}</text>'
        f'<text x="{width - pad}" y="{height - 8}" text-anchor="end">'
        f"{points[-1].day.isoformat()}</text></svg>"
    )
