"""Instance statuses computed from stored facts (issue 8, finding 13): policy-mode instances
follow the policy's reporting deadline and the enforcement rules, never the classic 90-day rule;
a transfer answers the usage again against the target pool, previewed first."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.services.interfaces import InstanceOut
from smartlic.authority.services.scope import SYSTEM, system
from smartlic.crypto import Udi, load_certificate
from smartlic.domain.enums import ComplianceStatus, Enforcement
from smartlic.domain.policy import CISCO_DEFAULT, LicenseGroup
from smartlic.domain.products import make_tag
from smartlic.formats.signed import open_sealed
from tests.authority.services.conftest import TAG, World
from tests.devices import PolicyDevice, TestDevice

HSEC = make_tag("hseck9")


def _instance(world: World) -> InstanceOut:
    [inst] = world.services.instances.list_instances(world.domain, scope=SYSTEM).items
    return world.services.instances.get_instance(world.domain, inst.id, scope=SYSTEM)


def _line(world: World, va: str, tag: str = TAG) -> Any:
    lines = world.services.licenses.compliance(world.domain, va, scope=SYSTEM).lines
    return next(ln for ln in lines if ln.tag == tag)


def _report(world: World, dev: PolicyDevice, tag: str, value: int) -> None:
    answer = world.services.usage.report_usage(dev.body(dev.report(tag, value)))
    done = world.services.usage.poll({"data": {"poll_id": answer["poll_id"]}})
    assert done["data"]["acknowledgements"][0]["acknowledged"], done


@pytest.fixture
def device(world: World) -> PolicyDevice:
    world.services.licenses.add_holding(
        world.domain, "East", tag=TAG, quantity=3, scope=system("t")
    )
    token = world.services.tokens.create_token(world.domain, "East", scope=system("t")).text
    dev = PolicyDevice(Udi("IXM-LPWA-900-16-K9", "FOC1"), world.clock)
    world.services.trust.establish(dev.trust_request(token))
    return dev


def _policy(world: World, frequency_days: int) -> None:
    doc = CISCO_DEFAULT.to_json() | {"name": "Monthly"}
    doc["groups"][LicenseGroup.UNENFORCED_PERPETUAL.value]["reporting_frequency_days"] = (
        frequency_days
    )
    world.services.policies.create_policy(
        world.domain, document=doc, virtual_account="East", scope=system("t")
    )


def test_policy_instance_goes_overdue_with_the_clock_and_back_after_a_report(
    world: World, device: PolicyDevice
) -> None:
    _policy(world, frequency_days=30)
    _report(world, device, TAG, 2)
    reported = world.clock.now()
    got = _instance(world)
    assert (got.status, got.alerts) == ("In Compliance", [])
    assert got.report_due == reported + timedelta(days=30)
    world.clock.advance(timedelta(days=30))
    assert _instance(world).status == "In Compliance"  # due by, not yet past
    world.clock.advance(timedelta(seconds=1))
    got = _instance(world)
    assert got.status == "Out of Compliance"
    assert [a for a in got.alerts if a.startswith("Reporting overdue")], got.alerts
    _report(world, device, TAG, 2)
    got = _instance(world)
    assert (got.status, got.alerts) == ("In Compliance", [])
    assert got.report_due == world.clock.now() + timedelta(days=30)


def test_policy_instance_never_gets_the_classic_90_day_rule(
    world: World, device: PolicyDevice
) -> None:
    # Cisco default, perpetual license in use: after the first report nothing is due again
    # ("Reporting frequency (days): 0"), however long the device stays silent.
    _report(world, device, TAG, 1)
    world.clock.advance(timedelta(days=400))
    got = _instance(world)
    assert (got.status, got.alerts, got.report_due) == ("In Compliance", [], None)


def test_a_code_alone_asks_no_report_under_cisco_default(
    world: World, device: PolicyDevice, hsec: str
) -> None:
    # Cisco default as devices print it: enforced and export-controlled licenses "First report
    # requirement (days): 0 (CISCO default)" - nothing is due, however long the code is held
    # (issue 10, divergence 2). A customer policy applies once a device holds it (in an ACK).
    world.services.authorizations.request(device.auth_request({hsec: 1}))
    assert _instance(world).status == "In Compliance"
    world.clock.advance(timedelta(days=400))
    got = _instance(world)
    assert (got.status, got.alerts, got.report_due) == ("In Compliance", [], None)


@pytest.fixture
def hsec(world: World) -> str:
    world.services.licenses.define_license(
        tag=HSEC,
        name="hseck9",
        display_name="HSECK9",
        enforcement=Enforcement.EXPORT_CONTROLLED,
        scope=system("t"),
    )
    world.services.licenses.add_holding(
        world.domain, "East", tag=HSEC, quantity=2, scope=system("t")
    )
    return HSEC


def test_enforced_license_in_use_without_a_code_is_out_of_compliance(
    world: World, device: PolicyDevice, hsec: str
) -> None:
    _report(world, device, hsec, 1)
    got = _instance(world)
    assert got.status == "Out of Compliance"
    assert got.alerts == [
        "hseck9 is export-controlled: 1 in use without an authorization code (codes cover 0)"
    ]
    issued = world.services.authorizations.request(device.auth_request({hsec: 1}))
    assert (_instance(world).status, _instance(world).alerts) == ("In Compliance", [])
    _report(world, device, hsec, 2)  # now uses more than the code covers
    assert "2 in use" in _instance(world).alerts[0]
    world.services.authorizations.return_code(
        device.return_code(issued.code_id), domain=world.domain, scope=system("t")
    )
    assert "codes cover 0" in _instance(world).alerts[0]


def test_policy_transfer_into_a_short_pool(world: World, device: PolicyDevice, hsec: str) -> None:
    world.services.licenses.add_holding(
        world.domain, "West", tag=TAG, quantity=1, scope=system("t")
    )
    _report(world, device, TAG, 2)
    world.services.authorizations.request(device.auth_request({hsec: 1}))
    inst = _instance(world)
    preview = world.services.instances.preview_transfer(
        world.domain, inst.id, target="West", scope=SYSTEM
    )
    assert preview.out_of_compliance
    assert {
        (ln.tag, ln.moving, ln.purchased, ln.in_use_after, ln.status) for ln in preview.lines
    } == {
        (TAG, 2, 1, 2, "Out of Compliance"),
        (hsec, 1, 0, 1, "Out of Compliance"),
    }
    assert _instance(world).virtual_account == "East"  # a preview changes nothing
    moved = world.services.instances.transfer_instance(
        world.domain, inst.id, target="West", scope=system("t")
    )
    assert moved.status == "Out of Compliance"
    assert [(u.tag, u.status) for u in moved.usage] == [(TAG, "OUT OF COMPLIANCE")]
    assert (_line(world, "West").in_use, _line(world, "West").status) == (
        2,
        ComplianceStatus.OUT_OF_COMPLIANCE,
    )
    # the code's reservation moved with the instance
    assert (_line(world, "East", hsec).reserved, _line(world, "West", hsec).reserved) == (0, 1)
    assert (_line(world, "East").in_use, _line(world, "East").status) == (
        0,
        ComplianceStatus.IN_COMPLIANCE,
    )


def _open(world: World, keys: AuthorityKeys, env: dict[str, Any]) -> dict[str, Any]:
    cert = load_certificate(env["certificate"])
    return open_sealed(env, cert.public_key())  # type: ignore[arg-type]


def test_classic_transfer_answers_usage_against_the_target_pool(
    world: World, keys: AuthorityKeys
) -> None:
    svc = world.services
    svc.licenses.add_holding(world.domain, "East", tag=TAG, quantity=5, scope=system("t"))
    svc.licenses.add_holding(world.domain, "West", tag=TAG, quantity=2, scope=system("t"))
    token = svc.tokens.create_token(world.domain, "East", scope=system("t")).text
    dev = TestDevice(Udi("C1000V", "SN0001"), world.clock, hostname="r1")
    dev.accept_registration(_open(world, keys, svc.device.register(dev.register_request(token))))
    assert _open(world, keys, svc.device.authorize(dev.authorize({TAG: 3})))["status"] == (
        "AUTHORIZED"
    )
    inst = _instance(world)
    assert (inst.status, [u.status for u in inst.usage]) == ("In Compliance", ["AUTHORIZED"])
    assert svc.instances.preview_transfer(
        world.domain, inst.id, target="West", scope=SYSTEM
    ).warnings == ["West would be Out of Compliance for network-advantage: 3 in use, 2 purchased"]
    moved = svc.instances.transfer_instance(world.domain, inst.id, target="West", scope=system("t"))
    assert (moved.status, [u.status for u in moved.usage]) == (
        "Out of Compliance",
        ["OUT OF COMPLIANCE"],
    )
    assert moved.alerts == ["Licenses are Out of Compliance"]
    [event] = svc.events.list_events(
        world.domain, name_prefix="instance.transferred", scope=SYSTEM
    ).items
    assert event.properties["out_of_compliance"] == ["network-advantage"]
    assert _line(world, "West").status is ComplianceStatus.OUT_OF_COMPLIANCE
    # and back into a pool that covers it: authorized again
    back = svc.instances.transfer_instance(world.domain, inst.id, target="East", scope=system("t"))
    assert (back.status, [u.status for u in back.usage]) == ("In Compliance", ["AUTHORIZED"])
    # the classic rule still holds for a classic instance
    world.clock.advance(timedelta(days=91))
    assert _instance(world).status == "Authorization Expired"


def test_preview_into_a_pool_that_covers_it_warns_nothing(
    world: World, device: PolicyDevice
) -> None:
    world.services.licenses.add_holding(
        world.domain, "West", tag=TAG, quantity=5, scope=system("t")
    )
    _report(world, device, TAG, 2)
    inst = _instance(world)
    preview = world.services.instances.preview_transfer(
        world.domain, inst.id, target="West", scope=SYSTEM
    )
    assert (preview.out_of_compliance, preview.warnings) == (False, [])
    assert [(ln.in_use_after, ln.status) for ln in preview.lines] == [(2, "In Compliance")]


def test_a_page_answers_what_each_instance_answers_alone(
    world: World, device: PolicyDevice, hsec: str, keys: AuthorityKeys
) -> None:
    # A page reads rows of the columns it shows, one instance alone reads the whole row: the
    # same answer, field for field, across classic and policy-mode statuses and every order.
    svc, t = world.services, system("t")
    svc.licenses.add_holding(world.domain, "West", tag=TAG, quantity=1, scope=t)
    _report(world, device, TAG, 2)
    svc.authorizations.request(device.auth_request({hsec: 1}))
    for n, (va, usage) in enumerate((("East", {TAG: 1}), ("West", {TAG: 3}), ("West", {}))):
        token = svc.tokens.create_token(world.domain, va, scope=t).text
        dev = TestDevice(Udi("C1000V", f"SN{n}"), world.clock, hostname=f"r{n}" if n else "")
        dev.accept_registration(
            _open(world, keys, svc.device.register(dev.register_request(token)))
        )
        if usage:
            svc.device.authorize(dev.authorize(usage))
        world.clock.advance(timedelta(days=70 if n == 0 else 5))  # the first expires
    other = PolicyDevice(Udi("IXM-LPWA-900-16-K9", "FOC2"), world.clock, hostname="gw2")
    svc.trust.establish(
        other.trust_request(svc.tokens.create_token(world.domain, "West", scope=t).text)
    )
    _report(world, other, hsec, 1)  # export-controlled without a code
    world.clock.advance(timedelta(days=20))
    alone = {
        i.id: svc.instances.get_instance(world.domain, i.id, scope=SYSTEM)
        for i in svc.instances.list_instances(world.domain, scope=SYSTEM).items
    }
    assert len({(a.status, tuple(a.alerts)) for a in alone.values()}) >= 4  # varied answers
    for order in ("registered", "name", "hostname", "contact"):
        for descending in (False, True):
            page = svc.instances.list_instances(
                world.domain, order=order, descending=descending, scope=SYSTEM
            )
            assert page.items == [alone[i.id] for i in page.items]
            assert len(page.items) == len(alone)
    for va in ("East", "West"):
        page = svc.instances.list_instances(world.domain, va, cursor="", limit=1, scope=SYSTEM)
        walked = list(page.items)
        while page.next_cursor:
            page = svc.instances.list_instances(
                world.domain, va, cursor=page.next_cursor, limit=1, scope=SYSTEM
            )
            walked += page.items
        assert walked == [alone[i.id] for i in walked]
        assert {i.id for i in walked} == {i for i, a in alone.items() if a.virtual_account == va}
