"""The manager's core: its state, locks, derived answers and events (no network I/O here).

Concurrency. Two locks, taken in this order when both are needed:

* ``_exchange_lock`` serialises exchanges with the authority (register, renew, authorize,
  deregister, configuration changes that swap the transport) - at most one is in flight;
* ``_lock`` (re-entrant) guards the in-memory state and is never held during network I/O, so
  ``request``, ``release`` and ``status`` never wait for the authority; ``is_authorized`` and
  ``check`` take no lock at all (``Answers``).

Events are queued under ``_lock`` and dispatched by ``_flush()`` once a public method has
released both locks, so a subscriber may call any method of the manager.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from smartlic.agent import _transitions as tr
from smartlic.agent._evaluate import View, consume_evaluation, derive
from smartlic.agent._events import AgentEvent, EventCallback, Subscribers
from smartlic.agent._held import rederive_classic
from smartlic.agent._policy_state import StateSeenStore
from smartlic.agent._reservation import ReservationEngine
from smartlic.agent._snapshot import Identity, build_status
from smartlic.agent._state import AgentState, StateStore
from smartlic.agent._status import Status, TransportStatus
from smartlic.agent._timers import Timers
from smartlic.agent._transports import Transport, make_transport
from smartlic.agent._usage import Answers, Handle, Ticker
from smartlic.clock import Clock, SystemClock
from smartlic.crypto import Udi, generate_key, load_certificate
from smartlic.domain.enums import AuthorizationState, Enforcement, RegistrationState
from smartlic.domain.products import DEFAULT_PROFILE, LicenseSpec
from smartlic.errors import Conflict
from smartlic.formats.signed import SignedVerifier

__all__ = ["ManagerCore"]

_TRANSITION_EVENTS = {
    AuthorizationState.EVAL: "agent.evaluation.started",
    AuthorizationState.EVAL_EXPIRED: "agent.evaluation.expired",
    AuthorizationState.AUTHORIZATION_EXPIRED: "agent.authorization.expired",
    AuthorizationState.GRACE_EXPIRED: "agent.authorization.grace_expired",
    AuthorizationState.OUT_OF_COMPLIANCE: "agent.compliance.out_of_compliance",
}


class ManagerCore:
    """State, locks, the derived view and events; ``LicenseManager`` adds the public verbs."""

    def __init__(
        self,
        *,
        udi: Udi,
        hostname: str,
        state_dir: Path,
        transport: Transport | None = None,
        clock: Clock | None = None,
        software_tag: str | None = None,
        catalogue: Mapping[str, LicenseSpec] | None = None,
        timers: Timers | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.timers = timers or Timers()
        self.software_tag = software_tag or DEFAULT_PROFILE.software_tag
        self._init_catalogue(udi, hostname, catalogue)
        self._lock = threading.RLock()
        self._exchange_lock = threading.Lock()
        self._subscribers = Subscribers()
        self._events: list[AgentEvent] = []
        self._store = StateStore(Path(state_dir))
        # The one verifier of authority-signed documents; the state is its seen store.
        self._verifier = SignedVerifier(self.clock, seen=StateSeenStore(lambda: self._state.policy))
        self._handles: dict[int, Handle] = {}
        self._usage: dict[str, int] = {}
        self._ids = itertools.count(1)
        self._eval_since: datetime | None = None
        self._ticker: Ticker | None = None
        self._state = self._load_state()
        self.reservation = ReservationEngine(
            lambda: self._state.reservation, udi=udi, clock=self.clock, verifier=self._verifier,
            ca=self._authority_ca, key=self._store.trust_key, lock=self._lock,
            changed=self._reservation_changed,
        )  # fmt: skip
        """SLR / PLR (``_reservation``): request, install, cancel, return, status."""
        self._configured_transport = transport is None
        self._transport = transport or make_transport(self._state.transport)
        self._view = derive(self._state, {}, self.clock.now(), self.timers)
        self._init_fast_path()

    def _init_catalogue(
        self, udi: Udi, hostname: str, catalogue: Mapping[str, LicenseSpec] | None
    ) -> None:
        specs = catalogue if catalogue is not None else {s.tag: s for s in DEFAULT_PROFILE.licenses}
        self._identity = Identity(udi, hostname, dict(specs))
        self._export_controlled = frozenset(
            tag for tag, s in specs.items() if s.enforcement is Enforcement.EXPORT_CONTROLLED
        )

    def _init_fast_path(self) -> None:
        # ``is_authorized(tag)`` and ``check(tag)`` are the bound ``__getitem__`` of two dicts
        # precomputed on every state change: one C-level dict read per check, no Python frame
        # (a method doing ``self._permitted.get(tag, False)`` costs ~2.5x a dict read; this
        # costs ~1.2x). A tag not in use falls to ``Answers.__missing__``.
        self._permitted = Answers(False)
        self._statuses = Answers("NOT IN USE")
        self.is_authorized: Callable[[str], bool] = self._permitted.__getitem__
        """May the feature using ``tag`` run? A dict read of a precomputed answer, no I/O."""
        self.check: Callable[[str], str] = self._statuses.__getitem__
        """The license's ``show license usage`` status ("EVAL MODE", ...) or "NOT IN USE"."""

    @property
    def udi(self) -> Udi:
        return self._identity.udi

    @property
    def hostname(self) -> str:
        return self._identity.hostname

    def _load_state(self) -> AgentState:
        now = self.clock.now()
        state, problem = self._store.load(now)
        rederive_classic(state, self.udi, self.timers)
        if problem is not None:
            state.integrity_error = problem
            self._emit("agent.state.integrity_failed", reason=problem, at=now)
            self._store.save(state)
        for name, props in tr.interrupted_registration(state, now):
            self._emit(name, **props)
        return state

    def usage(self) -> dict[str, int]:
        with self._lock:
            return dict(self._usage)

    def status(self) -> Status:
        """A typed snapshot of everything ``show license ...`` prints (no I/O)."""
        with self._lock:
            now = self.clock.now()
            self._refresh(now)
            snapshot = build_status(
                self._identity,
                self._state,
                self._view,
                self._usage,
                self._transport_status(),
                now,
                self.timers,
            )
            snapshot = self.reservation.decorate(snapshot, classic=self._state.mode == "classic")
        self._flush()
        return snapshot

    def _transport_status(self) -> TransportStatus:
        config = self._state.transport
        own = self._configured_transport
        return TransportStatus(
            type=config.type if own else self._transport.type,  # "automatic" stays automatic
            url=self._transport.url,
            proxy_address=config.proxy_address if own else None,
            proxy_port=config.proxy_port if own else None,
        )

    def on_event(self, callback: EventCallback) -> Callable[[], None]:
        """Subscribe to ``AgentEvent``s; returns a function that unsubscribes."""
        return self._subscribers.add(callback)

    # ------------------------------------------------------------ internals (hold _lock)

    def _registered(self) -> bool:
        state = self._state
        return (
            state.registration_state is RegistrationState.REGISTERED
            and state.registration is not None
        )

    def _dirty(self) -> bool:
        auth = self._state.authorization
        return auth is None or auth.counts != {t: n for t, n in self._usage.items() if n}

    def _require_enabled(self) -> None:
        if not self._state.enabled:
            raise Conflict("Smart Licensing is not enabled", code="not-enabled")

    def _identity_key(self, *, create: bool) -> Ed25519PrivateKey | None:
        key = self._store.load_identity_key()
        if key is None and create:
            key = generate_key()
            self._store.save_identity_key(key)
        return key

    def _apply(self, transition: Callable[..., tr.Emitted], *args: Any) -> None:
        with self._lock:
            for name, props in transition(self._state, *args):
                self._emit(name, **props)
            self._refresh(self.clock.now())
            self._save()

    def _refresh(self, now: datetime) -> None:
        """Charge evaluation time, apply expiries, recompute the fast-path answers."""
        if self._eval_since is not None:
            consume_evaluation(self._state, self._eval_since, now, self.timers)
        reg = self._state.registration
        if self._registered() and reg is not None and now >= reg.certificate_expires:
            for name, props in tr.registration_expired(self._state):
                self._emit(name, **props)
        view = derive(self._state, self._usage, now, self.timers, self._export_controlled)
        view = self.reservation.classic_view(view, self._usage, enabled=self._state.enabled)
        self._publish(view)
        self._eval_since = now if view.evaluating else None

    def _publish(self, view: View) -> None:
        old, self._view = self._view, view
        self._permitted.replace_with(view.permitted())
        self._statuses.replace_with(view.statuses)
        if view.state is not old.state and view.state in _TRANSITION_EVENTS:
            self._emit(_TRANSITION_EVENTS[view.state], previous=old.state.value)

    def _save(self) -> None:
        self._store.save(self._state)

    def _reservation_changed(self) -> None:
        self._refresh(self.clock.now())
        self._save()

    def _authority_ca(self) -> x509.Certificate | None:
        """The CA authority files must chain to: provisioned, else the classic registration's."""
        pem = self._state.policy.authority_ca_pem
        reg = self._state.registration
        if pem is None and reg is not None:
            pem = reg.ca_certificate_pem
        return load_certificate(pem) if pem else None

    def _emit(self, name: str, **props: Any) -> None:
        self._events.append(AgentEvent(name, self.clock.now(), props))

    def _flush(self) -> None:
        with self._lock:
            events, self._events = self._events, []
        self._subscribers.dispatch(events)
