"""Writes that change several pool counters at once, run concurrently on PostgreSQL: they lock
the counters in one order (``_pool.lock_counters``), so transfers in opposite directions, or
of the same licenses named in another order, and authorization code requests naming licenses
in another order, queue instead of deadlocking, and every counter still matches what it
counts. (SQLite runs one writer at a time: nothing to show there.)"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from smartlic.authority.services.interfaces import LicenseMove
from smartlic.authority.services.scope import SYSTEM
from smartlic.crypto import Udi, load_certificate
from smartlic.domain.enums import Enforcement
from smartlic.domain.products import make_tag
from smartlic.formats.signed import open_sealed
from tests.authority.services.conftest import OTHER, TAG, World
from tests.devices import PolicyDevice, TestDevice

pytestmark = pytest.mark.postgresql

ROUNDS = 50


def _race(*steps: Callable[[int], None]) -> list[BaseException]:
    """Run each step in its own thread, ``ROUNDS`` times, every round started together; the
    errors raised (a deadlock is one)."""
    start = threading.Barrier(len(steps))
    errors: list[BaseException] = []

    def run(step: Callable[[int], None]) -> None:
        for i in range(ROUNDS):
            try:
                start.wait(timeout=60)
                step(i)
            except BaseException as exc:  # reported by the test
                errors.append(exc)

    threads = [threading.Thread(target=run, args=(step,)) for step in steps]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    return errors


def _line(world: World, va: str, tag: str = TAG) -> tuple[int, int, int]:
    report = world.services.licenses.compliance(world.domain, va, scope=SYSTEM)
    line = next(ln for ln in report.lines if ln.tag == tag)
    return line.purchased, line.in_use, line.reserved


def _stock(world: World, quantity: int = 100) -> None:
    for va in ("East", "West"):
        for tag in (TAG, OTHER):
            world.services.licenses.add_holding(
                world.domain, va, tag=tag, quantity=quantity, scope=SYSTEM
            )


def test_opposite_license_transfers_do_not_deadlock(world: World, pg_only: None) -> None:
    _stock(world)
    lic = world.services.licenses

    def east_to_west(_: int) -> None:  # both licenses, one order
        moves = [LicenseMove(TAG, 1, "West"), LicenseMove(OTHER, 1, "West")]
        lic.transfer_many(world.domain, "East", moves, scope=SYSTEM)

    def west_to_east(_: int) -> None:  # the other direction, the other order
        moves = [LicenseMove(OTHER, 1, "East"), LicenseMove(TAG, 1, "East")]
        lic.transfer_many(world.domain, "West", moves, scope=SYSTEM)

    assert _race(east_to_west, west_to_east) == []
    for tag in (TAG, OTHER):  # as many moved each way: back where they started
        assert _line(world, "East", tag) == _line(world, "West", tag) == (100, 0, 0)


def test_transfers_naming_licenses_in_another_order_do_not_deadlock(
    world: World, pg_only: None
) -> None:
    _stock(world)
    lic = world.services.licenses

    def one_order(_: int) -> None:
        moves = [LicenseMove(TAG, 1, "West"), LicenseMove(OTHER, 1, "West")]
        lic.transfer_many(world.domain, "East", moves, scope=SYSTEM)

    def other_order(_: int) -> None:
        moves = [LicenseMove(OTHER, 1, "West"), LicenseMove(TAG, 1, "West")]
        lic.transfer_many(world.domain, "East", moves, scope=SYSTEM)

    assert _race(one_order, other_order) == []
    for tag in (TAG, OTHER):
        assert _line(world, "East", tag) == (100 - 2 * ROUNDS, 0, 0)
        assert _line(world, "West", tag) == (100 + 2 * ROUNDS, 0, 0)


def _device(world: World, va: str, sn: str, tag: str = TAG) -> str:
    """A registered device of ``va`` using one ``tag``; its instance id."""
    s = world.services
    token = s.tokens.create_token(world.domain, va, scope=SYSTEM).text
    dev = TestDevice(Udi("C1000V", sn), world.clock, hostname=sn)
    env = s.device.register(dev.register_request(token))
    cert = load_certificate(env["certificate"])
    dev.accept_registration(open_sealed(env, cert.public_key()))  # type: ignore[arg-type]
    s.device.authorize(dev.authorize({tag: 1}))
    page = s.instances.list_instances(world.domain, va, search=sn, scope=SYSTEM)
    return next(i.id for i in page.items if i.udi_sn == sn)


def test_opposite_instance_transfers_do_not_deadlock(world: World, pg_only: None) -> None:
    _stock(world, quantity=5)
    east, west = _device(world, "East", "SN-E"), _device(world, "West", "SN-W")
    inst = world.services.instances
    here = {east: "East", west: "West"}

    def shuttle(instance_id: str) -> Callable[[int], None]:
        def step(_: int) -> None:  # each round, the two devices cross in opposite directions
            target = "West" if here[instance_id] == "East" else "East"
            inst.transfer_instance(world.domain, instance_id, target=target, scope=SYSTEM)
            here[instance_id] = target

        return step

    assert _race(shuttle(east), shuttle(west)) == []
    assert here == {east: "East", west: "West"}  # an even number of rounds: back home
    assert _line(world, "East") == _line(world, "West") == (5, 1, 0)


def test_batches_of_instances_crossing_in_another_order_do_not_deadlock(
    world: World, pg_only: None
) -> None:
    """``transfer_instances`` (CSSM ``devices/transfer``: all or none) locks every pool of the
    batch first: two batches moving devices of two licenses in opposite orders queue."""
    _stock(world, quantity=5)
    inst = world.services.instances
    east = [_device(world, "East", "SN-ET", TAG), _device(world, "East", "SN-EO", OTHER)]
    west = [_device(world, "West", "SN-WO", OTHER), _device(world, "West", "SN-WT", TAG)]
    here = dict.fromkeys(east, "East") | dict.fromkeys(west, "West")

    def shuttle(ids: list[str]) -> Callable[[int], None]:
        def step(_: int) -> None:  # the batch's devices cross, in the batch's license order
            moves = [(i, "West" if here[i] == "East" else "East") for i in ids]
            inst.transfer_instances(world.domain, moves, scope=SYSTEM)
            here.update(moves)

        return step

    assert _race(shuttle(east), shuttle(west)) == []
    assert here == dict.fromkeys(east, "East") | dict.fromkeys(west, "West")
    for tag in (TAG, OTHER):
        assert _line(world, "East", tag) == _line(world, "West", tag) == (5, 1, 0)


def test_batches_of_removals_in_another_order_do_not_deadlock(world: World, pg_only: None) -> None:
    """``remove_instances`` (CSSM ``devices/remove``: all or none) locks every pool the batch
    frees first: two batches removing devices of two licenses in opposite orders queue."""
    _stock(world)
    rounds = [
        [
            _device(world, "East", f"SN-{i}-{n}", tag)
            for n, tag in enumerate((TAG, OTHER, OTHER, TAG))
        ]
        for i in range(ROUNDS)
    ]
    inst = world.services.instances

    def removes(first: int) -> Callable[[int], None]:
        def step(i: int) -> None:  # a batch of this round's devices: TAG then OTHER, or back
            batch = rounds[i][first : first + 2]
            inst.remove_instances(world.domain, [(d, None) for d in batch], scope=SYSTEM)

        return step

    assert _race(removes(0), removes(2)) == []
    assert world.services.instances.list_instances(world.domain, scope=SYSTEM).total == 0
    for tag in (TAG, OTHER):
        assert _line(world, "East", tag) == (100, 0, 0)


def test_code_requests_naming_licenses_in_another_order_do_not_deadlock(
    world: World, pg_only: None
) -> None:
    s = world.services
    names = ["hseck9", "enforced-b"]
    tags = [make_tag(name) for name in names]
    for name, tag in zip(names, tags, strict=True):
        enforced = Enforcement.EXPORT_CONTROLLED
        s.licenses.define_license(
            tag=tag, name=name, display_name=name, enforcement=enforced, scope=SYSTEM
        )
        s.licenses.add_holding(world.domain, "East", tag=tag, quantity=2, scope=SYSTEM)
    token = s.tokens.create_token(world.domain, "East", scope=SYSTEM).text
    devices = [PolicyDevice(Udi("IXM", f"SLAC{n}"), world.clock) for n in (1, 2)]
    for dev in devices:
        s.trust.establish(dev.trust_request(token))

    def asks(dev: PolicyDevice, order: list[str]) -> Callable[[int], None]:
        def step(_: int) -> None:  # returns the device's last code and holds anew
            s.authorizations.request(dev.auth_request(dict.fromkeys(order, 1), mode="replace"))

        return step

    one, other = asks(devices[0], tags), asks(devices[1], tags[::-1])
    assert _race(one, other) == []
    for tag in tags:  # each device holds one of each: its latest code
        assert _line(world, "East", tag) == (2, 0, 2)
