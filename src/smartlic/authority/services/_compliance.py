"""Compliance warnings raised where compliance changes, in the transaction that changes it.

Every write that moves a pool (usage ingest and instance removal through
``_pool.add_in_use``, reservations and transfers through ``_pool.lock_counter``, a purchase or
a transfer's target through ``_pool.touch``) names the pool in its session; before that
transaction commits, ``ServiceBase.transaction`` calls ``raise_warnings`` for the pools named:

* a pool now short (in use + reserved > active holdings) without an ``alert_marks`` row
  ``pool:<va>:<license>`` gets one (``INSERT ... ON CONFLICT DO NOTHING``), a
  ``compliance.pool.out_of_compliance`` event and, per virtual account, a Compliance Warning
  Report, all committed with the change that caused them or not at all;
* a marked pool back in compliance loses its mark: the next shortfall is a new warning.

An authorization (``_usage.apply_usage``) moves its counters with ``bump_judged``, whose
``UPDATE ... RETURNING`` also returns what is purchased now and whether the pool is marked, and
judges them itself with ``judge``: the same rule without the shortfall query and, in the common
case (in compliance, not marked), without a statement; a pool short and unmarked gets the same
mark and announcement as above, a marked pool back in compliance loses its mark. Usage ingest
moves its counters in a session with ``bump_noted`` (``bump_judged``, the pools' last counts
kept in the session): ``ServiceBase.transaction`` judges them before commit with ``judge``
(``judge_noted``), not with the shortfall query.

The per-minute scan (``Scans.compliance``) calls the same function over every pool: it catches
what no write announces (a term holding that ended) and is a safety net; the marks make the
two raise each shortfall once between them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import nullcontext
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    Connection,
    Integer,
    Table,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    or_,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from smartlic.authority.services import _pool
from smartlic.authority.services._marks import mark
from smartlic.authority.services.reports import Recorder, archive
from smartlic.domain.reports import ReportKind
from smartlic.storage.engine import on_postgresql
from smartlic.storage.models import (
    AlertMark,
    Holding,
    License,
    PoolCounter,
    SmartAccount,
    VirtualAccount,
)
from smartlic.storage.prepared import Prepared

__all__ = [
    "EVENT",
    "Judged",
    "bump_judged",
    "bump_noted",
    "holding_active",
    "judge",
    "judge_noted",
    "raise_warnings",
    "shortfall_query",
]

EVENT = "compliance.pool.out_of_compliance"
Pool = tuple[str, str]  # (virtual account id, license id)


def holding_active(starts: Any, ends: Any, now: Any) -> Any:
    """A holding counts now (``domain.compliance.holding_active``, in SQL)."""
    return and_(or_(starts.is_(None), starts <= now), or_(ends.is_(None), ends > now))


def shortfall_query(now: datetime, pools: Iterable[Pool] | None = None) -> Any:
    """(va id, license id, in use, reserved, purchased) of every pool (of ``pools``) using
    more than it holds now: in use + reserved > active holdings."""
    q = _shortfall(now)
    if pools is not None:
        q = q.where(tuple_(PoolCounter.virtual_account_id, PoolCounter.license_id).in_(pools))
    return q


def _shortfall(now: Any) -> Any:  # a datetime, or a bound parameter
    active = holding_active(Holding.starts_at, Holding.ends_at, now)
    bought = func.coalesce(func.sum(case((active, Holding.quantity), else_=0)), 0)
    q = (
        select(
            PoolCounter.virtual_account_id,
            PoolCounter.license_id,
            PoolCounter.in_use,
            PoolCounter.reserved,
            bought,
        )
        .outerjoin(
            Holding,
            and_(
                Holding.virtual_account_id == PoolCounter.virtual_account_id,
                Holding.license_id == PoolCounter.license_id,
            ),
        )
        .where(PoolCounter.in_use + PoolCounter.reserved > 0)
        .group_by(
            PoolCounter.virtual_account_id,
            PoolCounter.license_id,
            PoolCounter.in_use,
            PoolCounter.reserved,
        )
        .having(PoolCounter.in_use + PoolCounter.reserved > bought)
    )
    return q


# What every commit that moves a pool runs (raise_warnings with ``pools``), built once: the
# statements cost more to build than to run (bench/ingest_cpu.py, issue 14).
_SHORT_OF = _shortfall(bindparam("now")).where(
    tuple_(PoolCounter.virtual_account_id, PoolCounter.license_id).in_(
        bindparam("pools", expanding=True)
    )
)
_MARKS_OF = select(AlertMark.key).where(AlertMark.key.in_(bindparam("keys", expanding=True)))


def raise_warnings(
    s: Session, now: datetime, record: Recorder, actor: str, pools: set[Pool] | None = None
) -> tuple[int, int]:
    """Warn once for each pool (of ``pools``; all when None) newly short, re-arm the pools
    back in compliance; (pools newly short, pools back in)."""
    q, params = (
        (shortfall_query(now), {})
        if pools is None
        else (_SHORT_OF, {"now": now, "pools": sorted(pools)})
    )
    short = {(va, lic): row for va, lic, *row in s.execute(q, params)}
    keys = {_key(p): p for p in short}
    marks = _marks(s, pools)
    new = sorted(keys[k] for k in keys if k not in marks and mark(s, k, now))
    gone = marks - set(keys)
    if gone:
        s.execute(delete(AlertMark).where(AlertMark.key.in_(gone)))
    if new:
        _announce(s, now, record, actor, new, short)
    return len(new), len(gone)


_MARKS = cast(Table, AlertMark.__table__)
_COUNTERS = cast(Table, PoolCounter.__table__)
_HOLDINGS = cast(Table, Holding.__table__)


# A pool counter's in-use move that also returns what ``judge`` needs: what is purchased now
# and whether the pool is marked short, read in the same statement (built once per dialect,
# run at the driver's cost: every authorization and ingest that changes a count runs it). An
# upsert: a counter never used before is created by the same statement, so a write moving
# several pools sends them all at once (``Prepared.each``) in license-id order.
def _bump_judged(ins: Any) -> Prepared:
    stmt = ins(_COUNTERS).values(
        virtual_account_id=bindparam("va_id"),
        license_id=bindparam("lid"),
        in_use=bindparam("delta", type_=Integer()),
        reserved=0,
    )
    return Prepared(
        stmt.on_conflict_do_update(
            index_elements=[_COUNTERS.c.virtual_account_id, _COUNTERS.c.license_id],
            set_={"in_use": _COUNTERS.c.in_use + stmt.excluded.in_use},
        ).returning(
            _COUNTERS.c.in_use,
            _COUNTERS.c.reserved,
            select(func.coalesce(func.sum(_HOLDINGS.c.quantity), 0))
            .where(  # by parameter, not correlated: RETURNING renders its columns unqualified
                _HOLDINGS.c.virtual_account_id == bindparam("va_id"),
                _HOLDINGS.c.license_id == bindparam("lid"),
                holding_active(_HOLDINGS.c.starts_at, _HOLDINGS.c.ends_at, bindparam("now")),
            )
            .scalar_subquery()
            .label("bought"),
            exists().where(_MARKS.c.key == bindparam("mark")).label("marked"),
        )
    )


_BUMP_JUDGED = {pg: _bump_judged(ins) for pg, ins in ((True, pg_insert), (False, sqlite_insert))}
_UNMARK = Prepared(delete(_MARKS).where(_MARKS.c.key == bindparam("key")))


class Judged(NamedTuple):
    """A pool after a move: its counts, what is purchased now, whether it is marked short."""

    in_use: int
    reserved: int
    bought: int
    marked: bool


def bump_judged(
    db: Session | Connection, va_id: str, deltas: Mapping[str, int], now: datetime
) -> dict[str, Judged]:
    """``_pool.bump`` (same order: license ids sorted; a missing counter created) returning,
    per changed license, what ``judge`` needs: one statement per pool moved, all sent in one
    round trip on PostgreSQL."""
    lids = sorted(lid for lid, d in deltas.items() if d)
    if not lids:
        return {}
    params = [
        {"va_id": va_id, "lid": lid, "delta": deltas[lid], "now": now, "mark": _key((va_id, lid))}
        for lid in lids
    ]
    ran = _BUMP_JUDGED[on_postgresql(db)].each(db, params)
    result: dict[str, Judged] = {}
    for lid, r in zip(lids, ran, strict=True):
        in_use, reserved, bought, marked = r.one()
        result[lid] = Judged(int(in_use), int(reserved), int(bought), bool(marked))
    return result


def bump_noted(s: Session, va_id: str, deltas: Mapping[str, int], now: datetime) -> None:
    """``_pool.add_in_use`` for a write that judges its pools from the counts it moved (usage
    ingest): ``bump_judged``, each pool's last counts kept in the session (``_pool.NOTED``)
    for ``judge_noted`` before commit: no shortfall query and, in the common case, no
    statement. Core statements: nothing is flushed first (a report's pending ORM changes, a
    new instance, are flushed where they are made)."""
    moved = bump_judged(s, va_id, deltas, now)
    noted: dict[Pool, Judged] = s.info.setdefault(_pool.NOTED, {})
    for lid, p in moved.items():
        noted[(va_id, lid)] = p  # the last move's counts are the final ones
        _pool.sync(s, va_id, lid, (p.in_use, p.reserved))


def judge_noted(
    s: Session,
    now: datetime,
    record: Recorder,
    actor: str,
    noted: Mapping[Pool, Judged],
    touched: set[Pool],
) -> None:
    """``judge`` the pools ``bump_noted`` moved, per virtual account; a pool also named by
    ``_pool.touch`` is left to ``raise_warnings``, which reads its final state."""
    by_va: dict[str, dict[str, Judged]] = {}
    for (va_id, lid), p in noted.items():
        if (va_id, lid) not in touched:
            by_va.setdefault(va_id, {})[lid] = p
    for va_id in sorted(by_va):
        judge(s, now, record, actor, va_id, by_va[va_id])


def judge(
    db: Session | Connection,
    now: datetime,
    record: Recorder,
    actor: str,
    va_id: str,
    pools: Mapping[str, Judged],
) -> tuple[int, int]:
    """``raise_warnings`` for pools of ``va_id`` moved by ``bump_judged`` in this transaction
    (their counts are final): a pool short and not marked is marked and announced once (as
    ``raise_warnings``); a marked pool back in compliance loses its mark. Nothing to write in
    the common case (in compliance, not marked). (Pools newly short, pools back in.) Given a
    connection, the rare announcement runs in a session on it."""
    short = {(va_id, lid): [p.in_use, p.reserved, p.bought] for lid, p in pools.items()
             if p.in_use + p.reserved > p.bought}  # fmt: skip
    gone = 0
    for lid, p in pools.items():
        if p.marked and (va_id, lid) not in short:
            gone += _UNMARK.run(db, {"key": _key((va_id, lid))}).rowcount
    fresh = [pool for pool in short if not pools[pool[1]].marked]
    if not fresh:
        return 0, gone
    # joins the connection's transaction, never ends it (join_transaction_mode's default)
    with nullcontext(db) if isinstance(db, Session) else Session(bind=db) as s:
        new = sorted(p for p in fresh if mark(s, _key(p), now))
        if new:
            _announce(s, now, record, actor, new, short)
            s.flush()
    return len(new), gone


def _key(pool: Pool) -> str:
    return f"pool:{pool[0]}:{pool[1]}"


def _marks(s: Session, pools: set[Pool] | None) -> set[str]:
    if pools is not None:
        return set(s.scalars(_MARKS_OF, {"keys": [_key(p) for p in pools]}))
    return set(s.scalars(select(AlertMark.key).where(AlertMark.key.startswith("pool:"))))


def _announce(
    s: Session,
    now: datetime,
    record: Recorder,
    actor: str,
    new: list[Pool],
    short: dict[Pool, list[Any]],
) -> None:
    q = select(VirtualAccount, SmartAccount).join(SmartAccount)
    q = q.where(VirtualAccount.id.in_({v for v, _ in new}))
    places = {va.id: (va, sa) for va, sa in s.execute(q)}
    q_tags = select(License.id, License.tag).where(License.id.in_({lic for _, lic in new}))
    tags = {str(lid): str(tag) for lid, tag in s.execute(q_tags)}
    for va_id, lic in new:
        in_use, reserved, bought = short[(va_id, lic)]
        va, sa = places[va_id]
        record(
            s,
            EVENT,
            actor=actor,
            smart_account=sa,
            virtual_account=va.name,
            subject=tags[lic],
            tag=tags[lic],
            purchased=int(bought),
            in_use=int(in_use),
            reserved=int(reserved),
            shortfall=int(in_use + reserved - bought),
        )
    for va_id in sorted({v for v, _ in new}, key=lambda v: places[v][0].name):
        va, sa = places[va_id]
        kind = ReportKind.COMPLIANCE_WARNING
        archive(s, record, sa, va, kind, now, actor, {"cause": EVENT})
