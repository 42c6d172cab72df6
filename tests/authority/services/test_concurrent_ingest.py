"""Usage requests naming several devices, run concurrently on PostgreSQL: the ingest locks every
instance row it needs, then every pool counter, each in one sorted order (``_ingest``), so two
requests naming the same devices in opposite orders, or different devices moving the same pools
in opposite orders, queue instead of deadlocking, and every count is still exact. (SQLite runs
one writer at a time: nothing to show there.)

The interleaving is forced, not left to luck: a third transaction holds one row the first request
writes, the first request is let run until it waits on it, the second until it waits too (or is
done), and only then is the row let go: at that point an ingest locking in request order, or
moving each device's pools as it goes, held one lock each way."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event, text

from smartlic.authority.services.scope import SYSTEM
from smartlic.crypto import Udi, load_certificate
from smartlic.formats.envelope import make_nonce, timestamp_ms
from smartlic.formats.rum import sudi_json, usage_file
from smartlic.formats.signed import open_sealed
from tests.authority.services.conftest import OTHER, TAG, World
from tests.devices import PolicyDevice, TestDevice

pytestmark = pytest.mark.postgresql

WAIT_S = 20.0


def _fleet(world: World, *sns: str) -> dict[str, PolicyDevice]:
    """Devices of East holding a trust code, by serial number."""
    s = world.services
    for tag in (TAG, OTHER):
        s.licenses.add_holding(world.domain, "East", tag=tag, quantity=100, scope=SYSTEM)
    token = s.tokens.create_token(world.domain, "East", scope=SYSTEM).text
    fleet = {sn: PolicyDevice(Udi("IXM", sn), world.clock) for sn in sns}
    for dev in fleet.values():
        s.trust.establish(dev.trust_request(token))
    return fleet


def _body(world: World, *items: tuple[PolicyDevice, dict[str, Any]]) -> dict[str, Any]:
    """One ``reportusage`` request carrying a report of each device, in the order given."""
    reports = [{"sudi": sudi_json(dev.udi), "usage": [r]} for dev, r in items]
    stamp = timestamp_ms(world.clock.now())
    return {"data": {"timestamp": stamp, "nonce": make_nonce(), "reports": reports}}


class _Race:
    """Requests in threads of their own, and a blocker: a transaction on a connection of its
    own holding one row lock until ``release``."""

    def __init__(self, engine: Engine, lock_sql: str, **params: Any) -> None:
        self.engine = engine
        self.errors: list[BaseException] = []
        self.threads: list[threading.Thread] = []
        self.watch = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        self.blocker = engine.connect()
        self.blocker.begin()
        self.locked = self.blocker.execute(text(lock_sql), params).first() is not None

    def __enter__(self) -> _Race:
        assert self.locked, "nothing to hold"
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def start(self, request: Callable[[], Any], waiting: int) -> None:
        """Run ``request``; return once ``waiting`` backends wait for a lock (or it is done)."""

        def run() -> None:
            try:
                request()
            except BaseException as exc:  # reported by the test
                self.errors.append(exc)

        thread = threading.Thread(target=run)
        self.threads.append(thread)
        thread.start()
        deadline = time.monotonic() + WAIT_S
        while _waiting(self.watch) < waiting and thread.is_alive():
            assert time.monotonic() < deadline, "the request never came to wait"
            time.sleep(0.01)

    def release(self) -> list[BaseException]:
        """Let the lock go; the errors the requests raised once they are done."""
        if not self.blocker.closed:
            self.blocker.rollback()
            self.blocker.close()
            self.watch.close()
        for t in self.threads:
            t.join(timeout=60)
        return self.errors


def _waiting(watch: Connection) -> int:
    """Backends of this test's database waiting for a lock."""
    return int(
        watch.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        ).scalar_one()
    )


def _in_use(world: World, tag: str) -> int:
    report = world.services.licenses.compliance(world.domain, "East", scope=SYSTEM)
    return next(ln.in_use for ln in report.lines if ln.tag == tag)


def _stored_reports(engine: Engine) -> int:
    with engine.connect() as c:
        return int(c.execute(text("SELECT count(*) FROM rum_reports")).scalar_one())


# a row the request writes between locking one device and the next (request order), held by
# the blocker: the instance's usage of one license
_USAGE_OF = """
    SELECT 1 FROM instance_usage u JOIN product_instances i ON i.id = u.instance_id
    WHERE i.udi_sn = :sn FOR UPDATE OF u
"""


def test_requests_naming_two_devices_in_opposite_orders_do_not_deadlock(
    world: World, engine: Engine, pg_only: None
) -> None:
    fleet = _fleet(world, "A", "B")
    a, b = fleet["A"], fleet["B"]
    usage = world.services.usage
    now = int(world.clock.now().timestamp())
    usage.report_usage(_body(world, (a, a.report(TAG, 1, start=now - 5 * 3600))))
    old = now - 7200
    first = _body(world, (a, a.report(TAG, 2, start=old)), (b, b.report(OTHER, 2, start=old)))
    newer = _body(world, (b, b.report(OTHER, 3)), (a, a.report(TAG, 3)))
    # In request order the first request locks A and waits on A's usage (the blocker's); the
    # other locks B and waits on A; let go, the first would wait on B: a cycle.
    with _Race(engine, _USAGE_OF, sn="A") as race:
        race.start(lambda: usage.report_usage(first), waiting=1)
        race.start(lambda: usage.report_usage(newer), waiting=2)
        assert race.release() == []
    # the newer reports count, whichever request committed first; nothing counted twice
    assert (_in_use(world, TAG), _in_use(world, OTHER)) == (3, 3)
    assert _stored_reports(engine) == 5


def test_requests_moving_the_same_pools_in_opposite_orders_do_not_deadlock(
    world: World, engine: Engine, pg_only: None
) -> None:
    fleet = _fleet(world, "A", "B", "C", "D")
    a, b, c, d = (fleet[sn] for sn in "ABCD")
    usage = world.services.usage
    now = int(world.clock.now().timestamp())
    usage.report_usage(_body(world, (b, b.report(OTHER, 1, start=now - 5 * 3600))))
    one = _body(world, (a, a.report(TAG, 1)), (b, b.report(OTHER, 2)))
    files = [c.report(OTHER, 4), d.report(TAG, 8)]  # other devices, the pools the other way
    # Moving each device's pools as it goes, the first request moves TAG and waits on B's
    # usage (the blocker's); the upload moves OTHER and waits on TAG; let go, the first
    # would wait on OTHER: a cycle.
    with _Race(engine, _USAGE_OF, sn="B") as race:
        race.start(lambda: usage.report_usage(one), waiting=1)
        race.start(
            lambda: usage.upload_usage_file(
                world.domain, "East", file_name="cd", content=usage_file(files), scope=SYSTEM
            ),
            waiting=2,
        )
        assert race.release() == []
    assert (_in_use(world, TAG), _in_use(world, OTHER)) == (1 + 8, 2 + 4)
    assert _stored_reports(engine) == 5


def test_a_request_locks_its_devices_and_moves_its_pools_in_one_statement_each(
    world: World, engine: Engine, pg_only: None
) -> None:
    """The order costs no round trip per device: one lookup locks every instance, one
    statement (one round trip) moves every pool."""
    fleet = _fleet(world, "A", "B", "C")
    items = [(dev, dev.report(tag, 1)) for dev in fleet.values() for tag in (TAG, OTHER)]
    seen: list[str] = []

    def note(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", note)
    try:
        world.services.usage.report_usage(_body(world, *items))
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert sum("FOR UPDATE OF product_instances" in q for q in seen) == 1
    assert sum(q.startswith("INSERT INTO pool_counters") for q in seen) == 1
    assert (_in_use(world, TAG), _in_use(world, OTHER)) == (3, 3)


def _pool_in_use(world: World, va: str, tag: str) -> int:
    report = world.services.licenses.compliance(world.domain, va, scope=SYSTEM)
    return next((ln.in_use for ln in report.lines if ln.tag == tag), 0)


@pytest.mark.parametrize("action", ["transfer", "remove", "trust elsewhere"])
def test_a_report_and_a_move_or_removal_of_its_device_do_not_deadlock(
    world: World, engine: Engine, pg_only: None, action: str
) -> None:
    """A transfer, a remove, or a device's trust established again in another virtual
    account lock the instance row first (``_usage.lock_instances``), as the ingest does,
    then the pools: locking the pools first, they waited on the instance the ingest held
    while the ingest waited on their pool (``DeadlockDetected``), and the usage they moved
    or freed was read before the report changed it."""
    a = _fleet(world, "A")["A"]
    s = world.services
    now = int(world.clock.now().timestamp())
    s.usage.report_usage(_body(world, (a, a.report(TAG, 1, start=now - 5 * 3600))))
    iid = s.instances.resolve_instance(world.domain, "IXM:A", scope=SYSTEM)
    newer = _body(world, (a, a.report(TAG, 2)))
    if action == "transfer":
        act: Callable[[], Any] = lambda: s.instances.transfer_instance(  # noqa: E731
            world.domain, iid, target="West", scope=SYSTEM
        )
    elif action == "remove":
        act = lambda: s.instances.remove_instance(world.domain, iid, scope=SYSTEM)  # noqa: E731
    else:
        west = s.tokens.create_token(world.domain, "West", scope=SYSTEM).text
        act = lambda: s.trust.establish(a.trust_request(west, force=True))  # noqa: E731
    # The ingest locks A and waits on A's usage (the blocker's); the transfer / remove then
    # comes to wait too: on A (instance first) or, locking its pools first, on A's update.
    with _Race(engine, _USAGE_OF, sn="A") as race:
        race.start(lambda: s.usage.report_usage(newer), waiting=1)
        race.start(act, waiting=2)
        assert race.release() == []
    west = 2 if action == "transfer" else 0  # freed by a removal or a trust elsewhere
    assert (_pool_in_use(world, "East", TAG), _pool_in_use(world, "West", TAG)) == (0, west)


def test_a_classic_authorization_and_a_removal_of_its_device_do_not_deadlock(
    world: World, engine: Engine, pg_only: None
) -> None:
    """A classic device's authorization locks its instance row first too (with the signer's
    lookup), then its pools: it locked the pools and touched the row last, so a removal
    holding the row (instances first) waited on the pool while the authorization waited on
    the row."""
    s = world.services
    s.licenses.add_holding(world.domain, "East", tag=TAG, quantity=100, scope=SYSTEM)
    token = s.tokens.create_token(world.domain, "East", scope=SYSTEM).text
    dev = TestDevice(Udi("C1000V", "A"), world.clock, hostname="A")
    env = s.device.register(dev.register_request(token))
    dev.accept_registration(open_sealed(env, load_certificate(env["certificate"]).public_key()))  # type: ignore[arg-type]
    s.device.authorize(dev.authorize({TAG: 1}))
    iid = s.instances.resolve_instance(world.domain, "C1000V:A", scope=SYSTEM)
    again = dev.authorize({TAG: 2})
    # The authorization waits on A's usage (the blocker's), holding its pool if it locks the
    # pool before the row; the removal then waits too: on A's row, or on that pool.
    with _Race(engine, _USAGE_OF, sn="A") as race:
        race.start(lambda: s.device.authorize(again), waiting=1)
        race.start(lambda: s.instances.remove_instance(world.domain, iid, scope=SYSTEM), waiting=2)
        assert race.release() == []
    assert _pool_in_use(world, "East", TAG) == 0
