"""Product instance status as the authority shows it, computed from stored facts (pure).

The status is never a string written once: the authority gathers the facts it holds (contact
times, the policy in force, reports received, authorization codes outstanding, pool counters)
and calls one of these functions at read time, so a status moves with the clock and with every
report, code or transfer without a job to keep it fresh.

Classic instances (an identity certificate, domain-notes 1.2/7.2): the answer of the last
authorization, unless the instance has not contacted the authority for 90 days - then
"Authorization Expired".

Policy mode (Smart Licensing Using Policy, second reference document) has no registration and
no authorization renewal, so the 90-day rule does not apply; instead, in order:

1. An enforced or export-controlled license in use beyond what the instance's authorization
   codes cover ("Licenses that belong to this enforcement type require authorization before
   use ... an authorization code, which must be installed in the corresponding product
   instance", "License Enforcement Types").
2. Reporting overdue: the next report was due by ``domain.policy.next_ack_deadline`` over the
   license groups in use, from the first use (first report requirement) or from the last report
   the authority received and acknowledged (reporting frequency); none when the policy needs no
   ACK or the instance never used a license ("reporting is not required", domain-notes 2.2).
3. A license in use from a virtual account pool that does not cover its usage.

Any of these makes the instance "Out of Compliance"; each gives one alert with a stable code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from smartlic.domain.enums import Enforcement, InstanceStatus
from smartlic.domain.policy import Policy, group_of, next_ack_deadline

__all__ = [
    "CLASSIC_DEADLINE",
    "Alert",
    "ClassicFacts",
    "InstanceVerdict",
    "LicenseUse",
    "PolicyFacts",
    "classic_status",
    "policy_status",
]

# "this product instance has not communicated with the SSM or satellite in over 90 days"
# (domain-notes 1.1, auth-state-authorization-expired)
CLASSIC_DEADLINE = timedelta(days=90)

OUT_OF_COMPLIANCE_TEXT = "Licenses are Out of Compliance"


@dataclass(frozen=True, slots=True)
class Alert:
    code: str  # authorization-expired | authorization-required | reporting-overdue | pool-short
    text: str


@dataclass(frozen=True, slots=True)
class InstanceVerdict:
    status: InstanceStatus
    alerts: tuple[Alert, ...] = ()
    report_due: datetime | None = None  # policy mode: when the next report is due

    @property
    def alert_texts(self) -> list[str]:
        return [a.text for a in self.alerts]


@dataclass(frozen=True, slots=True)
class ClassicFacts:
    registered_at: datetime
    last_contact_at: datetime | None
    answered: InstanceStatus  # the answer of the last authorization (or transfer)


@dataclass(frozen=True, slots=True)
class LicenseUse:
    """One license an instance uses. ``authorized``: what its outstanding authorization codes
    cover; ``pool_covers``: whether the virtual account's pool covers its in-use count now."""

    name: str
    enforcement: Enforcement
    count: int
    subscription: bool = False
    authorized: int = 0
    pool_covers: bool = True


@dataclass(frozen=True, slots=True)
class PolicyFacts:
    policy: Policy
    uses: tuple[LicenseUse, ...]
    first_use: datetime | None  # the earliest usage the authority knows of
    last_report_at: datetime | None  # the last reports received (and acknowledged)


def classic_status(f: ClassicFacts, now: datetime) -> InstanceVerdict:
    if now - (f.last_contact_at or f.registered_at) > CLASSIC_DEADLINE:
        text = "Failed to Connect: authorization expired"
        return InstanceVerdict(
            InstanceStatus.AUTHORIZATION_EXPIRED, (Alert("authorization-expired", text),)
        )
    if f.answered is InstanceStatus.OUT_OF_COMPLIANCE:
        return InstanceVerdict(f.answered, (Alert("pool-short", OUT_OF_COMPLIANCE_TEXT),))
    return InstanceVerdict(f.answered)


def policy_status(f: PolicyFacts, now: datetime) -> InstanceVerdict:
    uses = [u for u in f.uses if u.count > 0]
    due = report_due(f, uses)
    alerts = [*_unauthorized(uses)]
    if due is not None and now > due:
        text = f"Reporting overdue: a usage report was due by {due:%b %d %Y %H:%M:%S} UTC"
        alerts.append(Alert("reporting-overdue", text))
    if any(not u.pool_covers for u in uses):
        alerts.append(Alert("pool-short", OUT_OF_COMPLIANCE_TEXT))
    status = InstanceStatus.OUT_OF_COMPLIANCE if alerts else InstanceStatus.IN_COMPLIANCE
    return InstanceVerdict(status, tuple(alerts), due)


def report_due(f: PolicyFacts, uses: Iterable[LicenseUse]) -> datetime | None:
    """The policy's next ACK deadline as the authority sees it (``None``: nothing due)."""
    if not f.policy.ack_required:
        return None
    groups = [group_of(u.enforcement, subscription=u.subscription) for u in uses]
    return next_ack_deadline(f.policy, groups, first_use=f.first_use, last_ack=f.last_report_at)


def _unauthorized(uses: Iterable[LicenseUse]) -> list[Alert]:
    out = []
    for u in uses:
        if u.enforcement is not Enforcement.UNENFORCED and u.count > u.authorized:
            out.append(
                Alert(
                    "authorization-required",
                    f"{u.name} is {u.enforcement.value}: {u.count} in use without an "
                    f"authorization code (codes cover {u.authorized})",
                )
            )
    return out
