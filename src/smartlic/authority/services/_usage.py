"""Applying an instance's usage: replace what it held, move the pool counters, decide the
answer per tag. Shared by authorization, deregistration, removal and instance transfer."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from smartlic.authority.services import _pool
from smartlic.domain.enums import Enforcement, EntitlementStatus, InstanceStatus
from smartlic.formats.device_v1 import Entitlement
from smartlic.storage.models import AuthorizationCode, InstanceUsage, License, ProductInstance

# Built once: every authorization runs them (bench/authority.py, issue 14). The write path
# of an authorization reads columns and writes with Core statements: no ORM objects to load,
# track and flush (the session ends with the call; nothing else reads these rows in it).
_HELD = select(InstanceUsage).where(InstanceUsage.instance_id == bindparam("instance_id"))
_HELD_COUNTS = select(InstanceUsage.license_id, InstanceUsage.count).where(
    InstanceUsage.instance_id == bindparam("instance_id")
)
_LICENSES_BY_TAG = select(License.id, License.tag, License.enforcement).where(
    License.tag.in_(bindparam("tags", expanding=True))
)
_USAGE = cast(Table, InstanceUsage.__table__)
_SET_USAGE = (
    update(_USAGE)
    .where(_USAGE.c.instance_id == bindparam("iid"), _USAGE.c.license_id == bindparam("lid"))
    .values(count=bindparam("n"), status=bindparam("st"))
)
_DROP_USAGE = delete(_USAGE).where(
    _USAGE.c.instance_id == bindparam("iid"),
    _USAGE.c.license_id.in_(bindparam("lids", expanding=True)),
)


def current_usage(s: Session, instance_id: str) -> dict[str, InstanceUsage]:
    rows = s.scalars(_HELD, {"instance_id": instance_id})
    return {u.license_id: u for u in rows}


def release_all(s: Session, inst: ProductInstance) -> None:
    """Free everything ``inst`` uses in its virtual account."""
    held = current_usage(s, inst.id)
    _pool.add_in_use(s, inst.virtual_account_id, {lid: -u.count for lid, u in held.items()})
    s.execute(delete(InstanceUsage).where(InstanceUsage.instance_id == inst.id))


def apply_usage(
    s: Session, inst: ProductInstance, wanted: Iterable[Entitlement], now: datetime
) -> list[tuple[Entitlement, EntitlementStatus]]:
    """Replace ``inst``'s usage with ``wanted`` and answer each tag."""
    wanted = list(wanted)
    tags = [e.tag for e in wanted]
    lics = {lic.tag: lic for lic in s.execute(_LICENSES_BY_TAG, {"tags": tags})}
    held: dict[str, int] = dict(s.execute(_HELD_COUNTS, {"instance_id": inst.id}).all())
    new_counts = {
        lics[e.tag].id: e.count
        for e in wanted
        if e.tag in lics and e.count > 0 and _may_use(lics[e.tag], inst)
    }
    deltas = {lid: new_counts.get(lid, 0) - held.get(lid, 0) for lid in set(held) | set(new_counts)}
    va_id = inst.virtual_account_id
    counts = _pool.add_in_use(s, va_id, deltas)
    unchanged = [lid for lid in new_counts if lid not in counts]
    counts.update(_pool.read_counts(s, va_id, unchanged) if unchanged else {})
    bought = _pool.purchased_by_license(s, va_id, list(new_counts), now)
    answers = [(e, _answer(e, lics.get(e.tag), inst, counts, bought)) for e in wanted]
    _store(
        s,
        inst,
        held,
        {
            lics[e.tag].id: (e.count, st)
            for e, st in answers
            if e.tag in lics and lics[e.tag].id in new_counts
        },
    )
    return answers


def _may_use(lic: Any, inst: ProductInstance) -> bool:  # a License, or its row
    return lic.enforcement is not Enforcement.EXPORT_CONTROLLED or inst.export_controlled_allowed


def _answer(
    e: Entitlement,
    lic: Any,  # a License row, or None
    inst: ProductInstance,
    counts: dict[str, tuple[int, int]],
    bought: dict[str, int],
) -> EntitlementStatus:
    if lic is None:
        return EntitlementStatus.INVALID_TAG
    if not _may_use(lic, inst):
        return EntitlementStatus.NOT_AUTHORIZED
    if e.count == 0:
        return EntitlementStatus.AUTHORIZED
    in_use, reserved = counts[lic.id]
    if in_use + reserved > bought[lic.id]:
        return EntitlementStatus.OUT_OF_COMPLIANCE
    return EntitlementStatus.AUTHORIZED


def _store(
    s: Session,
    inst: ProductInstance,
    held: dict[str, int],
    new: dict[str, tuple[int, EntitlementStatus]],
) -> None:
    """Write ``inst``'s usage rows with Core statements (what changed only; no flush)."""
    gone = [lid for lid in held if lid not in new]
    if gone:
        s.execute(_DROP_USAGE, {"iid": inst.id, "lids": gone})
    kept = [
        {"iid": inst.id, "lid": lid, "n": n, "st": st.value}
        for lid, (n, st) in new.items()
        if lid in held
    ]
    if kept:
        s.execute(_SET_USAGE, kept)
    added = [
        {"instance_id": inst.id, "license_id": lid, "count": n, "status": st.value}
        for lid, (n, st) in new.items()
        if lid not in held
    ]
    if added:
        s.execute(insert(_USAGE), added)


def outstanding_codes(s: Session, inst: ProductInstance) -> list[AuthorizationCode]:
    return list(
        s.scalars(
            select(AuthorizationCode).where(
                AuthorizationCode.instance_id == inst.id, AuthorizationCode.returned_at.is_(None)
            )
        )
    )


def move_all(s: Session, inst: ProductInstance, target_va_id: str, now: datetime) -> None:
    """Move ``inst`` with what it uses and the reservations of its outstanding authorization
    codes to another virtual account, and answer its (classic) usage again against the target
    pool: a usage the target cannot cover is OUT OF COMPLIANCE there, whatever the source held.

    Policy-mode usage keeps its reported status ("IN USE"): its status is computed at read
    time (``_instance_status``) from the pool it is in now.
    """
    held = current_usage(s, inst.id)
    counts = {lid: u.count for lid, u in held.items()}
    codes = outstanding_codes(s, inst)
    pools = [(va, lid) for lid in counts for va in (inst.virtual_account_id, target_va_id)]
    pools += [(va, c.license_id) for c in codes for va in (c.virtual_account_id, target_va_id)]
    _pool.lock_counters(s, pools)  # in one order: opposite transfers cannot deadlock
    _pool.add_in_use(s, inst.virtual_account_id, {lid: -n for lid, n in counts.items()})
    for code in codes:
        _pool.lock_counter(s, code.virtual_account_id, code.license_id).reserved -= code.count
        _pool.lock_counter(s, target_va_id, code.license_id).reserved += code.count
        code.virtual_account_id = target_va_id
    inst.virtual_account_id = target_va_id
    _pool.add_in_use(s, target_va_id, counts)
    pool = _pool.read_counts(s, target_va_id, list(counts))
    bought = _pool.purchased_by_license(s, target_va_id, list(counts), now)
    answers = {EntitlementStatus.AUTHORIZED.value, EntitlementStatus.OUT_OF_COMPLIANCE.value}
    for lid, usage in held.items():
        if usage.status in answers:
            covered = sum(pool[lid]) <= bought[lid]
            usage.status = (
                EntitlementStatus.AUTHORIZED if covered else EntitlementStatus.OUT_OF_COMPLIANCE
            ).value
    bad = any(u.status == EntitlementStatus.OUT_OF_COMPLIANCE.value for u in held.values())
    inst.status = InstanceStatus.OUT_OF_COMPLIANCE if bad else InstanceStatus.IN_COMPLIANCE
