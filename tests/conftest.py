"""Shared fixtures: the clock, both databases, authority keys and services.

``db_url`` is parametrized over SQLite and PostgreSQL; the PostgreSQL case is skipped, with the
reason, only when the server does not answer - and fails instead when ``SMARTLIC_REQUIRE_PG=1``
(``.ci/run`` sets it: on a machine that should have PostgreSQL, half the suite must never skip
silently). Each xdist worker gets its own PostgreSQL
database, migrated once; every test starts from empty tables (truncated), and every SQLite test
gets a fresh copy of a migrated template file.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.services import Services, build_services
from smartlic.clock import ManualClock
from smartlic.storage import make_engine, upgrade
from smartlic.storage.models import Base

PG_URL = os.environ.get("SMARTLIC_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("SMARTLIC_REQUIRE_PG", "") not in ("", "0")
START = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


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
    _admin(pg_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "authority.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


def _truncate(url: str) -> None:
    eng = make_engine(url, pool_size=1)
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with eng.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    eng.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "authority.sqlite3"
        shutil.copy(template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_database_url")
    _truncate(url)
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def keys(tmp_path: Path, clock: ManualClock) -> AuthorityKeys:
    return AuthorityKeys.create(tmp_path / "keys", clock.now())


@pytest.fixture
def services(engine: Engine, clock: ManualClock, keys: AuthorityKeys) -> Services:
    return build_services(engine, clock, keys)
