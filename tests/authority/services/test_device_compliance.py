"""The issue's compliance scenario at the service layer (HTTP has its own test)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.services.scope import SYSTEM, system
from smartlic.crypto import Udi, generate_key, load_certificate, verify_certificate
from smartlic.domain.enums import ComplianceStatus, HoldingKind
from smartlic.errors import (
    AlreadyRegistered,
    InsufficientLicenses,
    InvalidInput,
    ReplayDetected,
    SignatureInvalid,
    TokenRejected,
)
from smartlic.formats.envelope import seal_with_key
from smartlic.formats.signed import open_sealed
from tests.authority.services.conftest import OTHER, TAG, World
from tests.devices import TestDevice


def _open(world: World, keys: AuthorityKeys, env: dict[str, Any]) -> dict[str, Any]:
    cert = load_certificate(env["certificate"])
    verify_certificate(cert, keys.ca.certificate, at=world.clock.now())
    return open_sealed(env, cert.public_key())  # type: ignore[arg-type]


def _register(world: World, keys: AuthorityKeys, token: str, n: int) -> TestDevice:
    dev = TestDevice(Udi("C1000V", f"SN{n:04d}"), world.clock, hostname=f"r{n}")
    dev.accept_registration(
        _open(world, keys, world.services.device.register(dev.register_request(token)))
    )
    return dev


def _line(world: World, va: str, tag: str = TAG) -> Any:
    return next(
        line
        for line in world.services.licenses.compliance(world.domain, va, scope=SYSTEM).lines
        if line.tag == tag
    )


def test_pool_goes_out_of_compliance_and_back(world: World, keys: AuthorityKeys) -> None:
    svc = world.services
    svc.licenses.add_holding(world.domain, "East", tag=TAG, quantity=10, scope=system("t"))
    svc.licenses.add_holding(world.domain, "West", tag=TAG, quantity=8, scope=system("t"))
    token = svc.tokens.create_token(world.domain, "East", scope=system("t")).text
    devices = [_register(world, keys, token, i) for i in range(12)]
    answers = [_open(world, keys, svc.device.authorize(d.authorize({TAG: 1}))) for d in devices]
    assert [a["status"] for a in answers[:10]] == ["AUTHORIZED"] * 10
    assert [a["status"] for a in answers[10:]] == ["OUT OF COMPLIANCE"] * 2
    assert _line(world, "East").status is ComplianceStatus.OUT_OF_COMPLIANCE
    assert len(_line(world, "East").instances_concerned) == 12
    assert (_line(world, "East").in_use, _line(world, "East").available) == (12, -2)

    svc.licenses.transfer(world.domain, "West", "East", tag=TAG, quantity=5, scope=system("t"))
    east = _line(world, "East")
    assert (east.purchased, east.in_use, east.status) == (15, 12, ComplianceStatus.IN_COMPLIANCE)
    assert _line(world, "West").purchased == 3

    inst = svc.instances.list_instances(world.domain, "East", search="SN0003", scope=SYSTEM).items[
        0
    ]
    svc.instances.remove_instance(world.domain, inst.id, scope=system("t"))
    assert _line(world, "East").in_use == 11


def test_certificates_verify_and_timers_come_from_the_authority(
    world: World, keys: AuthorityKeys
) -> None:
    token = world.services.tokens.create_token(world.domain, "East", scope=system("t")).text
    dev = TestDevice(Udi("C1000V", "X1"), world.clock)
    reg = _open(world, keys, world.services.device.register(dev.register_request(token)))
    cert = load_certificate(reg["certificate"])
    verify_certificate(cert, keys.ca.certificate, at=world.clock.now())
    now = world.clock.now()
    assert cert.not_valid_after_utc == now + timedelta(days=365)
    assert reg["renew_after"] == (now + timedelta(days=180)).strftime("%Y-%m-%dT%H:%M:%SZ")
    dev.accept_registration(reg)
    request = dev.authorize({TAG: 1})
    auth = _open(world, keys, world.services.device.authorize(request))
    assert auth["request_nonce"] == json.loads(request["payload"])["nonce"]
    assert auth["next_communication"] == (now + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert auth["deadline"] == (now + timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert auth["status"] == "OUT OF COMPLIANCE"  # nothing purchased


def test_term_license_stops_counting_at_its_end(world: World) -> None:
    now = world.clock.now()
    world.services.licenses.add_holding(
        world.domain, "East", tag=TAG, quantity=4, scope=system("t")
    )
    world.services.licenses.add_holding(
        world.domain,
        "East",
        tag=TAG,
        quantity=6,
        kind=HoldingKind.TERM,
        ends_at=now + timedelta(days=365),
        scope=system("t"),
    )
    assert _line(world, "East").purchased == 10
    world.clock.advance(days=366)
    line = _line(world, "East")
    assert line.purchased == 4
    assert [h.active for h in sorted(line.holdings, key=lambda h: h.quantity)] == [True, False]


@pytest.mark.parametrize("how", ["revoked", "expired", "unknown", "used-up"])
def test_unusable_tokens_are_refused_and_nothing_changes(world: World, how: str) -> None:
    svc = world.services
    tok = svc.tokens.create_token(world.domain, "East", days=1, max_uses=1, scope=system("t"))
    text = tok.text
    if how == "revoked":
        svc.tokens.revoke_token(world.domain, tok.token.id, scope=system("t"))
    elif how == "expired":
        world.clock.advance(days=2)
    elif how == "unknown":
        text = svc.tokens.create_token(world.domain, "East", scope=system("t")).text[:-4] + "AAAA"
    else:
        svc.device.register(TestDevice(Udi("P", "first"), world.clock).register_request(text))
    before = svc.instances.list_instances(world.domain, scope=SYSTEM).total
    with pytest.raises(TokenRejected) as err:
        svc.device.register(TestDevice(Udi("P", "S"), world.clock).register_request(text))
    assert err.value.code == f"token-{how}"
    assert svc.instances.list_instances(world.domain, scope=SYSTEM).total == before


def test_reregistration_needs_force_and_force_frees_old_usage(
    world: World, keys: AuthorityKeys
) -> None:
    svc = world.services
    svc.licenses.add_holding(world.domain, "East", tag=TAG, quantity=5, scope=system("t"))
    token = svc.tokens.create_token(world.domain, "East", max_uses=2, scope=system("t")).text
    dev = _register(world, keys, token, 1)
    svc.device.authorize(dev.authorize({TAG: 3}))
    with pytest.raises(AlreadyRegistered):
        svc.device.register(dev.register_request(token))
    assert svc.tokens.list_tokens(world.domain, "East", scope=SYSTEM)[0].uses == 1  # rolled back
    svc.device.register(dev.register_request(token, force=True))
    assert _line(world, "East").in_use == 0


def test_wrong_key_replay_and_bad_input_are_refused(world: World, keys: AuthorityKeys) -> None:
    svc = world.services
    token = svc.tokens.create_token(world.domain, "East", scope=system("t")).text
    dev = _register(world, keys, token, 1)
    forged = seal_with_key(
        {
            "type": "authorize",
            "udi": {"pid": "C1000V", "sn": "SN0001"},
            "entitlements": [],
            "timestamp": 0,
            "nonce": "x",
        },
        generate_key(),
        dev.key_id,
    )
    with pytest.raises(SignatureInvalid):
        svc.device.authorize(forged)
    env = dev.authorize({TAG: 1})
    svc.device.authorize(env)
    with pytest.raises(ReplayDetected):
        svc.device.authorize(env)
    stale = dev.authorize({TAG: 1})
    world.clock.advance(minutes=10)
    with pytest.raises(ReplayDetected):
        svc.device.authorize(stale)
    for bad in ({TAG: -1}, {TAG: 10**7}):
        with pytest.raises(InvalidInput):
            svc.device.authorize(dev.authorize(bad))
    other = TestDevice(Udi("C1000V", "SN0002"), world.clock)
    req = other.register_request(token)
    req["udi"]["sn"] = "SN0003"
    with pytest.raises(InvalidInput, match="CSR"):
        svc.device.register(req)
    assert _line(world, "East").in_use == 1


def test_unknown_tags_are_answered_invalid_and_not_counted(
    world: World, keys: AuthorityKeys
) -> None:
    svc = world.services
    svc.licenses.add_holding(world.domain, "East", tag=OTHER, quantity=1, scope=system("t"))
    dev = _register(
        world, keys, svc.tokens.create_token(world.domain, "East", scope=system("t")).text, 1
    )
    auth = _open(world, keys, svc.device.authorize(dev.authorize({OTHER: 1, "regid.bogus": 1})))
    assert {e["tag"]: e["status"] for e in auth["entitlements"]} == {
        OTHER: "AUTHORIZED",
        "regid.bogus": "INVALID TAG",
    }


def test_deregister_frees_licenses_and_forgets_identity(world: World, keys: AuthorityKeys) -> None:
    svc = world.services
    svc.licenses.add_holding(world.domain, "East", tag=TAG, quantity=5, scope=system("t"))
    dev = _register(
        world, keys, svc.tokens.create_token(world.domain, "East", scope=system("t")).text, 1
    )
    svc.device.authorize(dev.authorize({TAG: 2}))
    assert _line(world, "East").in_use == 2
    svc.device.deregister(dev.deregister())
    assert _line(world, "East").in_use == 0
    with pytest.raises(SignatureInvalid):
        svc.device.authorize(dev.authorize({TAG: 1}))


def test_renew_id_replaces_the_identity_certificate(world: World, keys: AuthorityKeys) -> None:
    svc = world.services
    dev = _register(
        world, keys, svc.tokens.create_token(world.domain, "East", scope=system("t")).text, 1
    )
    world.clock.advance(days=181)
    env, new_key = dev.renew_id()
    reg = _open(world, keys, svc.device.renew_id(env))
    old_id = dev.key_id
    dev.key, dev.certificate_pem = new_key, reg["certificate"]
    assert dev.key_id != old_id
    assert load_certificate(
        reg["certificate"]
    ).not_valid_after_utc == world.clock.now() + timedelta(days=365)
    svc.device.authorize(dev.authorize({}))


def test_instance_transfer_moves_usage_between_pools(world: World, keys: AuthorityKeys) -> None:
    svc = world.services
    dev = _register(
        world, keys, svc.tokens.create_token(world.domain, "East", scope=system("t")).text, 1
    )
    svc.device.authorize(dev.authorize({TAG: 2}))
    inst = svc.instances.list_instances(world.domain, scope=SYSTEM).items[0]
    moved = svc.instances.transfer_instance(world.domain, inst.id, target="West", scope=system("t"))
    assert moved.virtual_account == "West"
    assert _line(world, "West").in_use == 2 and _line(world, "East").in_use == 0


def test_transfer_more_than_available_is_refused(world: World) -> None:
    svc = world.services
    svc.licenses.add_holding(world.domain, "West", tag=TAG, quantity=3, scope=system("t"))
    with pytest.raises(InsufficientLicenses):
        svc.licenses.transfer(world.domain, "West", "East", tag=TAG, quantity=4, scope=system("t"))
    assert _line(world, "West").purchased == 3


def test_a_refused_registration_is_in_the_event_log(world: World) -> None:
    tok = world.services.tokens.create_token(world.domain, "East", scope=system("t"))
    world.services.tokens.revoke_token(world.domain, tok.token.id, scope=system("t"))
    device = TestDevice(Udi("C1000V", "REFUSED1"), world.clock)
    with pytest.raises(TokenRejected):
        world.services.device.register(device.register_request(tok.text))
    [event] = world.services.events.list_events(
        None, name_prefix="instance.registration", scope=SYSTEM
    ).items
    assert (event.name, event.subject) == ("instance.registration.refused", str(device.udi))
    assert event.properties["code"] == "token-revoked"
