"""One injectable clock for every component.

Every piece of smartlic that needs "now" takes a ``Clock``. Three implementations:

* ``SystemClock`` - real time (UTC).
* ``ManualClock`` - tests and demos; moves only when told (``advance(days=90)``).
* ``LabClock`` - lab mode: real time plus an offset kept in a small JSON file that several
  processes (authority, collector, devices) share, so a person can move all of them forward
  together with ``smartlic lab advance 30d`` and watch 30-, 90- and 365-day behaviour in seconds.

Usage::

    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    clock.advance(days=31)
    clock.now()  # 2026-02-01 00:00:00+00:00
"""

from __future__ import annotations

import json
import os
import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol, runtime_checkable

__all__ = [
    "MAX_DURATION",
    "Clock",
    "LabClock",
    "ManualClock",
    "SystemClock",
    "clock_from_env",
    "parse_duration",
]

LAB_CLOCK_ENV = "SMARTLIC_LAB_CLOCK"


@runtime_checkable
class Clock(Protocol):
    """Anything that can tell the current time as an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """Real wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"


class ManualClock:
    """A clock that only moves when told to; thread-safe."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2026, 1, 1, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        """Move forward by ``delta`` or by ``timedelta(**kwargs)``; returns the new now."""
        step = delta if delta is not None else timedelta(**kwargs)
        if step < timedelta(0):
            raise ValueError("a clock does not move backwards")
        with self._lock:
            self._now += step
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when.astimezone(UTC)

    def __repr__(self) -> str:
        return f"ManualClock({self._now.isoformat()})"


class LabClock:
    """Real time plus a shared offset read from a JSON file (``{"offset_seconds": N}``).

    The file is re-read when its modification time changes, so moving the lab clock in one
    process is seen by every other process on its next ``now()``.
    """

    def __init__(self, path: Path | str, base: Clock | None = None) -> None:
        self.path = Path(path)
        self._base = base or SystemClock()
        self._mtime_ns = -1
        self._offset = 0.0
        self._lock = threading.Lock()

    def offset(self) -> timedelta:
        with self._lock:
            try:
                mtime = self.path.stat().st_mtime_ns
            except FileNotFoundError:
                self._mtime_ns, self._offset = -1, 0.0
                return timedelta(0)
            if mtime != self._mtime_ns:
                data = json.loads(self.path.read_text() or "{}")
                self._offset = float(data.get("offset_seconds", 0))
                self._mtime_ns = mtime
            return timedelta(seconds=self._offset)

    def now(self) -> datetime:
        return self._base.now() + self.offset()

    def advance(self, delta: timedelta) -> datetime:
        """Move every process sharing this file forward by ``delta`` (atomic write)."""
        if delta < timedelta(0):
            raise ValueError("a clock does not move backwards")
        new = self.offset() + delta
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"offset_seconds": new.total_seconds()}))
        os.replace(tmp, self.path)
        return self.now()

    def reset(self) -> None:
        self.path.unlink(missing_ok=True)

    def __repr__(self) -> str:
        return f"LabClock({str(self.path)!r})"


def clock_from_env() -> Clock:
    """``LabClock`` when ``SMARTLIC_LAB_CLOCK`` names a file, else ``SystemClock``."""
    path = os.environ.get(LAB_CLOCK_ENV)
    return LabClock(path) if path else SystemClock()


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.ASCII)  # ASCII digits
_UNITS = {"": 86400.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


# A lab clock moves by days and years, not past the end of the calendar: "2**64" days made
# timedelta raise OverflowError (the device shell's command and `lab advance` crashed).
MAX_DURATION = timedelta(days=36525)


def parse_duration(text: str) -> timedelta:
    """``"90d"``, ``"12h"``, ``"30m"``, ``"45s"``, ``"2w"``; a bare number means days; at
    most ``MAX_DURATION`` (100 years)."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30d, 12h, 15m)")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]  # inf for 400 digits: refused
    if not seconds <= MAX_DURATION.total_seconds():
        raise ValueError(f"a duration is at most {MAX_DURATION.days} days, not {text[:40]!r}")
    return timedelta(seconds=seconds)
