"""The collaborators every licensing-mode engine shares: one ``AgentContext`` per manager.

``LicenseManager`` (``_manager``) is a facade over one engine per mode - ``SmartEngine``
(classic, ``_smart``), ``PolicyEngine`` (``_policy_runtime``) and ``TraditionalEngine``
(``_traditional``). None of them inherits from another; each receives this context and reads
or changes the device through it:

* ``clock`` and ``timers``: all time;
* ``store`` and ``state``: the persistent ``AgentState`` (``save()`` writes it atomically);
* ``transport``: the current transport (a configuration change swaps it);
* ``events``: the event bus - ``emit`` queues under ``lock``, ``flush`` dispatches after;
* ``verifier``: the one verifier of authority-signed documents (``formats/signed.py``);
* ``usage``/``handles``: the live check-outs, and ``permitted``/``statuses``: the fast-path
  answers an engine publishes at every change.

Concurrency. Two locks, taken in this order when both are needed:

* ``exchange_lock`` serialises exchanges with the authority - at most one is in flight;
* ``lock`` (re-entrant) guards the in-memory state and is never held during network I/O, so
  ``request``, ``release`` and ``status`` never wait for the authority; ``is_authorized`` and
  ``check`` take no lock at all (``Answers``).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Mapping
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from smartlic.agent import _transitions as tr
from smartlic.agent._events import AgentEvent, EventCallback, Subscribers
from smartlic.agent._held import rederive_classic
from smartlic.agent._policy_state import StateSeenStore
from smartlic.agent._snapshot import Identity
from smartlic.agent._state import AgentState, StateStore
from smartlic.agent._timers import Timers
from smartlic.agent._transports import Transport, make_transport
from smartlic.agent._usage import Answers, Handle
from smartlic.clock import Clock
from smartlic.crypto import Udi, generate_key, load_certificate
from smartlic.domain.enums import Enforcement, RegistrationState
from smartlic.domain.products import LicenseSpec
from smartlic.errors import Conflict
from smartlic.formats.signed import SignedVerifier

__all__ = ["AgentContext", "EventBus"]


class EventBus:
    """Events queued while the state lock is held, dispatched once it is released, so a
    subscriber may call any method of the manager."""

    def __init__(self, clock: Clock, lock: threading.RLock) -> None:
        self._clock, self._lock = clock, lock
        self._subscribers = Subscribers()
        self._queued: list[AgentEvent] = []

    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        return self._subscribers.add(callback)

    def emit(self, name: str, **props: Any) -> None:
        self._queued.append(AgentEvent(name, self._clock.now(), props))

    def flush(self) -> None:
        with self._lock:
            events, self._queued = self._queued, []
        self._subscribers.dispatch(events)


class AgentContext:
    """The shared collaborators and live data of one product instance (no verbs of its own)."""

    def __init__(
        self,
        *,
        udi: Udi,
        hostname: str,
        software_tag: str,
        catalogue: Mapping[str, LicenseSpec],
        store: StateStore,
        clock: Clock,
        timers: Timers,
        transport: Transport | None,
    ) -> None:
        self.clock, self.timers, self.store = clock, timers, store
        self.software_tag = software_tag
        self.identity = Identity(udi, hostname, dict(catalogue))
        self.export_controlled = frozenset(
            tag for tag, s in catalogue.items() if s.enforcement is Enforcement.EXPORT_CONTROLLED
        )
        self.lock = threading.RLock()
        self.exchange_lock = threading.Lock()
        self.events = EventBus(clock, self.lock)
        self.verifier = SignedVerifier(clock, seen=StateSeenStore(lambda: self.state.policy))
        self.usage: dict[str, int] = {}
        self.handles: dict[int, Handle] = {}
        self.ids = itertools.count(1)
        self.permitted = Answers(False)
        self.statuses = Answers("NOT IN USE")
        self.state = self._load_state()
        self.configured_transport = transport is None
        self.transport: Transport = transport or make_transport(self.state.transport)

    @property
    def udi(self) -> Udi:
        return self.identity.udi

    @property
    def hostname(self) -> str:
        return self.identity.hostname

    def _load_state(self) -> AgentState:
        now = self.clock.now()
        state, problem = self.store.load(now)
        rederive_classic(state, self.udi, self.timers)
        if problem is not None:
            state.integrity_error = problem
            self.emit("agent.state.integrity_failed", reason=problem, at=now)
            self.store.save(state)
        for name, props in tr.interrupted_registration(state, now):
            self.emit(name, **props)
        return state

    def emit(self, name: str, **props: Any) -> None:
        self.events.emit(name, **props)

    def flush(self) -> None:
        self.events.flush()

    def save(self) -> None:
        self.store.save(self.state)

    def publish(self, permitted: Mapping[str, bool], statuses: Mapping[str, str]) -> None:
        """Replace the fast-path answers (``is_authorized``/``check``)."""
        self.permitted.replace_with(permitted)
        self.statuses.replace_with(statuses)

    def authority_ca(self) -> x509.Certificate | None:
        """The CA authority files must chain to: provisioned, else the classic registration's."""
        pem = self.state.policy.authority_ca_pem
        reg = self.state.registration
        if pem is None and reg is not None:
            pem = reg.ca_certificate_pem
        return load_certificate(pem) if pem else None

    def registered(self) -> bool:
        state = self.state
        return (
            state.registration_state is RegistrationState.REGISTERED
            and state.registration is not None
        )

    def require_enabled(self) -> None:
        if not self.state.enabled:
            raise Conflict("Smart Licensing is not enabled", code="not-enabled")

    def identity_key(self, *, create: bool) -> Ed25519PrivateKey | None:
        key = self.store.load_identity_key()
        if key is None and create:
            key = generate_key()
            self.store.save_identity_key(key)
        return key
