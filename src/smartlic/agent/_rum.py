"""RUM reports on the device: sampling, opening, closing, acknowledging, purging (pure).

Lifecycle (domain-notes 2.6, 3.3): a license in use has one OPEN report collecting
measurements; closing it (to send it, save it to a file, or hand it to a collector) signs the
payload with the trust key and freezes it - CLOSED reports are immutable - and, while the
license is still in use, opens the next report, chained by ``previous_id``/``next_id``. An ACK
moves a CLOSED report to ACK and drops its stored envelope ("Storage State: DELETED"); ACKed
reports are purged from the list after ``purge_after``.

Sampling: usage is sampled every ``sample_interval`` (15 minutes on real devices, "Interval:
00:15:00" in ``show license tech support``). Equal consecutive samples extend one measurement;
a different count starts a new one. Changes between two samples are seen at the next sample -
exactly what a 15-minute sampler sees - except the first use of a license, which opens its
report at once (the first-report clock starts there).

Report ids are epoch seconds, strictly increasing even within one second (``next_report_id``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from smartlic.agent._policy_state import (
    ACK,
    CLOSED,
    OPEN,
    MeasurementRecord,
    PolicyState,
    RumRecord,
)
from smartlic.crypto import Udi
from smartlic.formats.envelope import compact_json
from smartlic.formats.rum import Measurement, RumReport, sign_report

__all__ = [
    "acknowledge",
    "close_reports",
    "has_full",
    "next_report_id",
    "purge",
    "record_usage",
    "roll_full",
    "unacknowledged",
]

# The most measurements one OPEN report collects (the authority takes at most 10 000 per
# report). A license whose count changes at every 15-minute sample reaches it in 52 days.
MAX_OPEN_MEASUREMENTS = 5000
LIMIT_REASON = "MEASUREMENT LIMIT"


def next_report_id(ps: PolicyState, now: datetime) -> int:
    ps.last_report_id = max(int(now.timestamp()), ps.last_report_id + 1)
    return ps.last_report_id


def _open_for(ps: PolicyState) -> dict[str, RumRecord]:
    return {r.tag: r for r in ps.reports if r.state == OPEN}


def _last_of(ps: PolicyState, tag: str) -> RumRecord | None:
    return next((r for r in reversed(ps.reports) if r.tag == tag), None)


def _open(ps: PolicyState, tag: str, value: int, now: datetime) -> RumRecord:
    report = RumRecord(next_report_id(ps, now), tag, OPEN, now)
    prev = _last_of(ps, tag)
    if prev is not None:
        report.previous_id, prev.next_id = prev.report_id, report.report_id
    at = int(now.timestamp())
    report.measurements.append(MeasurementRecord(at, at, value))
    ps.reports.append(report)
    return report


def record_usage(
    ps: PolicyState, usage: Mapping[str, int], now: datetime, interval: timedelta
) -> list[str]:
    """Open reports for licenses used for the first time; take a sample when one is due.
    Returns the tags whose count changed (at a sample)."""
    open_ = _open_for(ps)
    for tag, count in usage.items():
        if count and tag not in open_:
            if ps.first_use is None:
                ps.first_use = now
            open_[tag] = _open(ps, tag, count, now)
    due = ps.last_sample_at is None or now - ps.last_sample_at >= interval
    return _sample(ps, open_, usage, now) if due else []


def _sample(
    ps: PolicyState, open_: Mapping[str, RumRecord], usage: Mapping[str, int], now: datetime
) -> list[str]:
    ps.last_sample_at = now
    at, changed = int(now.timestamp()), []
    for tag, report in open_.items():
        value, last = usage.get(tag, 0), report.measurements[-1]
        if value == last.value:
            last.end, last.num_samples = max(at, last.end), last.num_samples + 1
        else:
            last.end = max(at, last.end)
            report.measurements.append(MeasurementRecord(at, at, value))
            changed.append(tag)
    return changed


def close_reports(
    ps: PolicyState,
    tags: Iterable[str] | None,
    usage: Mapping[str, int],
    sign: tuple[Udi, str, str, Ed25519PrivateKey],
    now: datetime,
    reason: str = "REPORTING",
) -> list[RumRecord]:
    """Sample now, then close the OPEN reports (of ``tags``; all when None); reopen those
    still in use. ``sign`` is (udi, software tag, hostname, trust key)."""
    open_ = _open_for(ps)
    _sample(ps, open_, usage, now)
    wanted = set(open_) if tags is None else set(tags) & set(open_)
    closed = []
    for tag in sorted(wanted):
        closed.append(_close(open_[tag], sign, now, reason))
        if usage.get(tag, 0):
            _open(ps, tag, usage[tag], now)
    return closed


def roll_full(
    ps: PolicyState,
    usage: Mapping[str, int],
    sign: tuple[Udi, str, str, Ed25519PrivateKey],
    now: datetime,
    limit: int = MAX_OPEN_MEASUREMENTS,
) -> list[RumRecord]:
    """Close every OPEN report holding ``limit`` measurements and open its successor.

    At the limit nothing is dropped or merged: the full report is closed exactly as a save or
    ``close-reports`` closes one - signed and immutable from then on ("RUM reports, once
    closed, are immutable", domain-notes 2.1 citing S8; "closed on reload/close-reports/save",
    7.4) - and waits to be sent with the others; while the license is in use the next report
    opens at once, chained by ``previous_id``, with the current count as its first measurement.
    No new sample is taken, so no sample is counted twice.
    """
    rolled = []
    for tag, report in sorted(_open_for(ps).items()):
        if len(report.measurements) >= limit:
            rolled.append(_close(report, sign, now, LIMIT_REASON))
            if usage.get(tag, 0):
                _open(ps, tag, usage[tag], now)
    return rolled


def has_full(ps: PolicyState, limit: int = MAX_OPEN_MEASUREMENTS) -> bool:
    return any(r.state == OPEN and len(r.measurements) >= limit for r in ps.reports)


def _close(
    report: RumRecord, sign: tuple[Udi, str, str, Ed25519PrivateKey], now: datetime, reason: str
) -> RumRecord:
    udi, software_tag, hostname, key = sign
    rum = RumReport(
        report.report_id,
        udi,
        software_tag,
        report.tag,
        [
            Measurement(m.start, m.end, m.value, num_samples=m.num_samples)
            for m in report.measurements
        ],
        hostname=hostname,
    )
    report.envelope = compact_json(sign_report(rum, key))
    report.state, report.closed_at, report.reason = CLOSED, now, reason
    return report


def unacknowledged(ps: PolicyState) -> list[RumRecord]:
    return [r for r in ps.reports if r.state == CLOSED]


def acknowledge(ps: PolicyState, ids: Iterable[int], now: datetime) -> int:
    """Mark CLOSED reports ACK; returns how many changed (unknown ids are ignored)."""
    wanted, n = set(ids), 0
    for r in ps.reports:
        if r.report_id in wanted and r.state == CLOSED:
            r.state, r.acked_at, r.reason, r.envelope = ACK, now, "ACKED", None
            n += 1
    return n


def purge(ps: PolicyState, now: datetime, keep: timedelta) -> None:
    """Forget ACKed reports acknowledged more than ``keep`` ago (counted as purged)."""
    kept = [
        r for r in ps.reports if not (r.state == ACK and r.acked_at and now - r.acked_at > keep)
    ]
    ps.purged += len(ps.reports) - len(kept)
    ps.reports = kept
