"""Pool counters maintained on write: the in-use count of a (virtual account, license) moves
with every usage change, so compliance reads O(tags) rows, never O(instances)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Integer, Table, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from smartlic.domain.compliance import HoldingTerms, purchased
from smartlic.errors import InsufficientLicenses
from smartlic.storage.engine import on_postgresql
from smartlic.storage.models import Holding, License, PoolCounter
from smartlic.storage.prepared import Prepared

TOUCHED = "smartlic.pools_touched"  # Session.info key: pools whose compliance may have moved
# Session.info key: pools moved with their counts read back (``_compliance.bump_noted``),
# judged from those counts before commit: (va id, license id) -> their last ``Judged``
NOTED = "smartlic.pools_noted"


def touch(s: Session, va_id: str, license_ids: Iterable[str]) -> None:
    """Name pools this transaction changes; their compliance is judged before it commits
    (``_compliance.raise_warnings`` from ``ServiceBase.transaction``)."""
    s.info.setdefault(TOUCHED, set()).update((va_id, lid) for lid in license_ids)


def ensure_counters(s: Session | Connection, va_id: str, license_ids: list[str]) -> None:
    """Create missing counter rows; safe against a concurrent creator (ON CONFLICT DO NOTHING)."""
    if not license_ids:
        return
    ins = pg_insert if on_postgresql(s) else sqlite_insert
    rows = [
        {"virtual_account_id": va_id, "license_id": lid, "in_use": 0, "reserved": 0}
        for lid in license_ids
    ]
    s.execute(ins(PoolCounter).values(rows).on_conflict_do_nothing())


def add_in_use(s: Session, va_id: str, deltas: Mapping[str, int]) -> dict[str, tuple[int, int]]:
    """Apply in-use deltas atomically (``bump``) in the unit of work: the pools are named for
    the compliance check before commit (``touch``), pending changes are flushed first, and a
    counter object this session holds is kept equal to its row."""
    touch(s, va_id, (lid for lid, d in deltas.items() if d))
    if any(deltas.values()):
        s.flush()  # what an ORM statement's autoflush did: pending changes go first
    result = bump(s, va_id, deltas)
    for lid, counts in result.items():
        sync(s, va_id, lid, counts)
    return result


def bump(
    db: Session | Connection, va_id: str, deltas: Mapping[str, int]
) -> dict[str, tuple[int, int]]:
    """Apply in-use deltas atomically; returns (in use, reserved) per changed license. Names
    no pool: a caller outside ``add_in_use`` judges the pools' compliance itself
    (``_compliance.judge``).

    Rows are updated in license-id order so two concurrent transactions touching the same
    licenses take their row locks in the same order and cannot deadlock. A missing counter
    row is created only when the UPDATE finds none (the common case costs one statement).
    """
    result: dict[str, tuple[int, int]] = {}
    for lid in sorted(lid for lid, d in deltas.items() if d):
        params = {"va_id": va_id, "lid": lid, "delta": deltas[lid]}
        row = _BUMP.run(db, params).first()
        if row is None:
            ensure_counters(db, va_id, [lid])
            row = _BUMP.run(db, params).one()
        result[lid] = (int(row[0]), int(row[1]))
    return result


# A Core UPDATE built once (the ORM statement it replaces cost more to build and to
# synchronise than to run: bench/authority.py, issue 14); ``sync`` keeps a counter object
# this session already holds equal to the row.
_COUNTERS = cast(Table, PoolCounter.__table__)
_BUMP = Prepared(  # run at the driver's cost (``storage.prepared``)
    update(_COUNTERS)
    .where(
        _COUNTERS.c.virtual_account_id == bindparam("va_id"),
        _COUNTERS.c.license_id == bindparam("lid"),
    )
    .values(in_use=_COUNTERS.c.in_use + bindparam("delta", type_=Integer()))
    .returning(_COUNTERS.c.in_use, _COUNTERS.c.reserved)
)


def sync(s: Session, va_id: str, lid: str, counts: tuple[int, int]) -> None:
    """Keep a counter object this session holds equal to its row after a Core move."""
    held = s.identity_map.get(s.identity_key(PoolCounter, (va_id, lid)))
    if held is not None:
        set_committed_value(held, "in_use", counts[0])


def read_counts(
    s: Session | Connection, va_id: str, license_ids: list[str]
) -> dict[str, tuple[int, int]]:
    """(in use, reserved) per license, 0 for a license never counted. Read as columns; in a
    session, pending changes are flushed first (as the ORM query's autoflush did)."""
    if isinstance(s, Session):
        s.flush()
    found: dict[str, tuple[int, int]] = {}
    if license_ids:
        rows = _COUNTS.run(s, {"va_id": va_id, "lids": license_ids}).rows
        found = {lid: (int(n), int(r)) for lid, n, r in rows}
    return {lid: found.get(lid, (0, 0)) for lid in license_ids}


_COUNTS = Prepared.listed(
    "lids",
    lambda lids: select(_COUNTERS.c.license_id, _COUNTERS.c.in_use, _COUNTERS.c.reserved).where(
        _COUNTERS.c.virtual_account_id == bindparam("va_id"), _COUNTERS.c.license_id.in_(lids)
    ),
)


def lock_counter(s: Session, va_id: str, license_id: str) -> PoolCounter:
    """The counter row, created if missing and locked for this transaction (``FOR UPDATE`` on
    PostgreSQL; on SQLite every transaction already holds the write lock). Taken to change
    the pool: its compliance is judged before the transaction commits."""
    touch(s, va_id, [license_id])
    ensure_counters(s, va_id, [license_id])
    return s.scalars(
        select(PoolCounter)
        .where(PoolCounter.virtual_account_id == va_id, PoolCounter.license_id == license_id)
        .with_for_update()
    ).one()


def lock_counters(s: Session, pools: Iterable[tuple[str, str]]) -> None:
    """Lock the counters of ``pools`` ((virtual account id, license id)) as ``lock_counter``
    does, in one order for every caller: sorted. A write that changes more than one counter
    takes them all here first (a transfer: source and target), so two such writes in opposite
    directions (A to B, B to A) queue on the first counter instead of deadlocking; later
    ``lock_counter`` / ``add_in_use`` calls find the rows already theirs. (Usage ingest moves
    its counters in this order too, all in one statement at the end: ``_ingest.ingest``.)"""
    for va_id, license_id in sorted(set(pools)):
        lock_counter(s, va_id, license_id)


def counters(
    s: Session, va_id: str, license_ids: list[str] | None = None
) -> dict[str, PoolCounter]:
    q = select(PoolCounter).where(PoolCounter.virtual_account_id == va_id)
    if license_ids is not None:
        q = q.where(PoolCounter.license_id.in_(license_ids))
    return {c.license_id: c for c in s.scalars(q)}


_HOLDINGS = select(Holding).where(Holding.virtual_account_id == bindparam("va_id"))
_HOLDINGS_OF = _HOLDINGS.where(Holding.license_id.in_(bindparam("license_ids", expanding=True)))


def holdings_by_license(
    s: Session, va_id: str, license_ids: list[str] | None = None
) -> dict[str, list[Holding]]:
    params: dict[str, Any] = {"va_id": va_id}  # statements built once (every authorization)
    q = _HOLDINGS
    if license_ids is not None:
        q, params = _HOLDINGS_OF, {"va_id": va_id, "license_ids": license_ids}
    out: dict[str, list[Holding]] = {}
    for h in s.scalars(q, params):
        out.setdefault(h.license_id, []).append(h)
    return out


def holdings_by_va(s: Session, va_ids: list[str]) -> dict[str, dict[str, list[Holding]]]:
    """The holdings of several virtual accounts: va id -> license id -> holdings."""
    out: dict[str, dict[str, list[Holding]]] = {}
    for h in s.scalars(select(Holding).where(Holding.virtual_account_id.in_(va_ids))):
        out.setdefault(h.virtual_account_id, {}).setdefault(h.license_id, []).append(h)
    return out


def counters_by_va(s: Session, va_ids: list[str]) -> dict[str, dict[str, PoolCounter]]:
    """The counters of several virtual accounts: va id -> license id -> counter."""
    out: dict[str, dict[str, PoolCounter]] = {}
    for c in s.scalars(select(PoolCounter).where(PoolCounter.virtual_account_id.in_(va_ids))):
        out.setdefault(c.virtual_account_id, {})[c.license_id] = c
    return out


_H = cast(Table, Holding.__table__)
_TERMS = Prepared.listed(
    "lids",
    lambda lids: select(
        _H.c.license_id, _H.c.quantity, _H.c.kind, _H.c.starts_at, _H.c.ends_at
    ).where(_H.c.virtual_account_id == bindparam("va_id"), _H.c.license_id.in_(lids)),
)


def purchased_by_license(
    s: Session | Connection, va_id: str, license_ids: list[str], now: datetime
) -> dict[str, int]:
    """What is purchased now per license (0 for none): the holdings' terms only, read as
    columns (the write paths need no Holding objects, nor their eagerly joined license)."""
    found: dict[str, list[HoldingTerms]] = {lid: [] for lid in license_ids}
    if license_ids:
        rows = _TERMS.run(s, {"va_id": va_id, "lids": license_ids}).rows
        for lid, quantity, kind, starts, ends in rows:
            found[lid].append(HoldingTerms(quantity, kind, starts, ends))
    return {lid: purchased(t, now) for lid, t in found.items()}


def terms(h: Holding) -> HoldingTerms:
    return HoldingTerms(h.quantity, h.kind, h.starts_at, h.ends_at)


def purchased_now(holdings: list[Holding], now: datetime) -> int:
    return purchased((terms(h) for h in holdings), now)


def hold(s: Session, va_id: str, lic: License, count: int, now: datetime) -> None:
    """Hold ``count`` of ``lic`` as ``reserved`` in the pool (an authorization code, a license
    reservation, a node-locked file), or ``InsufficientLicenses`` when the pool cannot cover it:
    what is purchased now, less what is in use and already reserved."""
    counter = lock_counter(s, va_id, lic.id)
    holdings = holdings_by_license(s, va_id, [lic.id]).get(lic.id, [])
    available = purchased_now(holdings, now) - counter.in_use - counter.reserved
    if count > available:
        raise InsufficientLicenses(
            f"{max(available, 0)} {lic.name} available in the pool, {count} requested"
        )
    counter.reserved += count


def unhold(s: Session, va_id: str, license_id: str, count: int) -> None:
    lock_counter(s, va_id, license_id).reserved -= count
