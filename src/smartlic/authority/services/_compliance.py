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

A write that already knows its pools' final counts and what is purchased now (an
authorization: ``_usage.apply_usage``) judges them itself with ``judge``, the same rule without
the shortfall query: one ``DELETE`` of the marks of its pools in compliance (a no-op unless one
was marked), and for a pool short the same mark and announcement as above.

The per-minute scan (``Scans.compliance``) calls the same function over every pool: it catches
what no write announces (a term holding that ended) and is a safety net; the marks make the
two raise each shortfall once between them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import nullcontext
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Table,
    and_,
    case,
    delete,
    func,
    or_,
    select,
    tuple_,
)
from sqlalchemy.orm import Session

from smartlic.authority.services._marks import mark
from smartlic.authority.services.reports import Recorder, archive
from smartlic.domain.reports import ReportKind
from smartlic.storage.models import (
    AlertMark,
    Holding,
    License,
    PoolCounter,
    SmartAccount,
    VirtualAccount,
)
from smartlic.storage.prepared import Prepared

__all__ = ["EVENT", "judge", "raise_warnings", "shortfall_query"]

EVENT = "compliance.pool.out_of_compliance"
Pool = tuple[str, str]  # (virtual account id, license id)


def shortfall_query(now: datetime, pools: Iterable[Pool] | None = None) -> Any:
    """(va id, license id, in use, reserved, purchased) of every pool (of ``pools``) using
    more than it holds now: in use + reserved > active holdings."""
    q = _shortfall(now)
    if pools is not None:
        q = q.where(tuple_(PoolCounter.virtual_account_id, PoolCounter.license_id).in_(pools))
    return q


def _shortfall(now: Any) -> Any:  # a datetime, or a bound parameter
    active = and_(
        or_(Holding.starts_at.is_(None), Holding.starts_at <= now),
        or_(Holding.ends_at.is_(None), Holding.ends_at > now),
    )
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
_UNMARK = Prepared.listed("keys", lambda keys: delete(_MARKS).where(_MARKS.c.key.in_(keys)))


def judge(
    db: Session | Connection,
    now: datetime,
    record: Recorder,
    actor: str,
    va_id: str,
    pools: Mapping[str, tuple[int, int, int]],
) -> tuple[int, int]:
    """``raise_warnings`` for pools of ``va_id`` whose final counts the transaction knows:
    license id -> (in use, reserved, purchased now). A pool short is marked and announced
    once (as ``raise_warnings``); the marks of the others are removed. (Pools newly short,
    pools back in.) Given a connection, the rare announcement runs in a session on it."""
    short = {(va_id, lid): [n, r, b] for lid, (n, r, b) in pools.items() if n + r > b}
    fine = [_key((va_id, lid)) for lid in pools if (va_id, lid) not in short]
    gone = _UNMARK.run(db, {"keys": fine}).rowcount
    if not short:
        return 0, gone
    # joins the connection's transaction, never ends it (join_transaction_mode's default)
    with nullcontext(db) if isinstance(db, Session) else Session(bind=db) as s:
        new = sorted(p for p in short if mark(s, _key(p), now))
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
