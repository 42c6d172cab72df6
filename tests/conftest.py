"""Shared fixtures: the clock, both databases, authority keys and services.

``db_url`` is parametrized over SQLite and PostgreSQL; the PostgreSQL case is skipped, with the
reason, only when the server does not answer - and fails instead when ``SMARTLIC_REQUIRE_PG=1``
(``.ci/run`` sets it: on a machine that should have PostgreSQL, half the suite must never skip
silently). Each xdist worker gets its own PostgreSQL
database, migrated once; every test starts from empty tables (emptied with ``DELETE``, and
sequences restarted, by ``_empty``), and every SQLite test gets a fresh copy of a migrated
template file.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, create_engine, text

from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.services import Services, build_services
from smartlic.authority.services import users as users_service
from smartlic.clock import ManualClock
from smartlic.crypto import _secrets
from smartlic.storage import make_engine, upgrade
from smartlic.storage.models import Base

PG_URL = os.environ.get("SMARTLIC_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("SMARTLIC_REQUIRE_PG", "") not in ("", "0")
START = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


# Argon2id as production runs it costs ~0.2 s of CPU a hash or check (64 MiB, 3 passes, 4 lanes):
# most portal tests create users and log them in, so in-process tests hash with the same
# algorithm at the lowest cost. Tests marked ``production_argon2`` (the ones about that cost and
# those parameters) and every authority started as a subprocess keep the production hasher.
CHEAP_ARGON2 = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture(autouse=True)
def _argon2_cost(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    if request.node.get_closest_marker("production_argon2") is None:
        monkeypatch.setattr(_secrets, "_hasher", CHEAP_ARGON2)
    users_service._decoy_hash.cache_clear()  # made again with this test's hasher
    yield
    users_service._decoy_hash.cache_clear()


def _pg_problem() -> str | None:
    try:
        eng = make_engine(PG_URL, pool_size=1)
        with eng.connect() as conn:
            conn.execute(text("SELECT 1"))
        eng.dispose()
        return None
    except Exception as exc:  # any failure to connect means "unreachable"
        return f"PostgreSQL unreachable at {PG_URL}: {type(exc).__name__}: {exc}"[:300]


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    problem = _pg_problem()
    if problem and REQUIRE_PG:
        pytest.fail(f"{problem} (SMARTLIC_REQUIRE_PG is set: PostgreSQL tests may not skip)")
    if problem:
        pytest.skip(problem)
    return PG_URL


def _admin(server_url: str, *statements: str) -> None:
    admin = create_engine(make_engine(server_url).url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for sql in statements:
            conn.execute(text(sql))
    admin.dispose()


@pytest.fixture(scope="session")
def pg_database_url(pg_server_url: str, worker_id: str) -> Iterator[str]:
    # One database per worker *and* per test run (the pid), so two runs on one machine (a
    # developer's and CI's) never drop each other's database; it is dropped at the end.
    name = f"smartlic_test_{worker_id}_{os.getpid()}"
    _admin(
        pg_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'
    )
    url = pg_server_url.rsplit("/", 1)[0] + "/" + name
    upgrade(url)
    yield url
    _forget_emptier(url)
    _admin(pg_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "authority.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


_TABLES = Base.metadata.sorted_tables  # parents first
_OWNED_SEQUENCES = """
SELECT s.oid::regclass::text FROM pg_class s
JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid AND d.deptype IN ('a', 'i')
JOIN pg_class t ON t.oid = d.refobjid
WHERE s.relkind = 'S' AND t.relnamespace = 'public'::regnamespace AND t.relname = ANY(:tables)
ORDER BY 1
"""
_emptiers: dict[str, tuple[Engine, list[str]]] = {}


def _empty(url: str) -> None:
    """Leave the database as ``TRUNCATE <every table> RESTART IDENTITY`` would: no rows, and
    every sequence a table owns back at its start. ``TRUNCATE`` gives each of the ~300
    relations (partitions, indexes) a new file and costs 0.2-2 s; instead one query finds the
    tables holding rows and the sequences that were used, and only those are emptied (``DELETE``,
    children first) and restarted, over one connection kept per database - a few milliseconds
    when a test wrote little."""
    if url not in _emptiers:
        engine = make_engine(url, pool_size=1, max_overflow=0, pool_pre_ping=True)
        with engine.connect() as conn:
            tables = [t.name for t in _TABLES]
            found = conn.execute(text(_OWNED_SEQUENCES), {"tables": tables}).scalars()
            _emptiers[url] = (engine, list(found))
    engine, sequences = _emptiers[url]
    probe = [f'EXISTS (SELECT FROM "{t.name}")' for t in _TABLES] + [
        f"pg_sequence_last_value('{s}') IS NOT NULL" for s in sequences
    ]
    with engine.begin() as conn:
        used = conn.execute(text("SELECT " + ", ".join(probe))).one()
        for table, rows in reversed(list(zip(_TABLES, used, strict=False))):
            if rows:
                conn.execute(text(f'DELETE FROM "{table.name}"'))
        for sequence, called in zip(sequences, used[len(_TABLES) :], strict=True):
            if called:
                conn.execute(text(f"ALTER SEQUENCE {sequence} RESTART"))


def _forget_emptier(url: str) -> None:
    if url in _emptiers:
        _emptiers.pop(url)[0].dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "authority.sqlite3"
        shutil.copy(template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_database_url")
    _empty(url)
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def pg_only(engine: Engine) -> None:
    """For a test of concurrent writers or several processes on one database: PostgreSQL's
    run only (SQLite has one writer at a time, and its run of such a test is skipped)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite: one writer at a time)")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def keys(tmp_path: Path, clock: ManualClock) -> AuthorityKeys:
    return AuthorityKeys.create(tmp_path / "keys", clock.now())


@pytest.fixture
def services(engine: Engine, clock: ManualClock, keys: AuthorityKeys) -> Services:
    return build_services(engine, clock, keys)
