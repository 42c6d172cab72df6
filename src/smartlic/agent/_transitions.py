"""What each exchange's outcome does to ``AgentState`` (pure mutations, no I/O, no clock).

Each function applies one outcome and returns the events to emit as ``(name, properties)``
pairs; ``LicenseManager`` does the I/O around them and publishes the events.

Failure policy (domain-notes 1.3-1.4):

* registration: ``Unavailable`` (network, 5xx) -> RETRY with backoff, the token kept for the
  retry; any refusal (token, signature, conflict) -> FAILED, no retry. A forced re-registration
  that fails keeps the previous, still valid registration.
* authorization / identity renewal: any failure -> retry with backoff; the signed deadlines
  decide what the failure costs.
* deregistration: local registration data is removed whatever the authority answered (S2
  ``ciscoSlaSmartAgentNotifyDeRegisterFailed``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from smartlic.agent._state import AgentState, AuthorizationRecord, Job, RegistrationRecord
from smartlic.agent._status import Attempt
from smartlic.agent._timers import Timers
from smartlic.domain.enums import RegistrationState
from smartlic.errors import SmartlicError, Unavailable

__all__ = [
    "Emitted",
    "authorization_failed",
    "authorization_succeeded",
    "deregistered",
    "failure_reason",
    "id_renewal_failed",
    "id_renewal_succeeded",
    "interrupted_registration",
    "registration_expired",
    "registration_failed",
    "registration_started",
    "registration_succeeded",
]

Emitted = list[tuple[str, dict[str, Any]]]


def failure_reason(exc: BaseException) -> str:
    """What ``Attempt.failure_reason`` shows: the authority's problem detail, or ours."""
    if isinstance(exc, SmartlicError):
        return exc.detail
    return f"Internal error: {exc}"


def _failed(job: Job, exc: BaseException, now: datetime, timers: Timers) -> None:
    job.failures += 1
    job.next_at = now + timers.backoff(job.failures)
    job.last = Attempt(now, False, failure_reason(exc))


def registration_started(state: AgentState, token: str, force: bool) -> None:
    """An operator's ``register``: a new attempt, so the retry backoff starts over."""
    if state.registration_state is not RegistrationState.REGISTERED:
        state.registration_state = RegistrationState.IN_PROGRESS
    state.register_job = Job()
    state.pending_token, state.pending_force = token, force


def interrupted_registration(state: AgentState, now: datetime) -> Emitted:
    """A restart found REGISTRATION IN PROGRESS (the process died mid-exchange): retry now."""
    if state.registration_state is not RegistrationState.IN_PROGRESS:
        return []
    if state.pending_token is None:
        state.registration_state = RegistrationState.UNREGISTERED
        return []
    state.registration_state = RegistrationState.RETRY
    state.register_job.next_at = now
    return [("agent.registration.retry_scheduled", {"next_retry": now})]


def registration_succeeded(state: AgentState, record: RegistrationRecord, now: datetime) -> Emitted:
    state.registration_state = RegistrationState.REGISTERED
    state.registration = record
    state.authorization = None  # it belonged to the previous registration, if any
    state.initial_registration = Attempt(now, True)
    state.register_job = Job()
    state.pending_token, state.pending_force = None, False
    state.id_renewal = Job(next_at=record.renew_after)
    state.communication = Job(next_at=now)
    state.integrity_error = None  # a fresh, verified registration re-establishes trust
    props = {"instance_id": record.instance_id, "virtual_account": record.virtual_account}
    return [("agent.registration.succeeded", props)]


def registration_failed(
    state: AgentState, exc: BaseException, now: datetime, timers: Timers
) -> Emitted:
    reason = failure_reason(exc)
    code = getattr(exc, "code", "internal")
    events: Emitted = [("agent.registration.failed", {"reason": reason, "code": code})]
    if state.registration is not None and state.pending_force:
        # forced re-registration refused: the previous registration is still the valid one
        state.registration_state = RegistrationState.REGISTERED
        state.register_job.last = Attempt(now, False, reason)
        state.pending_token, state.pending_force = None, False
        return events
    state.initial_registration = Attempt(now, False, reason)
    if isinstance(exc, Unavailable):
        _failed(state.register_job, exc, now, timers)
        state.registration_state = RegistrationState.RETRY
        retry = {"next_retry": state.register_job.next_at}
        return [*events, ("agent.registration.retry_scheduled", retry)]
    state.registration_state = RegistrationState.FAILED
    state.register_job = Job(last=Attempt(now, False, reason))
    state.pending_token, state.pending_force = None, False
    return events


def registration_expired(state: AgentState) -> Emitted:
    """The identity certificate expired without renewal: back to unidentified (eval resumes)."""
    instance = state.registration.instance_id if state.registration else None
    _clear_registration(state)
    return [("agent.registration.expired", {"instance_id": instance})]


def id_renewal_succeeded(state: AgentState, record: RegistrationRecord, now: datetime) -> Emitted:
    previous = state.registration
    if previous is not None:  # a renewal may omit account names; keep what registration said
        record.smart_account = record.smart_account or previous.smart_account
        record.virtual_account = record.virtual_account or previous.virtual_account
    state.registration = record
    state.id_renewal = Job(next_at=record.renew_after, last=Attempt(now, True))
    expires = record.certificate_expires
    return [("agent.id_renewal.succeeded", {"certificate_expires": expires})]


def id_renewal_failed(
    state: AgentState, exc: BaseException, now: datetime, timers: Timers
) -> Emitted:
    _failed(state.id_renewal, exc, now, timers)
    return [("agent.id_renewal.failed", {"reason": failure_reason(exc)})]


def authorization_succeeded(
    state: AgentState, record: AuthorizationRecord, payload: dict[str, Any], now: datetime
) -> Emitted:
    state.authorization = record
    state.communication = Job(next_at=record.next_communication, last=Attempt(now, True))
    reg = state.registration
    if reg is not None:
        reg.smart_account = str(payload.get("smart_account") or reg.smart_account)
        reg.virtual_account = str(payload.get("virtual_account") or reg.virtual_account)
        if isinstance(payload.get("export_controlled_allowed"), bool):
            reg.export_controlled_allowed = payload["export_controlled_allowed"]
    props = {"status": record.status.value, "next_communication": record.next_communication}
    return [("agent.authorization.succeeded", props)]


def authorization_failed(
    state: AgentState, exc: BaseException, now: datetime, timers: Timers
) -> Emitted:
    _failed(state.communication, exc, now, timers)
    props = {"reason": failure_reason(exc), "next_attempt": state.communication.next_at}
    return [("agent.authorization.failed", props)]


def deregistered(state: AgentState, exc: BaseException | None, now: datetime) -> Emitted:
    instance = state.registration.instance_id if state.registration else None
    _clear_registration(state)
    if exc is None:
        return [("agent.deregistration.succeeded", {"instance_id": instance})]
    props = {"instance_id": instance, "reason": failure_reason(exc)}
    return [("agent.deregistration.failed", props)]


def _clear_registration(state: AgentState) -> None:
    state.registration_state = RegistrationState.UNREGISTERED
    state.registration = None
    state.authorization = None
    state.initial_registration = None
    state.register_job = Job()
    state.pending_token, state.pending_force = None, False
    state.id_renewal = Job()
    state.communication = Job()
