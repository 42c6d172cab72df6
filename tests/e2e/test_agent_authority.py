"""The agent SDK against the real authority over loopback HTTP, months moved in milliseconds.

Every exchange is real: uvicorn + FastAPI + the services on SQLite (and PostgreSQL when
reachable), signed envelopes both ways, one ``ManualClock`` shared by authority and devices.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from smartlic.agent import AgentEvent, LicenseManager
from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.services import build_services
from smartlic.authority.services.scope import SYSTEM, system
from smartlic.crypto import make_token_text
from smartlic.domain.enums import AuthorizationState, RegistrationState
from smartlic.errors import AlreadyRegistered, Conflict, SignatureInvalid, TokenRejected
from tests.e2e.conftest_agent import (
    ATM,
    DOMAIN,
    GNSS,
    IPSEC,
    Authority,
    authority_fixture,  # noqa: F401  (provides the ``authority`` fixture)
    serve,
    tick_daily,
)

pytestmark = pytest.mark.e2e

A = AuthorizationState
R = RegistrationState


def _registered(authority: Authority, sn: str = "FOX0001", **kwargs: object) -> LicenseManager:
    device = authority.device(sn, **kwargs)  # type: ignore[arg-type]
    device.register(authority.token())
    return device


def test_register_authorizes_with_the_authoritys_timers(authority: Authority) -> None:
    authority.buy(ATM.tag, 5)
    device = authority.device()
    device.request(ATM.tag, count=2)
    assert device.check(ATM.tag) == "EVAL MODE"
    received: list[AgentEvent] = []
    device.on_event(received.append)
    now = authority.clock.now()

    status = device.register(authority.token())

    reg, auth = status.registration, status.authorization
    assert reg.state is R.REGISTERED
    assert (reg.smart_account, reg.virtual_account) == ("Example Corp", "DEFAULT")
    assert reg.initial_registration is not None and reg.initial_registration.succeeded
    assert reg.next_renewal_attempt == now + timedelta(days=180)
    assert reg.registration_expires == now + timedelta(days=365)
    assert auth.state is A.AUTHORIZED
    assert auth.state_since == now
    assert auth.next_communication_attempt == now + timedelta(days=30)
    assert auth.communication_deadline == now + timedelta(days=90)
    assert auth.last_communication_attempt is not None
    assert auth.last_communication_attempt.succeeded
    assert [(u.name, u.count, u.status) for u in status.licenses] == [("atm", 2, "AUTHORIZED")]
    assert device.is_authorized(ATM.tag)
    assert authority.in_use(ATM.tag) == 2
    (instance,) = authority.instances()
    assert (instance.udi_sn, instance.hostname) == ("FOX0001", "router-fox0001")
    assert [e.name for e in received][:2] == [
        "agent.registration.succeeded",
        "agent.authorization.succeeded",
    ]


def test_usage_changes_are_sent_by_tick_not_by_request(authority: Authority) -> None:
    authority.buy(GNSS.tag, 5)
    device = _registered(authority)
    handle = device.request(GNSS.tag)
    assert device.check(GNSS.tag) == "EVAL MODE"  # no I/O in request(): not yet authorized
    assert authority.in_use(GNSS.tag) == 0
    device.tick()
    assert device.check(GNSS.tag) == "AUTHORIZED"
    assert authority.in_use(GNSS.tag) == 1
    device.release(handle)
    assert device.sync() is not None
    assert authority.in_use(GNSS.tag) == 0
    assert device.sync() is None  # nothing changed since


def test_restarted_device_stays_registered(authority: Authority) -> None:
    authority.buy(ATM.tag, 1)
    first = _registered(authority)
    first.close()
    second = authority.device()
    assert second.status().registration.state is R.REGISTERED
    second.request(ATM.tag)
    second.tick()
    assert second.check(ATM.tag) == "AUTHORIZED"


def test_exhausted_pool_is_out_of_compliance_after_the_next_renewal(authority: Authority) -> None:
    authority.buy(ATM.tag, 3)
    first = _registered(authority, "FOX0001")
    first.request(ATM.tag, count=2)
    first.tick()
    assert first.status().authorization.state is A.AUTHORIZED

    second = _registered(authority, "FOX0002")
    second.request(ATM.tag, count=2)
    second.tick()
    assert second.status().authorization.state is A.OUT_OF_COMPLIANCE
    assert second.check(ATM.tag) == "OUT OF COMPLIANCE"
    assert second.is_authorized(ATM.tag)  # classic licensing reports, it does not stop features

    assert first.status().authorization.state is A.AUTHORIZED  # until it talks again
    tick_daily(first, authority.clock, 30)
    assert first.status().authorization.state is A.OUT_OF_COMPLIANCE
    assert (
        first.status().authorization.next_communication_attempt
        == authority.clock.now() + timedelta(days=30)
    )


def test_unreachable_for_91_days_expires_then_recovers(authority: Authority) -> None:
    authority.buy(ATM.tag, 1)
    device = _registered(authority)
    device.request(ATM.tag)
    device.tick()
    authorized_at = authority.clock.now()
    received: list[AgentEvent] = []
    device.on_event(received.append)

    authority.served.stop()
    tick_daily(device, authority.clock, 91)

    auth = device.status().authorization
    assert auth.state is A.AUTHORIZATION_EXPIRED
    assert auth.state_since == authorized_at + timedelta(days=90)
    assert auth.last_communication_attempt is not None
    assert not auth.last_communication_attempt.succeeded
    assert auth.last_communication_attempt.failure_reason == (
        "Fail to send out Smart Licensing HTTP message."
    )
    assert device.check(ATM.tag) == "AUTHORIZATION EXPIRED"
    assert device.is_authorized(ATM.tag)  # the grace period
    assert "agent.authorization.expired" in [e.name for e in received]
    assert auth.next_communication_attempt is not None
    assert auth.next_communication_attempt <= authority.clock.now() + timedelta(hours=24)

    authority.served.start()
    tick_daily(device, authority.clock, 1)
    auth = device.status().authorization
    assert auth.state is A.AUTHORIZED
    assert auth.communication_deadline == authority.clock.now() + timedelta(days=90)
    assert device.check(ATM.tag) == "AUTHORIZED"


def test_grace_period_expires_after_180_days_without_contact(authority: Authority) -> None:
    authority.buy(ATM.tag, 1)
    device = _registered(authority)
    device.request(ATM.tag)
    device.tick()
    authority.served.stop()
    tick_daily(device, authority.clock, 181)
    status = device.status()
    assert status.authorization.state is A.GRACE_EXPIRED
    assert device.check(ATM.tag) == "GRACE PERIOD EXPIRED"
    assert not device.is_authorized(ATM.tag)
    renewal = status.registration.last_renewal_attempt  # the id renewal at +180 d failed too
    assert renewal is not None and not renewal.succeeded
    assert status.registration.state is R.REGISTERED  # until the certificate expires


def test_identity_is_renewed_at_180_days(authority: Authority) -> None:
    device = _registered(authority)
    registered_at = authority.clock.now()
    tick_daily(device, authority.clock, 181)
    reg = device.status().registration
    assert reg.last_renewal_attempt is not None and reg.last_renewal_attempt.succeeded
    renewed_at = reg.last_renewal_attempt.at
    assert renewed_at == registered_at + timedelta(days=180)
    assert reg.next_renewal_attempt == renewed_at + timedelta(days=180)
    assert reg.registration_expires == renewed_at + timedelta(days=365)
    device.renew("auth")  # the renewed identity signs requests the authority accepts
    assert device.status().authorization.state is A.AUTHORIZED


def test_manual_renewals(authority: Authority) -> None:
    device = _registered(authority)
    authority.clock.advance(days=3)
    attempt = device.renew("auth")
    assert attempt.succeeded
    auth = device.status().authorization
    assert auth.next_communication_attempt == authority.clock.now() + timedelta(days=30)
    assert device.renew("id").succeeded


def test_deregister_frees_the_licenses_at_the_authority(authority: Authority) -> None:
    authority.buy(ATM.tag, 2)
    device = _registered(authority)
    device.request(ATM.tag, count=2)
    device.tick()
    assert authority.in_use(ATM.tag) == 2

    attempt = device.deregister()

    assert attempt.succeeded
    assert authority.in_use(ATM.tag) == 0
    assert authority.instances() == []
    status = device.status()
    assert status.registration.state is R.UNREGISTERED
    assert status.authorization.state is A.EVAL
    assert device.check(ATM.tag) == "EVAL MODE"
    assert not (device._ctx.store.identity_path).exists()


def test_deregister_with_the_authority_down_still_forgets_locally(authority: Authority) -> None:
    device = _registered(authority)
    authority.served.stop()
    attempt = device.deregister()
    assert not attempt.succeeded
    assert attempt.failure_reason == "Fail to send out Smart Licensing HTTP message."
    assert device.status().registration.state is R.UNREGISTERED


def test_unknown_token_is_refused(authority: Authority) -> None:
    device = authority.device()
    with pytest.raises(TokenRejected) as info:
        device.register(make_token_text(authority.keys.ca_fingerprint))
    assert info.value.code == "token-unknown"
    reg = device.status().registration
    assert reg.state is R.FAILED
    assert reg.initial_registration is not None
    assert reg.initial_registration.failure_reason == info.value.detail
    assert reg.next_retry is None  # a refusal is not retried


def test_expired_token_is_refused(authority: Authority) -> None:
    token = authority.token(days=1)
    authority.clock.advance(days=2)
    device = authority.device()
    with pytest.raises(TokenRejected) as info:
        device.register(token)
    assert info.value.code == "token-expired"
    assert device.status().registration.state is R.FAILED


def test_registering_twice_needs_force(authority: Authority) -> None:
    authority.buy(ATM.tag, 1)
    device = _registered(authority)
    device.request(ATM.tag)
    device.tick()
    with pytest.raises(AlreadyRegistered):
        device.register(authority.token())
    status = device.register(authority.token(), force=True)
    assert status.registration.state is R.REGISTERED
    assert status.authorization.state is A.AUTHORIZED
    assert authority.in_use(ATM.tag) == 1
    assert len(authority.instances()) == 1


RIVAL = "rival.example"


def _second_account(authority: Authority) -> str:
    """Another smart account, whose token moves a device there; returns the token."""
    accounts = authority.services.accounts
    accounts.create_smart_account(name="Rival Corp", domain=RIVAL, scope=system("test"))
    return authority.services.tokens.create_token(RIVAL, "DEFAULT", scope=system("test")).text


def test_a_registered_device_moves_itself_to_another_account_with_proof(
    authority: Authority,
) -> None:
    """``license smart register idtoken <other account's token> force``: the agent signs a
    register-proof with its current identity, so its owner may move it (issue 8 finding 1)."""
    authority.buy(ATM.tag, 1)
    device = _registered(authority)
    token = _second_account(authority)

    status = device.register(token, force=True)

    assert status.registration.state is R.REGISTERED
    assert status.registration.smart_account == "Rival Corp"
    assert authority.instances() == []  # gone from example.com
    (moved,) = authority.services.instances.list_instances(RIVAL, scope=SYSTEM).items
    assert moved.udi_sn == "FOX0001"
    [left] = authority.services.events.list_events(
        DOMAIN, name_prefix="instance.moved_away", scope=SYSTEM
    ).items
    assert "FOX0001" in str(left.subject)


def test_a_device_without_the_identity_key_cannot_move_it(authority: Authority) -> None:
    """The same UDI from a fresh state (no identity key, so no proof) is refused: 409
    ownership-not-proven, the device stays where it is and its holder sees the attempt."""
    device = _registered(authority)
    token = _second_account(authority)
    impostor = authority.device(state_dir=authority.tmp_path / "impostor")

    with pytest.raises(Conflict) as info:
        impostor.register(token, force=True)

    assert info.value.code == "ownership-not-proven"
    (kept,) = authority.instances()
    assert kept.udi_sn == "FOX0001"
    assert authority.services.instances.list_instances(RIVAL, scope=SYSTEM).items == []
    refused = authority.services.events.list_events(
        DOMAIN, name_prefix="instance.registration.refused", scope=SYSTEM
    ).items
    assert len(refused) == 1
    assert device.status().registration.state is R.REGISTERED


def test_an_authority_with_other_keys_is_not_trusted(
    authority: Authority, keys: AuthorityKeys, tmp_path: Path
) -> None:
    """An impostor on the same database (so it accepts the token) but with its own keys."""
    other_keys = AuthorityKeys.create(tmp_path / "other-keys", authority.clock.now())
    engine = authority.services.device.engine  # type: ignore[attr-defined]
    impostor = serve(build_services(engine, authority.clock, other_keys), authority.clock, tmp_path)
    try:
        device = authority.device(url=impostor.url)
        with pytest.raises(SignatureInvalid) as info:
            device.register(authority.token())
        assert info.value.code == "ca-mismatch"
        reg = device.status().registration
        assert reg.state is R.FAILED
        assert reg.initial_registration is not None
        assert "pin" in (reg.initial_registration.failure_reason or "")

        genuine = _registered(authority, "FOX0002")
        genuine.set_transport("smart")
        genuine.set_url(impostor.url)  # later answers come from the impostor
        attempt = genuine.renew("auth")
        assert not attempt.succeeded
        # same CA name, other key: the impostor's signing certificate does not chain to our CA
        assert attempt.failure_reason == "certificate signature does not verify"
        assert genuine.status().authorization.state is A.AUTHORIZED  # the old answer stands
    finally:
        impostor.stop()


def test_export_controlled_license_follows_the_token(authority: Authority) -> None:
    authority.buy(IPSEC.tag, 2)
    allowed = _registered(authority, "FOX0001")
    allowed.request(IPSEC.tag)
    allowed.tick()
    assert allowed.check(IPSEC.tag) == "AUTHORIZED"

    refused = authority.device("FOX0002")
    refused.register(authority.token(export_controlled_allowed=False))
    refused.request(IPSEC.tag)
    refused.tick()
    assert refused.check(IPSEC.tag) == "NOT AUTHORIZED"
    assert not refused.is_authorized(IPSEC.tag)
    assert refused.status().authorization.state is A.OUT_OF_COMPLIANCE


def test_unknown_tag_is_shown_invalid(authority: Authority) -> None:
    device = _registered(authority)
    tag = "regid.2026-01.org.example.widget,1.0_00000000-0000-0000-0000-000000000000"
    device.request(tag)
    device.tick()
    assert device.check(tag) == "INVALID TAG"
    assert not device.is_authorized(tag)


def test_the_authoritys_problem_detail_is_the_failure_reason(authority: Authority) -> None:
    """The instance is removed in the portal: the device's next authorization is refused."""
    authority.buy(ATM.tag, 1)
    device = _registered(authority)
    device.request(ATM.tag)
    (instance,) = authority.instances()
    authority.services.instances.remove_instance("example.com", instance.id, scope=system("test"))

    device.tick()

    auth = device.status().authorization
    assert auth.last_communication_attempt is not None
    assert not auth.last_communication_attempt.succeeded
    assert auth.last_communication_attempt.failure_reason == (
        "no product instance holds this identity certificate"
    )
    assert auth.next_communication_attempt == authority.clock.now() + timedelta(minutes=15)
    assert device.check(ATM.tag) == "EVAL MODE"  # never authorized: evaluation goes on
    assert device.status().registration.state is R.REGISTERED
