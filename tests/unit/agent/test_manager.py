"""LicenseManager without an authority: usage, errors, retries with backoff, configuration."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from smartlic.agent import AgentEvent, CallHomeTransport, LicenseManager, SmartTransport
from smartlic.agent._events import EVENT_NAMES
from smartlic.clock import ManualClock
from smartlic.crypto import make_token_text
from smartlic.domain.enums import RegistrationState
from smartlic.errors import (
    AlreadyRegistered,
    Conflict,
    InvalidInput,
    NotFound,
    TokenRejected,
    Unavailable,
)

from .conftest import ATM, GNSS, MakeManager, names

TOKEN = make_token_text("ab" * 32)


# ------------------------------------------------------------------ usage


def test_counts_add_up_per_tag(manager: LicenseManager) -> None:
    a = manager.request(ATM)
    manager.request(ATM, count=2)
    assert manager.usage() == {ATM: 3}
    (usage,) = manager.status().licenses
    assert (usage.name, usage.display_name, usage.count) == ("atm", "Device ATM", 3)
    manager.release(a)
    assert manager.usage() == {ATM: 2}


def test_a_tag_outside_the_catalogue_is_shown_by_its_name(manager: LicenseManager) -> None:
    tag = "regid.2026-01.org.example.widget,1.0_00000000-0000-0000-0000-000000000000"
    manager.request(tag)
    (usage,) = manager.status().licenses
    assert (usage.name, usage.tag, usage.status) == ("widget", tag, "EVAL MODE")


@pytest.mark.parametrize(
    ("tag", "count"), [("", 1), ("x" * 256, 1), (ATM, 0), (ATM, True), (ATM, -2)]
)
def test_bad_requests_are_refused(manager: LicenseManager, tag: str, count: int) -> None:
    with pytest.raises(InvalidInput):
        manager.request(tag, count)
    assert manager.usage() == {}


def test_releasing_twice_is_an_error(manager: LicenseManager) -> None:
    handle = manager.request(ATM)
    manager.release(handle)
    with pytest.raises(NotFound):
        manager.release(handle)
    assert not manager.is_authorized(ATM)


def test_request_and_release_are_thread_safe(manager: LicenseManager) -> None:
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(300):
                handles = [manager.request(ATM), manager.request(GNSS, count=2)]
                assert manager.is_authorized(ATM)
                manager.status()
                for handle in handles:
                    manager.release(handle)
        except BaseException as exc:  # reported below; a thread cannot fail a test itself
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert manager.usage() == {}
    assert manager.status().licenses == []


# ------------------------------------------------------------------ refusals


def test_renew_and_deregister_need_a_registration(manager: LicenseManager) -> None:
    calls: list[Callable[[], object]] = [
        lambda: manager.renew("auth"),
        lambda: manager.renew("id"),
        manager.deregister,
    ]
    for call in calls:
        with pytest.raises(Conflict) as info:
            call()
        assert info.value.code == "not-registered"


def test_renew_what(manager: LicenseManager) -> None:
    with pytest.raises(InvalidInput):
        manager.renew("everything")  # type: ignore[arg-type]


def test_registering_needs_smart_licensing_enabled(manager: LicenseManager) -> None:
    manager.disable()
    with pytest.raises(Conflict) as info:
        manager.register(TOKEN)
    assert info.value.code == "not-enabled"


def test_a_malformed_token_is_refused_before_any_exchange(manager: LicenseManager) -> None:
    with pytest.raises(TokenRejected):
        manager.register("not-a-token")
    assert manager.status().registration.state is RegistrationState.UNREGISTERED


def test_already_registered_without_force(manager: LicenseManager) -> None:
    manager._state.registration_state = RegistrationState.REGISTERED  # white-box: no authority here
    with pytest.raises(AlreadyRegistered):
        manager.register(TOKEN)


# ------------------------------------------------------------------ retries


def test_unreachable_authority_means_retry_with_backoff(
    make_manager: MakeManager, clock: ManualClock, closed_port_url: str
) -> None:
    manager = make_manager(transport=CallHomeTransport(closed_port_url))
    received: list[AgentEvent] = []
    manager.on_event(received.append)
    start = clock.now()
    with pytest.raises(Unavailable):
        manager.register(TOKEN)
    reg = manager.status().registration
    assert reg.state is RegistrationState.RETRY
    assert reg.next_retry == start + timedelta(minutes=15)
    assert reg.initial_registration is not None and not reg.initial_registration.succeeded
    assert reg.initial_registration.failure_reason == "Fail to send out Call Home HTTP message."
    assert names(received)[:2] == [
        "agent.registration.failed",
        "agent.registration.retry_scheduled",
    ]

    clock.advance(minutes=14)
    manager.tick()
    assert manager.status().registration.next_retry == start + timedelta(minutes=15)
    clock.advance(minutes=1)
    manager.tick()  # the retry fails again: next one 30 minutes later
    assert manager.status().registration.next_retry == clock.now() + timedelta(minutes=30)
    assert manager.status().registration.state is RegistrationState.RETRY


def test_retry_state_survives_a_restart(
    make_manager: MakeManager, clock: ManualClock, closed_port_url: str
) -> None:
    first = make_manager(transport=SmartTransport(closed_port_url))
    with pytest.raises(Unavailable) as info:
        first.register(TOKEN)
    assert info.value.detail == "Fail to send out Smart Licensing HTTP message."
    first.close()
    second = make_manager(transport=SmartTransport(closed_port_url))
    assert second.status().registration.state is RegistrationState.RETRY


def test_transport_off_cannot_register(manager: LicenseManager) -> None:
    with pytest.raises(Unavailable):
        manager.register(TOKEN)
    reg = manager.status().registration
    assert reg.state is RegistrationState.RETRY
    assert reg.initial_registration is not None
    assert "Transport is off" in (reg.initial_registration.failure_reason or "")


def test_deregister_while_retrying_gives_up_locally(manager: LicenseManager) -> None:
    with pytest.raises(Unavailable):
        manager.register(TOKEN)
    attempt = manager.deregister()
    assert attempt.succeeded
    assert manager.status().registration.state is RegistrationState.UNREGISTERED


# ------------------------------------------------------------------ configuration and events


def test_transport_configuration_is_persisted(make_manager: MakeManager, state_dir: Path) -> None:
    manager = make_manager(transport=None)
    assert (manager.status().transport.type, manager.status().transport.url) == ("callhome", None)
    manager.set_transport("smart")
    manager.set_url("https://authority.example:8443")
    manager.set_proxy("proxy.example", 3128)
    manager.close()
    transport = make_manager(transport=None).status().transport
    assert (transport.type, transport.url) == ("smart", "https://authority.example:8443")
    assert (transport.proxy_address, transport.proxy_port) == ("proxy.example", 3128)


def test_bad_configuration_is_refused(manager: LicenseManager) -> None:
    with pytest.raises(InvalidInput):
        manager.set_transport("pigeon")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        manager.set_proxy("proxy.example", 70000)
    assert manager.status().transport.type == "off"


def test_a_failing_subscriber_does_not_stop_others(manager: LicenseManager) -> None:
    received: list[str] = []

    def broken(event: AgentEvent) -> None:
        raise RuntimeError("subscriber bug")

    manager.on_event(broken)
    unsubscribe = manager.on_event(lambda e: received.append(e.name))
    manager.request(ATM)
    unsubscribe()
    manager.request(GNSS)
    assert received == ["agent.evaluation.started", "agent.license.requested"]


def test_every_emitted_event_is_catalogued(manager: LicenseManager, clock: ManualClock) -> None:
    received: list[AgentEvent] = []
    manager.on_event(received.append)
    handle = manager.request(ATM)
    manager.set_url("http://127.0.0.1:9")
    manager.disable()
    manager.enable()
    with pytest.raises(Unavailable):
        manager.register(TOKEN)
    clock.advance(days=91)
    manager.tick()
    manager.release(handle)
    assert received and all(e.name in EVENT_NAMES for e in received)
    assert all(e.created.tzinfo is not None for e in received)


def test_background_ticker_runs_and_stops(manager: LicenseManager, clock: ManualClock) -> None:
    manager.request(ATM)
    clock.advance(days=91)
    expired = threading.Event()
    manager.on_event(lambda e: expired.set() if e.name == "agent.evaluation.expired" else None)
    manager.start(interval_s=0.01)
    assert expired.wait(5)
    manager.stop()
    assert manager._ticker is None


def test_repr_names_the_device_and_its_states(manager: LicenseManager) -> None:
    manager.request(ATM)
    assert repr(manager) == (
        "LicenseManager(udi='PID:ASR-903,SN:FOX1234ABCD', registration='UNREGISTERED', "
        "authorization='EVAL MODE')"
    )


def test_a_new_register_command_restarts_the_backoff(
    make_manager: MakeManager, clock: ManualClock, closed_port_url: str
) -> None:
    manager = make_manager(transport=SmartTransport(closed_port_url))
    for _ in range(3):
        with pytest.raises(Unavailable):
            manager.register(TOKEN)
    assert manager.status().registration.next_retry == clock.now() + timedelta(minutes=15)


def test_a_registration_interrupted_by_a_crash_is_retried(
    make_manager: MakeManager, clock: ManualClock, closed_port_url: str
) -> None:
    first = make_manager(transport=SmartTransport(closed_port_url))
    first._state.registration_state = RegistrationState.IN_PROGRESS  # as a crash would leave it
    first._state.pending_token = TOKEN
    first._ctx.save()
    second = make_manager(transport=SmartTransport(closed_port_url))
    reg = second.status().registration
    assert (reg.state, reg.next_retry) == (RegistrationState.RETRY, clock.now())
