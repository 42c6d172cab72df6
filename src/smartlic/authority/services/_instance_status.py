"""The facts an instance's status is computed from, gathered from the database at read time;
the rules themselves live in ``smartlic.domain.instance_status`` (pure).

Policy-mode facts: the policy in force for the instance's virtual account, what it uses
(unenforced licenses from its newest reports, enforced and export-controlled ones from its newest
reports and its outstanding authorization codes), when the authority first and last heard of its
usage, and whether the pool covers each license now. A few indexed queries per instance; the
pages list at most ``MAX_PAGE`` instances.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smartlic.authority.services import _pool
from smartlic.authority.services._files import policy_for
from smartlic.domain.enums import Enforcement, EntitlementStatus, HoldingKind
from smartlic.domain.instance_status import (
    ClassicFacts,
    InstanceVerdict,
    LicenseUse,
    PolicyFacts,
    classic_status,
    policy_status,
)
from smartlic.storage.models import (
    AuthorizationCode,
    Holding,
    InstanceUsage,
    License,
    ProductInstance,
    RumReportRow,
    VirtualAccount,
)

__all__ = ["StatusView", "is_policy_mode", "status_of"]


@dataclass(frozen=True)
class StatusView:
    verdict: InstanceVerdict
    usage_status: dict[str, str]  # license id -> status to show for the usage line


def is_policy_mode(inst: ProductInstance) -> bool:
    """A classic instance holds an identity certificate and no trust code; anything else
    (trust code, reports only) runs Smart Licensing Using Policy."""
    return inst.trust_key_id is not None or inst.cert_fingerprint is None


def status_of(s: Session, inst: ProductInstance, now: datetime) -> StatusView:
    usage = {
        u.license_id: u
        for u in s.scalars(select(InstanceUsage).where(InstanceUsage.instance_id == inst.id))
    }
    if not is_policy_mode(inst):
        classic = ClassicFacts(inst.registered_at, inst.last_contact_at, inst.status)
        return StatusView(classic_status(classic, now), {lid: u.status for lid, u in usage.items()})
    va = s.get_one(VirtualAccount, inst.virtual_account_id)
    counts = {lid: u.count for lid, u in usage.items()}
    codes = _codes(s, inst)
    for lid, n in _enforced_reported(s, inst).items():
        counts[lid] = n
    for lid, (n, _) in codes.items():
        counts.setdefault(lid, n)  # authorized but not reported yet: assume it is used
    holdings = _pool.holdings_by_license(s, va.id, list(counts)) if counts else {}
    covered = _pool_covers(s, va.id, holdings, list(counts), now)
    uses = _uses(s, counts, codes, covered, holdings)
    facts = PolicyFacts(
        policy=policy_for(s, va),
        uses=uses,
        first_use=_first_use(s, inst, codes),
        last_report_at=inst.last_report_at,
    )
    shown = {
        lid: u.status if covered.get(lid, True) else EntitlementStatus.OUT_OF_COMPLIANCE.value
        for lid, u in usage.items()
    }
    return StatusView(policy_status(facts, now), shown)


def _codes(s: Session, inst: ProductInstance) -> dict[str, tuple[int, datetime]]:
    """License id -> (count covered, first issued) of the instance's outstanding codes."""
    rows = s.execute(
        select(
            AuthorizationCode.license_id,
            func.sum(AuthorizationCode.count),
            func.min(AuthorizationCode.issued_at),
        )
        .where(AuthorizationCode.instance_id == inst.id, AuthorizationCode.returned_at.is_(None))
        .group_by(AuthorizationCode.license_id)
    )
    return {lid: (int(n or 0), at) for lid, n, at in rows}


def _enforced_reported(s: Session, inst: ProductInstance) -> dict[str, int]:
    """Enforced and export-controlled licenses: the count of the newest report of each (the
    ingest counts them through their codes, not in ``instance_usage``)."""
    newest = (
        select(RumReportRow.license_id, func.max(RumReportRow.end_time).label("end"))
        .join(License, License.id == RumReportRow.license_id)
        .where(RumReportRow.instance_id == inst.id, License.enforcement != Enforcement.UNENFORCED)
        .group_by(RumReportRow.license_id)
        .subquery()
    )
    rows = s.execute(
        select(RumReportRow.license_id, func.max(RumReportRow.last_value))
        .join(
            newest,
            (newest.c.license_id == RumReportRow.license_id)
            & (newest.c.end == RumReportRow.end_time),
        )
        .where(RumReportRow.instance_id == inst.id)
        .group_by(RumReportRow.license_id)
    )
    return {lid: int(n or 0) for lid, n in rows if lid is not None}


def _first_use(
    s: Session, inst: ProductInstance, codes: dict[str, tuple[int, datetime]]
) -> datetime | None:
    """The earliest usage the authority learnt of: its first report, or its first code."""
    candidates = [at for _, at in codes.values()]
    first_report = s.scalar(
        select(func.min(RumReportRow.received_at)).where(RumReportRow.instance_id == inst.id)
    )
    if first_report is not None:
        candidates.append(first_report)
    return min(candidates, default=None)


def _pool_covers(
    s: Session,
    va_id: str,
    holdings: dict[str, list[Holding]],
    license_ids: list[str],
    now: datetime,
) -> dict[str, bool]:
    """Whether the pool covers what is in use and reserved of each license, now."""
    if not license_ids:
        return {}
    counts = _pool.read_counts(s, va_id, license_ids)
    return {
        lid: sum(counts[lid]) <= _pool.purchased_now(holdings.get(lid, []), now)
        for lid in license_ids
    }


def _uses(
    s: Session,
    counts: dict[str, int],
    codes: dict[str, tuple[int, datetime]],
    covered: dict[str, bool],
    holdings: dict[str, list[Holding]],
) -> tuple[LicenseUse, ...]:
    if not counts:
        return ()
    lics = {lic.id: lic for lic in s.scalars(select(License).where(License.id.in_(list(counts))))}
    return tuple(
        LicenseUse(
            name=lics[lid].name,
            enforcement=lics[lid].enforcement,
            count=n,
            subscription=_subscription(holdings.get(lid, [])),
            authorized=codes[lid][0] if lid in codes else 0,
            pool_covers=covered.get(lid, True),
        )
        for lid, n in sorted(counts.items())
        if lid in lics
    )


def _subscription(holdings: list[Holding]) -> bool:
    """A license the pool holds only as term (subscription) or demo quantities reports as a
    subscription ("License Duration"); perpetual as soon as one perpetual holding exists."""
    kinds = {h.kind for h in holdings}
    return bool(kinds) and HoldingKind.PERPETUAL not in kinds
