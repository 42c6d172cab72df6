"""Policy mode, derived (pure): the policy in force, the license groups in use, the next ACK
deadline, the report push schedule, and what each license may do.

Rules:

* Every license is usable from day 0 ("All licenses on your devices are unenforced"), except
  enforced and export-controlled ones, which need an installed authorization code covering the
  count in use (second reference document, "License Enforcement Types").
* Next ACK deadline: ``domain.policy.next_ack_deadline`` over the groups of the licenses in use
  and of the reports not yet acknowledged; none when the policy needs no ACK, and none for a
  device that never used a license ("reporting is not required", domain-notes 2.2). The first
  use itself is not a "change": the first-report requirement covers it.
* Push interval (``license smart usage interval``, default 30 days) is clamped to the smallest
  non-zero requirement of the policy for the groups in use (domain-notes 2.3 [INF]); ``Next
  report push`` = last push (or first use) + that interval, and at once while reports wait for
  an ACK past half the interval.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from smartlic.agent._policy_state import ACK, PolicyState
from smartlic.domain.enums import Enforcement
from smartlic.domain.policy import CISCO_DEFAULT, LicenseGroup, Policy, group_of, next_ack_deadline
from smartlic.domain.products import LicenseSpec

__all__ = [
    "IN_USE",
    "NOT_AUTHORIZED",
    "NOT_IN_USE",
    "PolicyView",
    "authorized_counts",
    "current_policy",
    "derive_policy",
    "needs_code",
]

IN_USE, NOT_IN_USE, NOT_AUTHORIZED = "IN USE", "NOT IN USE", "NOT AUTHORIZED"


@dataclass(frozen=True)
class PolicyView:
    policy: Policy
    statuses: dict[str, str]
    deadline: datetime | None
    push_interval_days: int
    next_push: datetime | None
    overdue: bool

    def permitted(self) -> dict[str, bool]:
        return {tag: s == IN_USE for tag, s in self.statuses.items()}


def current_policy(ps: PolicyState) -> Policy:
    if ps.policy_json is None:
        return CISCO_DEFAULT
    return _parsed(ps.policy_json, ps.policy_installed_at)


@functools.lru_cache(maxsize=8)
def _parsed(text: str, installed_at: datetime | None) -> Policy:
    # Cached: the view is derived at every check-out, the policy changes once in months.
    policy = Policy.from_json(json.loads(text))
    return policy.installed(installed_at) if installed_at else policy


def needs_code(spec: LicenseSpec | None) -> bool:
    return spec is not None and spec.enforcement is not Enforcement.UNENFORCED


def authorized_counts(ps: PolicyState) -> dict[str, int]:
    out: dict[str, int] = {}
    for code in ps.authorizations:
        for tag, n in code.entitlements.items():
            out[tag] = out.get(tag, 0) + n
    return out


def group_for(spec: LicenseSpec | None) -> LicenseGroup:
    if spec is None:
        return LicenseGroup.UNENFORCED_PERPETUAL
    return group_of(spec.enforcement, subscription=spec.subscription)


def derive_policy(
    ps: PolicyState,
    usage: Mapping[str, int],
    catalogue: Mapping[str, LicenseSpec],
    now: datetime,
) -> PolicyView:
    policy = current_policy(ps)
    allowed = authorized_counts(ps)
    statuses = {
        tag: _status(catalogue.get(tag), n, allowed.get(tag, 0)) for tag, n in usage.items() if n
    }
    groups = _groups(ps, usage, catalogue)
    deadline = (
        next_ack_deadline(
            policy, groups, first_use=ps.first_use, last_ack=ps.last_ack, changed_at=ps.changed_at
        )
        if policy.ack_required
        else None
    )
    changed = bool(ps.changed_at and (ps.last_ack is None or ps.changed_at > ps.last_ack))
    interval = push_interval(
        policy, groups, ps.push_interval_days, acked=ps.last_ack is not None, changed=changed
    )
    next_push = _next_push(ps, interval, now)
    return PolicyView(
        policy, statuses, deadline, interval, next_push, bool(deadline and now > deadline)
    )


def _status(spec: LicenseSpec | None, count: int, allowed: int) -> str:
    if needs_code(spec) and count > allowed:
        return NOT_AUTHORIZED
    return IN_USE


def _groups(
    ps: PolicyState, usage: Mapping[str, int], catalogue: Mapping[str, LicenseSpec]
) -> set[LicenseGroup]:
    tags = {t for t, n in usage.items() if n} | {r.tag for r in ps.reports if r.state != ACK}
    return {group_for(catalogue.get(t)) for t in tags}


def push_interval(
    policy: Policy,
    groups: Iterable[LicenseGroup],
    configured: int,
    *,
    acked: bool = False,
    changed: bool = False,
) -> int:
    """The configured interval, clamped to the requirement in force: the first report before
    any ACK, the reporting frequency after, report on change after a change. 0 ("no
    reporting") when the licenses in use need no report, e.g. perpetual licenses after their
    first ACK under the Cisco default (domain-notes 2.2, S1 golden_output_4)."""
    days: list[int] = []
    for g in groups:
        attrs = policy.attributes(g)
        days.append(attrs.reporting_frequency_days if acked else attrs.first_report_days)
        if changed:
            days.append(attrs.report_on_change_days)
    required = [d for d in days if d]
    if days and not required:
        return 0  # licenses in use, none of them needs a report
    return min([configured, *required])


def _next_push(ps: PolicyState, interval: int, now: datetime) -> datetime | None:
    if ps.first_use is None or interval <= 0:
        return None
    base = ps.last_report_push or ps.first_use
    due = base + timedelta(days=interval)
    waiting = any(r.state == "CLOSED" for r in ps.reports)
    if waiting and ps.last_report_push and now - ps.last_report_push > timedelta(days=interval) / 2:
        return min(due, now)
    return due
