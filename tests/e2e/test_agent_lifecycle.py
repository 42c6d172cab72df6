"""Long-running behaviour against the real authority: retries with backoff, registration
expiry after a year of silence, and usage changing while exchanges are in flight."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from smartlic.agent import AgentEvent, Handle
from smartlic.domain.enums import AuthorizationState, RegistrationState
from smartlic.errors import Unavailable
from tests.e2e.conftest_agent import (
    ATM,
    GNSS,
    Authority,
    authority_fixture,  # noqa: F401  (provides the ``authority`` fixture)
    tick_daily,
)

pytestmark = pytest.mark.e2e

A = AuthorizationState
R = RegistrationState


def test_registration_is_retried_until_the_authority_answers(authority: Authority) -> None:
    authority.buy(ATM.tag, 1)
    token = authority.token()
    device = authority.device()
    device.request(ATM.tag)
    authority.served.stop()
    with pytest.raises(Unavailable):
        device.register(token)
    assert device.status().registration.state is R.RETRY

    authority.served.start()
    authority.clock.advance(minutes=15)
    device.tick()

    status = device.status()
    assert status.registration.state is R.REGISTERED
    assert status.registration.next_retry is None
    assert status.authorization.state is A.AUTHORIZED
    assert device.check(ATM.tag) == "AUTHORIZED"


def test_failed_authorizations_back_off(authority: Authority) -> None:
    device = authority.device()
    device.register(authority.token())
    authority.served.stop()
    start = authority.clock.now()
    attempt = device.renew("auth")
    assert not attempt.succeeded
    auth = device.status().authorization
    assert auth.next_communication_attempt == start + timedelta(minutes=15)
    authority.clock.advance(minutes=15)
    device.tick()
    auth = device.status().authorization
    assert auth.next_communication_attempt == authority.clock.now() + timedelta(minutes=30)
    assert auth.state is A.AUTHORIZED  # the signed deadline is 90 days away
    authority.served.start()
    authority.clock.advance(minutes=30)
    device.tick()
    auth = device.status().authorization
    assert auth.last_communication_attempt is not None
    assert auth.last_communication_attempt.succeeded
    assert auth.next_communication_attempt == authority.clock.now() + timedelta(days=30)


def test_a_year_without_contact_unregisters_and_evaluation_resumes(authority: Authority) -> None:
    authority.buy(ATM.tag, 1)
    device = authority.device()
    device.request(ATM.tag)
    authority.clock.advance(days=10)  # 10 days of evaluation used before registering
    device.register(authority.token())
    registered_at = authority.clock.now()
    received: list[AgentEvent] = []
    device.on_event(received.append)
    authority.served.stop()

    tick_daily(device, authority.clock, 366)

    status = device.status()
    assert status.registration.state is R.UNREGISTERED
    assert "agent.registration.expired" in [e.name for e in received]
    assert status.authorization.state is A.EVAL
    expired_at = registered_at + timedelta(days=365)
    used_since = authority.clock.now() - expired_at
    remaining = timedelta(days=80) - used_since
    assert status.authorization.evaluation_remaining == remaining
    assert device.check(ATM.tag) == "EVAL MODE"


def test_usage_changing_during_exchanges_converges(authority: Authority) -> None:
    """Request/release from several threads while the ticker authorizes in the background;
    once quiet, one sync makes the authority's count equal the device's."""
    authority.buy(ATM.tag, 100)
    authority.buy(GNSS.tag, 100)
    device = authority.device()
    device.register(authority.token())
    device.start(interval_s=0.005)
    errors: list[BaseException] = []
    kept: list[Handle] = []

    def worker(n: int) -> None:
        try:
            for i in range(40):
                handle = device.request(ATM.tag if i % 2 else GNSS.tag)
                if (i + n) % 3:
                    device.release(handle)
                else:
                    kept.append(handle)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    device.stop()
    assert errors == []
    device.sync()
    usage = device.usage()
    assert authority.in_use(ATM.tag) == usage.get(ATM.tag, 0)
    assert authority.in_use(GNSS.tag) == usage.get(GNSS.tag, 0)
    assert sum(usage.values()) == len(kept)
    assert device.check(ATM.tag) == "AUTHORIZED"
    assert device.check(GNSS.tag) == "AUTHORIZED"
