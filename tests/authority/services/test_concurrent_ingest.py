"""Usage requests naming several devices, run concurrently on PostgreSQL: the ingest locks every
instance row it needs, then every pool counter, each in one sorted order (``_ingest``), so two
requests naming the same devices in opposite orders, or different devices moving the same pools
in opposite orders, queue instead of deadlocking, and every count is still exact. (SQLite runs
one writer at a time: nothing to show there.)

The interleaving is forced, not left to luck: a third transaction holds one row the first request
writes, the first request is let run until it waits on it, the second until it waits too (or is
done), and only then is the row let go: at that point an ingest locking in request order, or
moving each device's pools as it goes, held one lock each way.

The other writes of a device's usage, codes or reservations take the same order against a
transfer, a removal or each other: a classic authorization or deregistration, an authorization
code's request or return, a license reservation. After each race every pool counter equals
what it counts (``_drift``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event, text

from smartlic.authority.services.scope import SYSTEM
from smartlic.crypto import Udi, generate_key, load_certificate
from smartlic.domain.enums import Enforcement
from smartlic.domain.products import make_tag
from smartlic.errors import NotFound
from smartlic.formats.envelope import make_nonce, timestamp_ms
from smartlic.formats.reservation import RequestCode
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
    dev = _classic(world, "A", {TAG: 1})
    iid = s.instances.resolve_instance(world.domain, "C1000V:A", scope=SYSTEM)
    again = dev.authorize({TAG: 2})
    # The authorization waits on A's usage (the blocker's), holding its pool if it locks the
    # pool before the row; the removal then waits too: on A's row, or on that pool.
    with _Race(engine, _USAGE_OF, sn="A") as race:
        race.start(lambda: s.device.authorize(again), waiting=1)
        race.start(lambda: s.instances.remove_instance(world.domain, iid, scope=SYSTEM), waiting=2)
        assert race.release() == []
    assert _pool_in_use(world, "East", TAG) == 0


def _drift(engine: Engine) -> list[tuple[str, str, int, int, int, int]]:
    """Pool counters that differ from what they count: (virtual account id, license id, in
    use, its recount, reserved, its recount). In use: the usage rows of the pool's instances;
    reserved: the outstanding authorization codes, unreturned reservations and license files
    drawn on it."""
    with engine.connect() as c:
        counted = {(va, lid): (n, r) for va, lid, n, r in c.execute(text(_COUNTERS))}
        used = {(va, lid): n for va, lid, n in c.execute(text(_RECOUNT_IN_USE))}
        held = {(va, lid): n for va, lid, n in c.execute(text(_RECOUNT_RESERVED))}
    pools = set(counted) | set(used) | set(held)
    rows = [(*p, *counted.get(p, (0, 0)), used.get(p, 0), held.get(p, 0)) for p in pools]
    return [(va, lid, n, u, r, h) for va, lid, n, r, u, h in sorted(rows) if (n, r) != (u, h)]


_COUNTERS = "SELECT virtual_account_id, license_id, in_use, reserved FROM pool_counters"
_RECOUNT_IN_USE = """
    SELECT i.virtual_account_id, u.license_id, sum(u.count) FROM instance_usage u
    JOIN product_instances i ON i.id = u.instance_id GROUP BY 1, 2
"""
_RECOUNT_RESERVED = """
    SELECT va, lid, sum(n) FROM (
        SELECT virtual_account_id AS va, license_id AS lid, count AS n
        FROM authorization_codes WHERE returned_at IS NULL
        UNION ALL
        SELECT r.virtual_account_id, l.license_id, l.count FROM license_reservation_lines l
        JOIN license_reservations r ON r.id = l.reservation_id WHERE r.returned_at IS NULL
        UNION ALL
        SELECT virtual_account_id, license_id, coalesce(count, 1) FROM license_files
        WHERE license_id IS NOT NULL
    ) AS held GROUP BY 1, 2
"""


def _classic(world: World, sn: str, usage: dict[str, int]) -> TestDevice:
    """A classic device of East, registered and authorized for ``usage``."""
    s = world.services
    s.licenses.add_holding(world.domain, "East", tag=TAG, quantity=100, scope=SYSTEM)
    token = s.tokens.create_token(world.domain, "East", scope=SYSTEM).text
    dev = TestDevice(Udi("C1000V", sn), world.clock, hostname=sn)
    env = s.device.register(dev.register_request(token))
    dev.accept_registration(open_sealed(env, load_certificate(env["certificate"]).public_key()))  # type: ignore[arg-type]
    s.device.authorize(dev.authorize(usage))
    return dev


def test_two_authorizations_of_one_device_count_its_usage_once(
    world: World, engine: Engine, pg_only: None
) -> None:
    """Both read what the device holds after its row is locked (``device._SIGNER_ROW``): read
    before, the second moved the pool by its count less the usage the first replaced."""
    s = world.services
    dev = _classic(world, "A", {TAG: 1})
    first, second = dev.authorize({TAG: 2}), dev.authorize({TAG: 3})
    # The first holds A's row and the pool, waiting on A's usage (the blocker's); the second
    # waits on A's row, or, reading what A holds without it, on the pool.
    with _Race(engine, _USAGE_OF, sn="A") as race:
        race.start(lambda: s.device.authorize(first), waiting=1)
        race.start(lambda: s.device.authorize(second), waiting=2)
        assert race.release() == []
    assert _pool_in_use(world, "East", TAG) == 3
    assert _drift(engine) == []


# the pool counter of one license in one virtual account, held by the blocker
_POOL_OF = """
    SELECT 1 FROM pool_counters p JOIN virtual_accounts v ON v.id = p.virtual_account_id
    WHERE v.name = :va AND p.license_id = :lid FOR UPDATE OF p
"""


def test_a_deregistration_frees_the_pool_its_device_was_moved_to(
    world: World, engine: Engine, pg_only: None
) -> None:
    """A deregistration reads its signer, then locks it (``_usage.release_all``): the row's
    virtual account is read again with the lock, or the usage moved to West by a transfer
    that committed in between was freed from East (East -1, West +1 forever)."""
    s = world.services
    dev = _classic(world, "A", {TAG: 1})
    iid = s.instances.resolve_instance(world.domain, "C1000V:A", scope=SYSTEM)
    lid = _license_id(engine, TAG)
    s.licenses.add_holding(world.domain, "West", tag=TAG, quantity=100, scope=SYSTEM)
    bye = dev.deregister()
    # The transfer holds A's row, waiting on East's pool (the blocker's); the deregistration
    # reads A in East, then waits on A's row.
    with _Race(engine, _POOL_OF, va="East", lid=lid) as race:
        race.start(
            lambda: s.instances.transfer_instance(world.domain, iid, target="West", scope=SYSTEM),
            waiting=1,
        )
        race.start(lambda: s.device.deregister(bye), waiting=2)
        assert race.release() == []
    assert (_pool_in_use(world, "East", TAG), _pool_in_use(world, "West", TAG)) == (0, 0)
    assert _drift(engine) == []


def _license_id(engine: Engine, tag: str) -> str:
    with engine.connect() as c:
        q = text("SELECT id FROM licenses WHERE tag = :tag")
        return str(c.execute(q, {"tag": tag}).scalar_one())


def _enforced(world: World, *names: str) -> list[str]:
    """Enforced licenses, 5 of each held by East and by West; their tags."""
    s = world.services
    tags = []
    for name in names:
        tag = make_tag(name)
        s.licenses.define_license(tag=tag, name=name, display_name=name,
                                  enforcement=Enforcement.ENFORCED, scope=SYSTEM)  # fmt: skip
        for va in ("East", "West"):
            s.licenses.add_holding(world.domain, va, tag=tag, quantity=5, scope=SYSTEM)
        tags.append(tag)
    return tags


def test_a_code_request_for_a_device_being_moved_holds_where_the_device_is(
    world: World, engine: Engine, pg_only: None
) -> None:
    """A code request reads its device with the device's row locked (``ownership.find_instance``)
    before the codes it replaces and the pools it holds: read before, a transfer committing in
    between moved the device and its old code to West, and the new code was drawn from East."""
    s = world.services
    (tag,) = _enforced(world, "enforced-a")
    a = _fleet(world, "A")["A"]
    s.authorizations.request(a.auth_request({tag: 1}))
    iid = s.instances.resolve_instance(world.domain, "IXM:A", scope=SYSTEM)
    again = a.auth_request({tag: 1}, mode="replace")
    # The transfer holds A's row and waits on East's pool (the blocker's); the request, reading
    # A's code in East, waits on that pool too, or on A's row.
    with _Race(engine, _POOL_OF, va="East", lid=_license_id(engine, tag)) as race:
        race.start(
            lambda: s.instances.transfer_instance(world.domain, iid, target="West", scope=SYSTEM),
            waiting=1,
        )
        race.start(lambda: s.authorizations.request(again), waiting=2)
        assert race.release() == []
    assert _drift(engine) == []
    west = world.services.licenses.compliance(world.domain, "West", scope=SYSTEM)
    assert next(ln.reserved for ln in west.lines if ln.tag == tag) == 1


def test_a_code_request_and_a_transfer_of_its_device_do_not_deadlock(
    world: World, engine: Engine, pg_only: None
) -> None:
    """A code request locks its device's row before its pools: locking the pools first, it
    waited on the row (its code's foreign key) a transfer held while the transfer waited on
    a pool the request held (``DeadlockDetected``)."""
    s = world.services
    tags = _enforced(world, "enforced-a", "enforced-b")
    lo, hi = sorted(tags, key=lambda t: _license_id(engine, t))  # the order pools are locked
    a, b = _fleet(world, "A", "B").values()
    s.authorizations.request(a.auth_request({lo: 1}))  # the transfer moves lo's pools
    s.authorizations.request(b.auth_request({hi: 1}))  # East's hi counted: one to hold
    iid = s.instances.resolve_instance(world.domain, "IXM:A", scope=SYSTEM)
    both = a.auth_request({lo: 1, hi: 1})
    # The request locks East's lo and waits on East's hi (the blocker's); the transfer locks A
    # and waits on East's lo; let go, the request's code waits on A: a cycle.
    with _Race(engine, _POOL_OF, va="East", lid=_license_id(engine, hi)) as race:
        race.start(lambda: s.authorizations.request(both), waiting=1)
        race.start(
            lambda: s.instances.transfer_instance(world.domain, iid, target="West", scope=SYSTEM),
            waiting=2,
        )
        assert race.release() == []
    assert _drift(engine) == []
    west = world.services.licenses.compliance(world.domain, "West", scope=SYSTEM)
    assert {ln.tag: ln.reserved for ln in west.lines if ln.tag in tags} == {lo: 2, hi: 1}
    east = world.services.licenses.compliance(world.domain, "East", scope=SYSTEM)
    assert {ln.tag: ln.reserved for ln in east.lines if ln.tag in tags} == {lo: 0, hi: 1}


def test_a_code_returned_while_its_device_is_moved_is_freed_where_it_is(
    world: World, engine: Engine, pg_only: None
) -> None:
    """A return locks the code's device before it reads the code: read before, a transfer
    committing in between moved the code to West, and the return freed it in East (East -1,
    West +1 for a returned code)."""
    s = world.services
    (tag,) = _enforced(world, "enforced-a")
    a = _fleet(world, "A")["A"]
    issued = s.authorizations.request(a.auth_request({tag: 1}))
    iid = s.instances.resolve_instance(world.domain, "IXM:A", scope=SYSTEM)
    back = a.return_code(issued.code_id)
    # The transfer holds A's row and waits on East's pool (the blocker's); the return, reading
    # the code in East, waits on that pool too, or on A's row.
    with _Race(engine, _POOL_OF, va="East", lid=_license_id(engine, tag)) as race:
        race.start(
            lambda: s.instances.transfer_instance(world.domain, iid, target="West", scope=SYSTEM),
            waiting=1,
        )
        race.start(
            lambda: s.authorizations.return_code(back, domain=world.domain, scope=SYSTEM),
            waiting=2,
        )
        assert race.release() == []
    assert _drift(engine) == []


def test_a_code_returned_twice_at_once_is_freed_once(
    world: World, engine: Engine, pg_only: None
) -> None:
    """The second return reads the code after the first let its device go: not outstanding any
    more, it is refused; read before, both freed it (East's reserved count one below its codes)."""
    s = world.services
    (tag,) = _enforced(world, "enforced-a")
    a = _fleet(world, "A")["A"]
    issued = s.authorizations.request(a.auth_request({tag: 1}))
    back = a.return_code(issued.code_id)

    def give_back() -> None:
        s.authorizations.return_code(back, domain=world.domain, scope=SYSTEM)

    # The first return waits on East's pool (the blocker's); the second on A's row, or on that
    # pool too, the code read outstanding.
    with _Race(engine, _POOL_OF, va="East", lid=_license_id(engine, tag)) as race:
        race.start(give_back, waiting=1)
        race.start(give_back, waiting=2)
        errors = race.release()
    assert [type(e) for e in errors] == [NotFound]
    assert _drift(engine) == []


def test_a_reservation_for_a_device_being_moved_is_refused(
    world: World, engine: Engine, pg_only: None
) -> None:
    """A reservation reads its device with the device's row locked (``ownership.find_instance``):
    read before, a transfer committing in between to West left the device's reservation drawn
    from East's pool, the device of another virtual account (``device-elsewhere`` unchecked)."""
    s = world.services
    a = _fleet(world, "A")["A"]
    s.usage.report_usage(_body(world, (a, a.report(TAG, 1))))  # the transfer moves TAG's pools
    iid = s.instances.resolve_instance(world.domain, "IXM:A", scope=SYSTEM)
    code = RequestCode.new(a.udi, generate_key().public_key()).text
    # The transfer holds A's row and waits on East's pool (the blocker's); the reservation,
    # reading A in East, waits on A's row (its reservation's foreign key), or to read A.
    with _Race(engine, _POOL_OF, va="East", lid=_license_id(engine, TAG)) as race:
        race.start(
            lambda: s.instances.transfer_instance(world.domain, iid, target="West", scope=SYSTEM),
            waiting=1,
        )
        race.start(
            lambda: s.reservations.reserve(
                world.domain, "East", code, licenses={TAG: 1}, scope=SYSTEM
            ),
            waiting=2,
        )
        errors = race.release()
    assert [getattr(e, "code", None) for e in errors] == ["device-elsewhere"]
    assert s.reservations.list_reservations(world.domain, scope=SYSTEM) == []
    assert _drift(engine) == []
