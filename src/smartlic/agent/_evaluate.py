"""The classic state machine as pure functions: (state, usage, now) -> what each license may do.

Nothing here reads a clock or touches a disk; ``LicenseManager`` calls ``derive`` after every
change and every tick and keeps the result, so the hot path (``is_authorized``) is a dict read.

Rules (domain-notes 1.2-1.4, YANG ``authorization-state`` / ``EnforcementModeEnum``):

* Unregistered (or registered but never authorized): every license in use is in EVAL MODE while
  evaluation time remains, EVAL EXPIRED after. Export-controlled licenses are NOT AUTHORIZED
  unless a registration allowed export-controlled functionality.
* Registered with a current authorization (now < the authority's signed ``deadline``): each
  license covered by the last authorization (same tag, count not above what was authorized)
  has the status the authority gave it; a license not covered yet (requested since the last
  exchange) stays in EVAL MODE until the next authorization answers for it (YANG: evaluation
  "remains in use until ... a successful response to an entitlement authorization request").
* deadline <= now < deadline + grace: AUTHORIZATION EXPIRED (licenses keep working: the grace
  period); after that GRACE PERIOD EXPIRED (they stop).
* Evaluation time is consumed while at least one license is in EVAL MODE.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from smartlic.agent._state import AgentState, AuthorizationRecord
from smartlic.agent._timers import Timers
from smartlic.domain.enums import AuthorizationState, RegistrationState

__all__ = ["PERMITTED", "View", "consume_evaluation", "derive", "evaluation_remaining"]

EVAL_MODE = "EVAL MODE"
EVAL_EXPIRED = "EVAL EXPIRED"
NOT_AUTHORIZED = "NOT AUTHORIZED"
DISABLED = "DISABLED"
# Statuses under which a feature may run. OUT OF COMPLIANCE still runs: classic Smart
# Licensing is not enforcing ("it is marked as having a license shortage, but continues to use
# the license" - first reference document, "Product Instances").
PERMITTED = frozenset(
    {"AUTHORIZED", "OUT OF COMPLIANCE", EVAL_MODE, "AUTHORIZATION EXPIRED", "AUTHORIZED - RESERVED"}
)
_BAD = frozenset({"OUT OF COMPLIANCE", "INVALID TAG", NOT_AUTHORIZED})


@dataclass(frozen=True)
class View:
    """The derived state: overall authorization state and a status per license in use."""

    state: AuthorizationState
    statuses: dict[str, str]
    since: datetime | None = None

    @property
    def evaluating(self) -> bool:
        return EVAL_MODE in self.statuses.values()

    def permitted(self) -> dict[str, bool]:
        return {tag: status in PERMITTED for tag, status in self.statuses.items()}


def evaluation_remaining(state: AgentState, timers: Timers) -> timedelta:
    if state.eval_forfeited:
        return timedelta(0)
    return max(timers.evaluation - timedelta(seconds=state.eval_used_s), timedelta(0))


def consume_evaluation(state: AgentState, since: datetime, now: datetime, timers: Timers) -> None:
    """Charge the evaluation period for ``since..now`` (the caller knows it was in use)."""
    elapsed = (now - since).total_seconds()
    if elapsed <= 0 or state.eval_forfeited:
        return  # a clock set backwards never gives evaluation time back
    left = evaluation_remaining(state, timers).total_seconds()
    state.eval_used_s += elapsed
    if left > 0 and elapsed >= left and state.eval_expired_at is None:
        state.eval_expired_at = since + timedelta(seconds=left)


def derive(
    state: AgentState,
    usage: Mapping[str, int],
    now: datetime,
    timers: Timers,
    export_controlled: frozenset[str] = frozenset(),
) -> View:
    """The overall state and every in-use license's status at ``now``."""
    if not state.enabled:
        return View(AuthorizationState.NONE, dict.fromkeys(usage, DISABLED))
    auth = _current_authorization(state)
    if auth is not None and now >= auth.deadline:
        return _expired(auth, usage, now, timers)
    eval_status = EVAL_MODE if evaluation_remaining(state, timers) else EVAL_EXPIRED
    export_ok = state.registration is not None and state.registration.export_controlled_allowed
    statuses = {
        tag: _license_status(
            tag, count, auth, eval_status, export_ok or tag not in export_controlled
        )
        for tag, count in usage.items()
    }
    return _overall(state, auth, statuses)


def _current_authorization(state: AgentState) -> AuthorizationRecord | None:
    registered = state.registration_state is RegistrationState.REGISTERED
    return state.authorization if registered and state.registration else None


def _expired(
    auth: AuthorizationRecord, usage: Mapping[str, int], now: datetime, timers: Timers
) -> View:
    grace_end = auth.deadline + timers.grace
    if now < grace_end:
        state, since = AuthorizationState.AUTHORIZATION_EXPIRED, auth.deadline
    else:
        state, since = AuthorizationState.GRACE_EXPIRED, grace_end
    return View(state, dict.fromkeys(usage, state.value), since)


def _license_status(
    tag: str, count: int, auth: AuthorizationRecord | None, eval_status: str, export_ok: bool
) -> str:
    if auth is not None and tag in auth.statuses and count <= auth.counts.get(tag, 0):
        return auth.statuses[tag]
    return eval_status if export_ok else NOT_AUTHORIZED


def _overall(state: AgentState, auth: AuthorizationRecord | None, statuses: dict[str, str]) -> View:
    if auth is not None:
        bad = any(s in _BAD for s in statuses.values())
        overall = AuthorizationState.OUT_OF_COMPLIANCE if bad else AuthorizationState.AUTHORIZED
        return View(overall, statuses, auth.authorized_at)
    if not statuses:
        return View(AuthorizationState.NONE, statuses)
    if EVAL_MODE in statuses.values():
        return View(AuthorizationState.EVAL, statuses)
    if EVAL_EXPIRED in statuses.values():
        return View(AuthorizationState.EVAL_EXPIRED, statuses, state.eval_expired_at)
    return View(AuthorizationState.EVAL, statuses)  # only export-controlled licenses refused
