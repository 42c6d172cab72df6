"""Small IOS formatting helpers: dates, durations, columns. Pure and locale-independent.

IOS prints times as ``Dec 17 02:31:11 2015 UTC`` (first reference document, "Verify Smart
Licensing Configuration") and the evaluation period as
``89 days, 23 hours, 20 minutes, 20 seconds`` - always plural, never zero-padded (the same
document, and domain-notes 1.5: ``71 days, 22 hours, 1 minutes, 59 seconds``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["ios_clock", "ios_duration", "ios_time", "truncate"]

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def ios_time(when: datetime) -> str:
    """``Dec 17 02:31:11 2015 UTC`` (day zero-padded, as the license commands print it)."""
    t = when.astimezone(UTC)
    return f"{_MONTHS[t.month - 1]} {t.day:02d} {t:%H:%M:%S} {t.year} UTC"


def ios_clock(when: datetime) -> str:
    """``show clock``: ``02:31:11.123 UTC Thu Dec 17 2015`` (day not padded, as IOS prints it)."""
    t = when.astimezone(UTC)
    millis = t.microsecond // 1000
    weekday, month = _DAYS[t.weekday()], _MONTHS[t.month - 1]
    return f"{t:%H:%M:%S}.{millis:03d} UTC {weekday} {month} {t.day} {t.year}"


def ios_duration(span: timedelta) -> str:
    """``89 days, 23 hours, 20 minutes, 20 seconds``; negative spans print as zero."""
    total = max(0, int(span.total_seconds()))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{days} days, {hours} hours, {minutes} minutes, {seconds} seconds"


def truncate(text: str, width: int) -> str:
    """Cut ``text`` to ``width`` characters, the last three being ``...`` when cut.

    The summary table does this to long names: ``Device 6-1GE PORT L...``.
    """
    if len(text) <= width:
        return text
    return text[: width - 3] + "..."
