"""Applying an instance's usage: replace what it held, move the pool counters, decide the
answer per tag. Shared by authorization, deregistration, removal and instance transfer."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Table,
    bindparam,
    delete,
    insert,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from smartlic.authority.services import _pool
from smartlic.authority.services._compliance import Judged, bump_judged
from smartlic.domain.enums import Enforcement, EntitlementStatus, InstanceStatus
from smartlic.formats.device_v1 import Entitlement
from smartlic.storage.models import (
    AuthorizationCode,
    InstanceUsage,
    License,
    LicenseReservation,
    ProductInstance,
)
from smartlic.storage.prepared import Prepared

# Built once: every authorization runs them (bench/authority.py, issue 14). The write path
# of an authorization reads columns and writes with Core statements: no ORM objects to load,
# track and flush (the session ends with the call; nothing else reads these rows in it).
_HELD = select(InstanceUsage).where(InstanceUsage.instance_id == bindparam("instance_id"))
_USAGE = cast(Table, InstanceUsage.__table__)
_LICENSES = cast(Table, License.__table__)
# Run by every authorization at the driver's cost (``storage.prepared``).
_HELD_COUNTS = Prepared(
    select(_USAGE.c.license_id, _USAGE.c.count).where(_USAGE.c.instance_id == bindparam("iid"))
)
# The licenses of the tags asked for and what the instance holds, in one round trip: the
# license rows carry their tag, the held rows none (a union: both read by every authorization).
_WANTED_AND_HELD = Prepared.listed(
    "tags",
    lambda tags: union_all(
        select(
            _LICENSES.c.id,
            _LICENSES.c.tag,
            _LICENSES.c.enforcement,
            null().label("count"),
        ).where(_LICENSES.c.tag.in_(tags)),
        select(_USAGE.c.license_id, null(), null(), _USAGE.c.count).where(
            _USAGE.c.instance_id == bindparam("iid")
        ),
    ),
)
_SET_USAGE = Prepared(
    update(_USAGE)
    .where(_USAGE.c.instance_id == bindparam("iid"), _USAGE.c.license_id == bindparam("lid"))
    .values(count=bindparam("n"), status=bindparam("st"))
)
# The one INSERT of instance_usage rows: a classic answer (``st`` the answer, ``until`` None)
# and a policy-mode report (``_ingest``: "IN USE", ``until`` the report's end) alike.
ADD_USAGE = Prepared(
    insert(_USAGE).values(
        instance_id=bindparam("iid"),
        license_id=bindparam("lid"),
        count=bindparam("n"),
        status=bindparam("st"),
        reported_until=bindparam("until"),
    )
)
_DROP_USAGE = Prepared.listed(
    "lids",
    lambda lids: delete(_USAGE).where(
        _USAGE.c.instance_id == bindparam("iid"), _USAGE.c.license_id.in_(lids)
    ),
)


def current_usage(s: Session, instance_id: str) -> dict[str, InstanceUsage]:
    rows = s.scalars(_HELD, {"instance_id": instance_id})
    return {u.license_id: u for u in rows}


def lock_instances(s: Session, instance_ids: Iterable[str]) -> list[ProductInstance]:
    """Lock instance rows (PostgreSQL) in id order, before their usage is read and their
    pools locked: the one lock order of a request's ingest (``_ingest.ingest``: instances,
    then pools), which holds a device's row while it moves its pools. A write locking the
    pools first waited on the row an ingest held while the ingest waited on its pool (a
    deadlock), and moved or freed usage read before the report changed it.

    Returns the rows locked, read again with the lock: an instance this session loaded before
    (a signer found unlocked) is refreshed, or the pools it frees were those of the virtual
    account a transfer committing in between moved it from."""
    return list(
        s.scalars(
            select(ProductInstance)
            .where(ProductInstance.id.in_(sorted(set(instance_ids))))
            .order_by(ProductInstance.id)  # locked as the rows leave the sort
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


def release_all(s: Session, inst: ProductInstance) -> None:
    """Free everything ``inst`` uses in its virtual account (its row locked first)."""
    lock_instances(s, [inst.id])
    held = current_usage(s, inst.id)
    _pool.add_in_use(s, inst.virtual_account_id, {lid: -u.count for lid, u in held.items()})
    s.execute(delete(InstanceUsage).where(InstanceUsage.instance_id == inst.id))


@dataclass(frozen=True)
class Applied:
    """What ``apply_usage`` decided: the answer per tag, and each pool it moved, for the
    compliance check (``_compliance.judge``)."""

    answers: list[tuple[Entitlement, EntitlementStatus]]
    pools: dict[str, Judged]  # license id -> counts, purchased now, marked


def apply_usage(
    db: Session | Connection,
    instance_id: str,
    va_id: str,
    export_ok: bool,
    wanted: Iterable[Entitlement],
    now: datetime,
) -> Applied:
    """Replace an instance's usage with ``wanted`` and answer each tag: the instance's id, its
    virtual account and whether it may use export-controlled licenses. Core statements only
    (no ORM object is loaded or flushed); the pools it moves are not named in the session:
    the caller judges them with the returned ``pools`` before it commits."""
    wanted = list(wanted)
    tags = [e.tag for e in wanted]
    lics: dict[str, Any] = {}
    held: dict[str, int] = {}
    if tags:
        for row in _WANTED_AND_HELD.run(db, {"tags": tags, "iid": instance_id}).rows:
            if row.tag is None:
                held[row.id] = row.count
            else:
                lics[row.tag] = row
    else:
        held = dict(_HELD_COUNTS.run(db, {"iid": instance_id}).rows)
    new_counts = {
        lics[e.tag].id: e.count
        for e in wanted
        if e.tag in lics and e.count > 0 and _may_use(lics[e.tag], export_ok)
    }
    deltas = {lid: new_counts.get(lid, 0) - held.get(lid, 0) for lid in set(held) | set(new_counts)}
    moved = bump_judged(db, va_id, deltas, now)  # counts and what is purchased, per pool moved
    counts = {lid: (p.in_use, p.reserved) for lid, p in moved.items()}
    bought = {lid: p.bought for lid, p in moved.items()}
    unchanged = [lid for lid in new_counts if lid not in moved]
    if unchanged:
        counts.update(_pool.read_counts(db, va_id, unchanged))
        bought.update(_pool.purchased_by_license(db, va_id, unchanged, now))
    answers = [(e, _answer(e, lics.get(e.tag), export_ok, counts, bought)) for e in wanted]
    _store(
        db,
        instance_id,
        held,
        {
            lics[e.tag].id: (e.count, st)
            for e, st in answers
            if e.tag in lics and lics[e.tag].id in new_counts
        },
    )
    return Applied(answers, moved)


def _may_use(lic: Any, export_ok: bool) -> bool:  # a License, or its row
    return lic.enforcement is not Enforcement.EXPORT_CONTROLLED or export_ok


def _answer(
    e: Entitlement,
    lic: Any,  # a License row, or None
    export_ok: bool,
    counts: dict[str, tuple[int, int]],
    bought: dict[str, int],
) -> EntitlementStatus:
    if lic is None:
        return EntitlementStatus.INVALID_TAG
    if not _may_use(lic, export_ok):
        return EntitlementStatus.NOT_AUTHORIZED
    if e.count == 0:
        return EntitlementStatus.AUTHORIZED
    in_use, reserved = counts[lic.id]
    if in_use + reserved > bought[lic.id]:
        return EntitlementStatus.OUT_OF_COMPLIANCE
    return EntitlementStatus.AUTHORIZED


def _store(
    db: Session | Connection,
    instance_id: str,
    held: dict[str, int],
    new: dict[str, tuple[int, EntitlementStatus]],
) -> None:
    """Write the instance's usage rows with Core statements (what changed only; no flush)."""
    gone = [lid for lid in held if lid not in new]
    if gone:
        _DROP_USAGE.run(db, {"iid": instance_id, "lids": gone})
    kept = [
        {"iid": instance_id, "lid": lid, "n": n, "st": st.value}
        for lid, (n, st) in new.items()
        if lid in held
    ]
    if kept:
        _SET_USAGE.run(db, kept)
    added = [
        {"iid": instance_id, "lid": lid, "n": n, "st": st.value, "until": None}
        for lid, (n, st) in new.items()
        if lid not in held
    ]
    if added:
        ADD_USAGE.run(db, added)


def outstanding_codes(s: Session, inst: ProductInstance) -> list[AuthorizationCode]:
    return list(
        s.scalars(
            select(AuthorizationCode).where(
                AuthorizationCode.instance_id == inst.id, AuthorizationCode.returned_at.is_(None)
            )
        )
    )


def move_pools(s: Session, inst: ProductInstance, target_va_id: str) -> list[tuple[str, str]]:
    """The pool counters ((virtual account id, license id)) ``move_all`` changes, for a caller
    moving several instances in one transaction to lock them all first, in one order."""
    held = list(current_usage(s, inst.id))
    reservation = active_reservation(s, inst)
    return _moved_pools(inst, held, outstanding_codes(s, inst), reservation, target_va_id)


def active_reservation(s: Session, inst: ProductInstance) -> LicenseReservation | None:
    """The device's license reservation (SLR/PLR) not returned yet, with its lines."""
    return s.scalar(
        select(LicenseReservation).where(
            LicenseReservation.instance_id == inst.id, LicenseReservation.returned_at.is_(None)
        )
    )


def _moved_pools(
    inst: ProductInstance,
    held: list[str],
    codes: list[AuthorizationCode],
    reservation: LicenseReservation | None,
    target_va_id: str,
) -> list[tuple[str, str]]:
    pools = [(va, lid) for lid in held for va in (inst.virtual_account_id, target_va_id)]
    pools += [(va, c.license_id) for c in codes for va in (c.virtual_account_id, target_va_id)]
    if reservation is not None:
        sides = (reservation.virtual_account_id, target_va_id)
        pools += [(va, line.license_id) for line in reservation.lines for va in sides]
    return pools


def move_all(s: Session, inst: ProductInstance, target_va_id: str, now: datetime) -> None:
    """Move ``inst`` with what it uses, the reservations of its outstanding authorization
    codes and its license reservation (SLR/PLR, as the vendor's manager moves a reserved
    device's licenses with it) to another virtual account, and answer its (classic) usage
    again against the target pool: a usage the target cannot cover is OUT OF COMPLIANCE
    there, whatever the source held.

    Policy-mode usage keeps its reported status ("IN USE"): its status is computed at read
    time (``_instance_status``) from the pool it is in now. Its row is locked first
    (``lock_instances``).
    """
    lock_instances(s, [inst.id])
    held = current_usage(s, inst.id)
    counts = {lid: u.count for lid, u in held.items()}
    codes = outstanding_codes(s, inst)
    reservation = active_reservation(s, inst)
    # in one order: opposite transfers cannot deadlock
    _pool.lock_counters(s, _moved_pools(inst, list(counts), codes, reservation, target_va_id))
    _pool.add_in_use(s, inst.virtual_account_id, {lid: -n for lid, n in counts.items()})
    for code in codes:
        _pool.lock_counter(s, code.virtual_account_id, code.license_id).reserved -= code.count
        _pool.lock_counter(s, target_va_id, code.license_id).reserved += code.count
        code.virtual_account_id = target_va_id
    if reservation is not None:
        for line in reservation.lines:
            held_by = reservation.virtual_account_id
            _pool.lock_counter(s, held_by, line.license_id).reserved -= line.count
            _pool.lock_counter(s, target_va_id, line.license_id).reserved += line.count
        reservation.virtual_account_id = target_va_id
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
