"""A pooled PostgreSQL connection the server closed (a restart, ``pg_terminate_backend``, an
idle timeout) is noticed at checkout and replaced: the next call works. The engine looks at
the idle connection's socket instead of pinging every checkout (``storage.engine``)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.services.scope import system
from smartlic.crypto import Udi
from smartlic.storage import make_engine
from tests.authority.services.conftest import World
from tests.devices import TestDevice

pytestmark = [
    pytest.mark.postgresql,
    pytest.mark.parametrize("db_url", ["postgresql"], indirect=True),
]


def _backend_pid(engine: Engine) -> int:
    """The server process of the connection the pool hands out next (then back in the pool)."""
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(db_url: str, pid: int) -> None:
    """End that server process, and wait until it is gone (as a server restart would)."""
    admin = make_engine(db_url, pool_size=1)
    try:
        with admin.connect() as conn:
            ended = conn.execute(text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": pid})
            assert ended.scalar_one() is True
    finally:
        admin.dispose()


def test_a_connection_the_server_ended_is_replaced_at_checkout(db_url: str) -> None:
    engine = make_engine(db_url, pool_size=1, max_overflow=0)
    try:
        pid = _backend_pid(engine)
        assert _backend_pid(engine) == pid  # the pool keeps the one connection
        _terminate(db_url, pid)
        with engine.connect() as conn:  # no error: a fresh connection
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
    finally:
        engine.dispose()


def test_registration_after_the_server_ended_every_pooled_connection(
    world: World, engine: Engine, keys: AuthorityKeys, db_url: str
) -> None:
    svc = world.services
    token = svc.tokens.create_token(world.domain, "East", scope=system("t")).text
    first = TestDevice(Udi("C1000V", "SN0001"), world.clock)
    svc.device.register(first.register_request(token))
    with engine.connect() as a, engine.connect() as b:  # two pooled connections, both ended
        pids = [int(c.execute(text("SELECT pg_backend_pid()")).scalar_one()) for c in (a, b)]
    for pid in pids:
        _terminate(db_url, pid)
    second = TestDevice(Udi("C1000V", "SN0002"), world.clock)
    answer = svc.device.register(second.register_request(token))
    assert answer["signature"]["key_id"] == keys.signer.key_id
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM product_instances")).scalar_one() == 2
