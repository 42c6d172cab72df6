"""The facts instance statuses are computed from, gathered from the database at read time;
the rules themselves live in ``smartlic.domain.instance_status`` (pure).

Policy-mode facts: the policy in force for the instance's virtual account, what it uses
(unenforced licenses from its newest reports, enforced and export-controlled ones from its newest
reports and its outstanding authorization codes), when the authority first and last heard of its
usage, and whether the pool covers each license now.

A page of instances is read with a fixed number of queries - one per kind of fact for all its
instances, plus the policy and the pool of each virtual account on it - never a few per
instance (a page of 200 would otherwise cost over a thousand round trips). The facts come back
as plain rows (``InstanceFacts`` of an instance, ``UsageFact``), not ORM objects: building,
tracking and discarding a few hundred of those was most of a page's CPU.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smartlic.authority.services import _pool
from smartlic.authority.services._files import policy_for
from smartlic.authority.services.interfaces import UsageOut
from smartlic.domain.enums import Enforcement, EntitlementStatus, HoldingKind, InstanceStatus
from smartlic.domain.instance_status import (
    ClassicFacts,
    InstanceVerdict,
    LicenseUse,
    PolicyFacts,
    classic_status,
    policy_status,
)
from smartlic.domain.policy import Policy as PolicyDoc
from smartlic.storage.models import (
    AuthorizationCode,
    Holding,
    InstanceUsage,
    License,
    RumReportRow,
    VirtualAccount,
)

__all__ = ["InstanceFacts", "StatusReader", "StatusView", "is_policy_mode"]

Codes = dict[str, tuple[int, datetime]]  # license id -> (count covered, first issued)


@dataclass(frozen=True)
class StatusView:
    verdict: InstanceVerdict
    usage: list[UsageOut]  # by tag, with the status to show for each line


class InstanceFacts(Protocol):
    """What the status rules read of an instance: a ``ProductInstance``, or a row selecting
    these columns of it (a page's listing, which loads no more than it shows)."""

    @property
    def id(self) -> str: ...
    @property
    def virtual_account_id(self) -> str: ...
    @property
    def registered_at(self) -> datetime: ...
    @property
    def last_contact_at(self) -> datetime | None: ...
    @property
    def status(self) -> InstanceStatus: ...
    @property
    def cert_fingerprint(self) -> str | None: ...
    @property
    def trust_key_id(self) -> str | None: ...
    @property
    def last_report_at(self) -> datetime | None: ...


class UsageFact(NamedTuple):
    """One ``instance_usage`` row, as the status rules and the usage lines read it."""

    instance_id: str
    license_id: str
    units: int  # the column ``count`` (a tuple's own method has that name)
    status: str


def is_policy_mode(inst: InstanceFacts) -> bool:
    """A classic instance holds an identity certificate and no trust code; anything else
    (trust code, reports only) runs Smart Licensing Using Policy."""
    return inst.trust_key_id is not None or inst.cert_fingerprint is None


@dataclass(frozen=True)
class _Pool:
    policy: PolicyDoc
    covers: dict[str, bool]  # license id -> the pool covers in use + reserved now
    subscription: dict[str, bool]  # license id -> held only as term/demo quantities


class StatusReader:
    """Statuses of a page of instances.

    Usage::

        views = StatusReader(session, now).views(instances)   # instance id -> StatusView
    """

    def __init__(self, s: Session, now: datetime) -> None:
        self.s, self.now = s, now

    def views(self, insts: Sequence[InstanceFacts]) -> dict[str, StatusView]:
        if not insts:
            return {}
        usage = self._usage([i.id for i in insts])
        policy = [i for i in insts if is_policy_mode(i)]
        ids = [i.id for i in policy]
        codes = self._codes(ids) if ids else {}
        reported = self._enforced_reported(ids) if ids else {}
        first = self._first_reports(ids) if ids else {}
        counts = {
            i.id: _counts(usage[i.id], codes.get(i.id, {}), reported.get(i.id, {})) for i in policy
        }
        pools = self._pools(policy, counts)
        lics = self._licenses({lid for c in counts.values() for lid in c} | _ids(usage))
        out = {}
        for inst in insts:
            if inst.id in counts:
                pool = pools[inst.virtual_account_id]
                facts = PolicyFacts(
                    policy=pool.policy,
                    uses=_uses(counts[inst.id], codes.get(inst.id, {}), pool, lics),
                    first_use=_first_use(codes.get(inst.id, {}), first.get(inst.id)),
                    last_report_at=inst.last_report_at,
                )
                verdict = policy_status(facts, self.now)
                shown = _lines(usage[inst.id], lics, pool.covers)
            else:
                classic = ClassicFacts(inst.registered_at, inst.last_contact_at, inst.status)
                verdict = classic_status(classic, self.now)
                shown = _lines(usage[inst.id], lics, {})
            out[inst.id] = StatusView(verdict, shown)
        return out

    # ------------------------------------------------------------ one query per kind of fact

    def _usage(self, ids: list[str]) -> dict[str, list[UsageFact]]:
        out: dict[str, list[UsageFact]] = {i: [] for i in ids}
        u = InstanceUsage
        q = select(u.instance_id, u.license_id, u.count, u.status).where(u.instance_id.in_(ids))
        for row in self.s.execute(q):
            out[row[0]].append(UsageFact._make(row))
        return out

    def _codes(self, ids: list[str]) -> dict[str, Codes]:
        rows = self.s.execute(
            select(
                AuthorizationCode.instance_id,
                AuthorizationCode.license_id,
                func.sum(AuthorizationCode.count),
                func.min(AuthorizationCode.issued_at),
            )
            .where(AuthorizationCode.instance_id.in_(ids), AuthorizationCode.returned_at.is_(None))
            .group_by(AuthorizationCode.instance_id, AuthorizationCode.license_id)
        )
        out: dict[str, Codes] = defaultdict(dict)
        for iid, lid, n, at in rows:
            out[iid][lid] = (int(n or 0), at)
        return out

    def _enforced_reported(self, ids: list[str]) -> dict[str, dict[str, int]]:
        """Enforced and export-controlled licenses: the count of the newest report of each (the
        ingest counts them through their codes, not in ``instance_usage``)."""
        r = RumReportRow
        newest = (
            select(r.instance_id, r.license_id, func.max(r.end_time).label("end"))
            .join(License, License.id == r.license_id)
            .where(r.instance_id.in_(ids), License.enforcement != Enforcement.UNENFORCED)
            .group_by(r.instance_id, r.license_id)
            .subquery()
        )
        rows = self.s.execute(
            select(r.instance_id, r.license_id, func.max(r.last_value))
            .join(
                newest,
                (newest.c.instance_id == r.instance_id)
                & (newest.c.license_id == r.license_id)
                & (newest.c.end == r.end_time),
            )
            .group_by(r.instance_id, r.license_id)
        )
        out: dict[str, dict[str, int]] = defaultdict(dict)
        for iid, lid, n in rows:
            if lid is not None:
                out[iid][lid] = int(n or 0)
        return out

    def _first_reports(self, ids: list[str]) -> dict[str, datetime]:
        rows = self.s.execute(
            select(RumReportRow.instance_id, func.min(RumReportRow.received_at))
            .where(RumReportRow.instance_id.in_(ids))
            .group_by(RumReportRow.instance_id)
        )
        return {row[0]: row[1] for row in rows}

    def _pools(
        self, insts: list[InstanceFacts], counts: dict[str, dict[str, int]]
    ) -> dict[str, _Pool]:
        wanted: dict[str, set[str]] = defaultdict(set)
        for inst in insts:
            wanted[inst.virtual_account_id].update(counts[inst.id])
        return {va_id: self._pool(va_id, sorted(lids)) for va_id, lids in wanted.items()}

    def _pool(self, va_id: str, license_ids: list[str]) -> _Pool:
        va = self.s.get_one(VirtualAccount, va_id)
        if not license_ids:
            return _Pool(policy_for(self.s, va), {}, {})
        used = _pool.read_counts(self.s, va_id, license_ids)
        holdings = _pool.holdings_by_license(self.s, va_id, license_ids)
        covers = {
            lid: sum(used[lid]) <= _pool.purchased_now(holdings.get(lid, []), self.now)
            for lid in license_ids
        }
        subscription = {lid: _subscription(holdings.get(lid, [])) for lid in license_ids}
        return _Pool(policy_for(self.s, va), covers, subscription)

    def _licenses(self, ids: set[str]) -> dict[str, License]:
        if not ids:
            return {}
        return {lic.id: lic for lic in self.s.scalars(select(License).where(License.id.in_(ids)))}


def _ids(usage: dict[str, list[UsageFact]]) -> set[str]:
    return {u.license_id for rows in usage.values() for u in rows}


def _counts(usage: list[UsageFact], codes: Codes, reported: dict[str, int]) -> dict[str, int]:
    """License id -> count in use: reported usage; a code not reported on yet counts as used."""
    counts = {u.license_id: u.units for u in usage}
    counts.update(reported)
    for lid, (n, _) in codes.items():
        counts.setdefault(lid, n)
    return counts


def _uses(
    counts: dict[str, int], codes: Codes, pool: _Pool, lics: dict[str, License]
) -> tuple[LicenseUse, ...]:
    return tuple(
        LicenseUse(
            name=lics[lid].name,
            enforcement=lics[lid].enforcement,
            count=n,
            subscription=pool.subscription.get(lid, False),
            authorized=codes[lid][0] if lid in codes else 0,
            pool_covers=pool.covers.get(lid, True),
        )
        for lid, n in sorted(counts.items())
        if lid in lics
    )


def _first_use(codes: Codes, first_report: datetime | None) -> datetime | None:
    """The earliest usage the authority learnt of: its first report, or its first code."""
    candidates = [at for _, at in codes.values()]
    if first_report is not None:
        candidates.append(first_report)
    return min(candidates, default=None)


def _lines(
    usage: list[UsageFact], lics: dict[str, License], covers: dict[str, bool]
) -> list[UsageOut]:
    """Usage lines; a policy-mode line whose pool falls short shows OUT OF COMPLIANCE."""
    short = EntitlementStatus.OUT_OF_COMPLIANCE.value
    lines = [
        UsageOut(
            tag=lics[u.license_id].tag,
            count=u.units,
            display_name=lics[u.license_id].display_name,
            status=u.status if covers.get(u.license_id, True) else short,
        )
        for u in usage
        if u.license_id in lics
    ]
    return sorted(lines, key=lambda line: line.tag)


def _subscription(holdings: list[Holding]) -> bool:
    """A license the pool holds only as term (subscription) or demo quantities reports as a
    subscription ("License Duration"); perpetual as soon as one perpetual holding exists."""
    kinds = {h.kind for h in holdings}
    return bool(kinds) and HoldingKind.PERPETUAL not in kinds
