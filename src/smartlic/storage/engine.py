"""Engines: SQLite (embedded default) with WAL, foreign keys and a busy timeout; PostgreSQL
with a pool. Several authority processes may share one PostgreSQL database."""

from __future__ import annotations

import select
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (the driver we install)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def on_postgresql(db: Session | Connection) -> bool:
    """Whether a session's (or a connection's) database is PostgreSQL: the write paths that
    build one statement per dialect pick it with this."""
    bind = db.get_bind() if isinstance(db, Session) else db
    return bind.dialect.name == "postgresql"


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        # A deferred transaction that reads and then writes can fail with SQLITE_BUSY when
        # another process wrote in between (no retry is possible mid-transaction); taking the
        # write lock at BEGIN makes concurrent writers queue on busy_timeout instead. Sent as
        # the dialect's BEGIN (pysqlite's is a no-op once pysqlite leaves transactions to us),
        # so its errors are wrapped like any statement's, and without the cost of a statement
        # run through the engine's events.
        engine.dialect.do_begin = _sqlite_begin_immediate  # type: ignore[method-assign,assignment]
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    engine = create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        event.listen(engine, "checkout", _check_idle_connection)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy, not pysqlite, control transactions, so BEGIN IMMEDIATE below works.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_begin_immediate(dbapi_conn: Any) -> None:
    dbapi_conn.execute("BEGIN IMMEDIATE")


def _check_idle_connection(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
    """A pooled PostgreSQL connection is checked before use without a round trip (what
    ``pool_pre_ping`` costs every checkout): an idle connection's socket has nothing to read
    unless the server closed it (a restart, ``pg_terminate_backend``, an idle timeout) or sent
    something unasked. Only then is it pinged; if the ping fails every pooled connection older
    than now is replaced (as ``pool_pre_ping`` does) and the checkout gets a fresh one."""
    if not _has_news(dbapi_conn):
        return
    try:
        with dbapi_conn.cursor() as cur:
            cur.execute(";")  # psycopg's ping, as SQLAlchemy's pre-ping sends it
    except Exception as err:  # any failure: the connection is no use
        raise exc.InvalidatePoolError(f"pooled connection lost: {err}") from err


def _has_news(dbapi_conn: Any) -> bool:
    """True when the connection is closed or its socket can be read (EOF or a message)."""
    if getattr(dbapi_conn, "closed", False) or getattr(dbapi_conn, "broken", False):
        return True
    try:
        fd = dbapi_conn.pgconn.socket
        return bool(select.select([fd], [], [], 0)[0])
    except Exception:  # no socket to look at (closed, another driver): ping to be sure
        return True
