"""Classic Smart Licensing timers and the retry backoff (pure: no clock reads, no I/O).

Defaults are those of real devices (domain-notes 1.3): 90 days of evaluation counted only while
licenses are in use; an identity certificate valid 365 days and renewed at +180 days; an
authorization renewed every 30 days, expiring 90 days after the last successful communication,
followed by a 90-day grace period. The authority's signed timestamps (``renew_after``,
``certificate_expires``, ``next_communication``, ``deadline``) always win: the durations here
are fallbacks for a response that omits one (``id_validity`` is informational: the identity
certificate's own validity wins), plus the parts only the device decides (evaluation, grace,
retries).

The retry intervals are not documented by the vendor (domain-notes 1.3 [GAP]); we use 15
minutes doubling up to a daily ceiling, which matches the "Daily" scheduled job of real agents.

Usage::

    timers = Timers(evaluation=timedelta(days=30))
    timers.backoff(failures=3)   # timedelta(hours=1)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

__all__ = ["Timers"]

_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Timers:
    """Durations of the classic state machine; every one is configurable for labs and tests."""

    evaluation: timedelta = 90 * _DAY
    id_validity: timedelta = 365 * _DAY
    id_renewal: timedelta = 180 * _DAY
    authorization_renewal: timedelta = 30 * _DAY
    communication_deadline: timedelta = 90 * _DAY
    grace: timedelta = 90 * _DAY
    retry_initial: timedelta = timedelta(minutes=15)
    retry_max: timedelta = timedelta(hours=24)
    retry_factor: float = 2.0

    def __post_init__(self) -> None:
        for name in ("evaluation", "grace", "retry_initial", "retry_max"):
            if getattr(self, name) < timedelta(0):
                raise ValueError(f"Timers.{name} cannot be negative")
        if self.retry_factor < 1.0:
            raise ValueError("Timers.retry_factor must be at least 1")

    def backoff(self, failures: int) -> timedelta:
        """Delay before the next attempt after ``failures`` consecutive failures (>= 1)."""
        exponent = max(failures, 1) - 1
        # Cap in floats first: 2.0 ** 10_000 overflows, and so does a huge timedelta.
        delay_s = self.retry_initial.total_seconds() * self.retry_factor ** min(exponent, 64)
        return timedelta(seconds=min(delay_s, self.retry_max.total_seconds()))
