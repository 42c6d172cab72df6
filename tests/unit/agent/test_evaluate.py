"""The pure state machine: what each license may do, given a state, a usage and a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from smartlic.agent import Timers
from smartlic.agent._evaluate import consume_evaluation, derive, evaluation_remaining
from smartlic.agent._state import AgentState, AuthorizationRecord, RegistrationRecord
from smartlic.domain.enums import AuthorizationState, RegistrationState

NOW = datetime(2026, 1, 1, tzinfo=UTC)
T = Timers()
A = AuthorizationState


def _registered(
    statuses: dict[str, str], counts: dict[str, int], export: bool = True
) -> AgentState:
    reg = RegistrationRecord(
        instance_id="i",
        certificate_pem="",
        ca_certificate_pem="",
        smart_account="",
        virtual_account="",
        export_controlled_allowed=export,
        registered_at=NOW,
        certificate_expires=NOW + timedelta(days=365),
        renew_after=NOW + timedelta(days=180),
    )
    auth = AuthorizationRecord(
        status=A.AUTHORIZED,
        statuses=statuses,
        counts=counts,
        authorized_at=NOW,
        next_communication=NOW + timedelta(days=30),
        deadline=NOW + timedelta(days=90),
    )
    return AgentState(
        registration_state=RegistrationState.REGISTERED, registration=reg, authorization=auth
    )


def test_unregistered_usage_is_evaluation() -> None:
    view = derive(AgentState(), {"a": 1}, NOW, T)
    assert (view.state, view.statuses, view.evaluating) == (A.EVAL, {"a": "EVAL MODE"}, True)
    assert derive(AgentState(), {}, NOW, T).state is A.NONE


def test_covered_licenses_take_the_authoritys_word() -> None:
    state = _registered({"a": "AUTHORIZED", "b": "OUT OF COMPLIANCE"}, {"a": 2, "b": 1})
    view = derive(state, {"a": 2, "b": 1}, NOW, T)
    assert view.state is A.OUT_OF_COMPLIANCE
    assert view.statuses == {"a": "AUTHORIZED", "b": "OUT OF COMPLIANCE"}
    assert view.since == NOW
    assert derive(state, {"a": 1}, NOW, T).state is A.AUTHORIZED  # fewer than authorized
    assert derive(state, {}, NOW, T).state is A.AUTHORIZED  # registered, nothing in use


def test_usage_beyond_the_last_answer_evaluates_until_the_next() -> None:
    state = _registered({"a": "AUTHORIZED"}, {"a": 1})
    view = derive(state, {"a": 2, "c": 1}, NOW, T)
    assert view.statuses == {"a": "EVAL MODE", "c": "EVAL MODE"}
    assert view.evaluating and view.state is A.AUTHORIZED


def test_deadline_then_grace() -> None:
    state = _registered({"a": "AUTHORIZED"}, {"a": 1})
    expired = derive(state, {"a": 1}, NOW + timedelta(days=90), T)
    assert (expired.state, expired.statuses["a"]) == (
        A.AUTHORIZATION_EXPIRED,
        "AUTHORIZATION EXPIRED",
    )
    assert expired.permitted() == {"a": True}
    over = derive(state, {"a": 1}, NOW + timedelta(days=180), T)
    assert (over.state, over.since) == (A.GRACE_EXPIRED, NOW + timedelta(days=180))
    assert over.permitted() == {"a": False}


def test_export_controlled_follows_the_registration() -> None:
    assert derive(AgentState(), {"x": 1}, NOW, T, frozenset({"x"})).statuses == {
        "x": "NOT AUTHORIZED"
    }
    state = _registered({}, {}, export=True)
    assert derive(state, {"x": 1}, NOW, T, frozenset({"x"})).statuses == {"x": "EVAL MODE"}
    state = _registered({}, {}, export=False)
    assert derive(state, {"x": 1}, NOW, T, frozenset({"x"})).statuses == {"x": "NOT AUTHORIZED"}


def test_disabled_grants_nothing() -> None:
    view = derive(AgentState(enabled=False), {"a": 1}, NOW, T)
    assert (view.state, view.permitted()) == (A.NONE, {"a": False})


def test_consumption_records_the_exact_expiry() -> None:
    state = AgentState(eval_used_s=timedelta(days=89).total_seconds())
    consume_evaluation(state, NOW, NOW + timedelta(days=3), T)
    assert evaluation_remaining(state, T) == timedelta(0)
    assert state.eval_expired_at == NOW + timedelta(days=1)
    consume_evaluation(state, NOW + timedelta(days=3), NOW + timedelta(days=4), T)
    assert state.eval_expired_at == NOW + timedelta(days=1)  # recorded once
