"""The evaluation period: 90 days of *use*, persisted across restarts, never given back."""

from __future__ import annotations

import json
from datetime import timedelta

from smartlic.agent import AgentEvent, LicenseManager, Timers
from smartlic.clock import ManualClock
from smartlic.domain.enums import AuthorizationState

from .conftest import ATM, GNSS, IPSEC, MakeManager, names


def _remaining(manager: LicenseManager) -> timedelta:
    return manager.status().authorization.evaluation_remaining


def test_a_new_device_has_90_days_and_nothing_in_use(manager: LicenseManager) -> None:
    auth = manager.status().authorization
    assert auth.state is AuthorizationState.NONE
    assert auth.evaluation_remaining == timedelta(days=90)
    assert not auth.evaluation_in_use
    assert not manager.is_authorized(ATM)
    assert manager.check(ATM) == "NOT IN USE"


def test_requesting_a_license_starts_evaluation(
    manager: LicenseManager, events: list[AgentEvent]
) -> None:
    manager.request(ATM)
    status = manager.status()
    assert status.authorization.state is AuthorizationState.EVAL
    assert status.authorization.evaluation_in_use
    assert manager.is_authorized(ATM)
    assert manager.check(ATM) == "EVAL MODE"
    assert [lic.status for lic in status.licenses] == ["EVAL MODE"]
    assert names(events) == ["agent.evaluation.started", "agent.license.requested"]


def test_evaluation_counts_only_while_in_use(manager: LicenseManager, clock: ManualClock) -> None:
    handle = manager.request(ATM)
    clock.advance(days=30)
    manager.tick()
    assert _remaining(manager) == timedelta(days=60)
    manager.release(handle)
    clock.advance(days=45)
    manager.tick()
    assert _remaining(manager) == timedelta(days=60)
    assert manager.status().authorization.state is AuthorizationState.NONE


def test_two_licenses_in_use_consume_one_clock(manager: LicenseManager, clock: ManualClock) -> None:
    manager.request(ATM)
    manager.request(GNSS, count=3)
    clock.advance(days=10)
    assert _remaining(manager) == timedelta(days=80)


def test_evaluation_expires_after_90_days_of_use(
    manager: LicenseManager, clock: ManualClock, events: list[AgentEvent]
) -> None:
    start = clock.now()
    handle = manager.request(ATM)
    clock.advance(days=89, hours=23)
    manager.tick()
    assert manager.is_authorized(ATM)
    clock.advance(hours=2)
    manager.tick()
    auth = manager.status().authorization
    assert auth.state is AuthorizationState.EVAL_EXPIRED
    assert auth.evaluation_remaining == timedelta(0)
    assert auth.evaluation_expired_at == start + timedelta(days=90)
    assert auth.state_since == start + timedelta(days=90)
    assert not manager.is_authorized(ATM)
    assert manager.check(ATM) == "EVAL EXPIRED"
    assert "agent.evaluation.expired" in names(events)
    manager.release(handle)
    manager.request(GNSS)  # a new license does not get a new period
    assert manager.check(GNSS) == "EVAL EXPIRED"


def test_evaluation_survives_a_restart(make_manager: MakeManager, clock: ManualClock) -> None:
    first = make_manager()
    first.request(ATM)
    clock.advance(days=20)
    first.close()  # the product stops; usage is not persisted, the consumed time is
    clock.advance(days=100)
    second = make_manager()
    assert _remaining(second) == timedelta(days=70)
    second.request(ATM)
    clock.advance(days=70)
    second.tick()
    assert second.status().authorization.state is AuthorizationState.EVAL_EXPIRED


def test_tick_persists_consumed_time(make_manager: MakeManager, clock: ManualClock) -> None:
    first = make_manager()
    first.request(ATM)
    clock.advance(days=5)
    first.tick()  # a crash after this tick loses nothing before it
    assert _remaining(make_manager()) == timedelta(days=85)


def test_a_tampered_counter_is_treated_as_expired(
    make_manager: MakeManager, clock: ManualClock
) -> None:
    first = make_manager()
    first.request(ATM)
    clock.advance(days=80)
    first.close()
    path = first._ctx.store.state_path
    outer = json.loads(path.read_text())
    outer["data"] = outer["data"].replace('"eval_used_s":', '"eval_used_s":0,"x":')
    path.write_text(json.dumps(outer))

    second = make_manager()
    received: list[AgentEvent] = []
    second.on_event(received.append)
    second.request(ATM)
    status = second.status()
    assert status.state_integrity_error == "state file failed its integrity check"
    assert status.authorization.state is AuthorizationState.EVAL_EXPIRED
    assert status.authorization.evaluation_remaining == timedelta(0)
    assert not second.is_authorized(ATM)
    assert "agent.state.integrity_failed" in names(received)
    second.close()
    third = make_manager()  # the verdict is remembered, and the period stays consumed
    assert third.status().state_integrity_error == "state file failed its integrity check"
    assert _remaining(third) == timedelta(0)


def test_a_clock_set_back_gives_no_time_back(manager: LicenseManager, clock: ManualClock) -> None:
    manager.request(ATM)
    clock.advance(days=10)
    manager.tick()
    clock.set(clock.now() - timedelta(days=5))
    manager.tick()
    assert _remaining(manager) == timedelta(days=80)


def test_custom_evaluation_length(make_manager: MakeManager, clock: ManualClock) -> None:
    manager = make_manager(timers=Timers(evaluation=timedelta(days=1)))
    manager.request(ATM)
    clock.advance(hours=25)
    manager.tick()
    assert manager.check(ATM) == "EVAL EXPIRED"


def test_export_controlled_needs_a_registration(manager: LicenseManager) -> None:
    manager.request(IPSEC)
    assert manager.check(IPSEC) == "NOT AUTHORIZED"
    assert not manager.is_authorized(IPSEC)
    (usage,) = manager.status().licenses
    assert (usage.export_status, usage.enforcement) == (
        "RESTRICTED - NOT ALLOWED",
        "EXPORT RESTRICTED",
    )


def test_disabled_smart_licensing_authorizes_nothing_and_stops_the_clock(
    manager: LicenseManager, clock: ManualClock, events: list[AgentEvent]
) -> None:
    manager.request(ATM)
    manager.disable()
    assert not manager.is_authorized(ATM)
    assert manager.check(ATM) == "DISABLED"
    clock.advance(days=30)
    manager.tick()
    status = manager.status()
    assert not status.enabled
    assert status.authorization.evaluation_remaining == timedelta(days=90)
    manager.enable()
    assert manager.is_authorized(ATM)
    assert {"agent.disabled", "agent.enabled"} <= set(names(events))
