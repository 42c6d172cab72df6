"""Report vocabulary and Periodic Record schedules (pure).

The first document's three report forms: a **Periodic Record** (on a schedule, the inventory at
that point in time), a **Manual Record** (on demand) and a **Compliance Warning Report**
(raised by a compliance event, only the shortfalls).

Usage::

    next_run(Frequency.WEEKLY, "06:30", after=datetime(2026, 1, 1, tzinfo=UTC))
    # 2026-01-05 06:30 UTC: weekly runs fall on Mondays, monthly ones on the 1st
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum

from smartlic.errors import InvalidInput

__all__ = ["Frequency", "ReportKind", "next_run", "parse_time_of_day"]


class ReportKind(StrEnum):
    MANUAL = "manual"
    PERIODIC = "periodic"
    COMPLIANCE_WARNING = "compliance-warning"


class Frequency(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"  # Mondays
    MONTHLY = "monthly"  # the 1st


_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_time_of_day(text: str) -> time:
    """``HH:MM`` (UTC), else InvalidInput."""
    m = _HHMM.match(text)
    if m is None:
        raise InvalidInput("time of day must be HH:MM (00:00-23:59, UTC)", pointer="/time_of_day")
    return time(int(m.group(1)), int(m.group(2)), tzinfo=UTC)


def next_run(frequency: Frequency, time_of_day: str, *, after: datetime) -> datetime:
    """The first scheduled moment strictly after ``after``."""
    at = parse_time_of_day(time_of_day)
    day = after.astimezone(UTC).date()
    while True:
        candidate = datetime.combine(day, at)
        if candidate > after and _on_day(frequency, candidate):
            return candidate
        day += timedelta(days=1)


def _on_day(frequency: Frequency, when: datetime) -> bool:
    if frequency is Frequency.WEEKLY:
        return when.weekday() == 0
    if frequency is Frequency.MONTHLY:
        return when.day == 1
    return True
