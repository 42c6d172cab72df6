"""The authority's state figures for ``/metrics``: devices per status, usage reports received,
device requests refused. Read from the database, so every authority process answers the same,
and cached for ``ttl_s`` so a scraper polling often costs the database at most one round of
queries per interval.

Usage::

    figures = StateFigures(engine, clock)
    install_metrics(app, server="authority", probe=figures.samples)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from smartlic.storage.models import Event, ProductInstance, RumReportRow
from smartlic.web.metrics import Sample

__all__ = ["StateFigures"]


class StateFigures:
    def __init__(self, engine: Engine, ttl_s: float = 10.0) -> None:
        self.engine = engine
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._cached: tuple[float, Sequence[Sample]] | None = None

    def samples(self) -> Sequence[Sample]:
        with self._lock:
            if self._cached is None or time.monotonic() - self._cached[0] > self.ttl_s:
                self._cached = (time.monotonic(), self._read())
            return self._cached[1]

    def _read(self) -> list[Sample]:
        with Session(self.engine) as s:
            by_status = s.execute(
                select(ProductInstance.status, func.count()).group_by(ProductInstance.status)
            ).all()
            reports = s.scalar(select(func.count()).select_from(RumReportRow)) or 0
            refused = s.execute(
                select(Event.name, func.count())
                .where(Event.name.like("%.refused"))
                .group_by(Event.name)
            ).all()
        return [
            *(
                Sample("product_instances", "Product instances by status", n,
                       {"status": str(getattr(status, "value", status))})
                for status, n in by_status
            ),
            Sample("usage_reports_received", "Usage (RUM) reports stored", reports),
            *(
                Sample("device_requests_refused", "Refused device requests and reports, by kind",
                       n, {"event": name})
                for name, n in refused
            ),
        ]  # fmt: skip
