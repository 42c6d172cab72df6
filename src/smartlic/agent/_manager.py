"""``LicenseManager``: the SDK a product embeds (classic Smart Licensing).

Concurrency. Two locks, taken in this order when both are needed:

* ``_exchange_lock`` serialises exchanges with the authority (register, renew, authorize,
  deregister, configuration changes that swap the transport) - at most one is in flight;
* ``_lock`` guards the in-memory state and is never held during network I/O, so ``request``,
  ``release``, ``status`` and ``is_authorized`` never wait for the authority.

The race an exchange must survive: usage changes while an ``authorize`` request is on the
wire. The request carries a copy of the usage; the response is stored with the counts the
authority answered for, and ``derive`` compares them with the live usage, so a license
requested meanwhile stays in EVAL MODE and the manager stays "dirty" until the next exchange.

Why ``request()`` does not send the authorization itself: a feature check-out must not block
on (or fail with) the network. It only marks the usage as changed; ``tick()`` (called by the
product's scheduler or by the ``start()`` thread) sends it, and ``sync()`` sends it at once.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from smartlic.agent import _transitions as tr
from smartlic.agent._evaluate import View, consume_evaluation, derive
from smartlic.agent._events import AgentEvent, EventCallback, Subscribers
from smartlic.agent._protocol import (
    authorize_payload,
    register_request,
    signed_request,
    verify_authorization,
    verify_registration,
    verify_response,
)
from smartlic.agent._snapshot import Identity, build_status
from smartlic.agent._state import AgentState, StateStore
from smartlic.agent._status import Attempt, Status, TransportStatus
from smartlic.agent._timers import Timers
from smartlic.agent._transports import Transport, TransportConfig, make_transport
from smartlic.clock import Clock, SystemClock
from smartlic.crypto import Udi, generate_key, load_certificate, make_csr, parse_token_text
from smartlic.domain.enums import AuthorizationState, Enforcement, RegistrationState
from smartlic.domain.products import DEFAULT_PROFILE, LicenseSpec
from smartlic.errors import AlreadyRegistered, Conflict, InvalidInput, NotFound
from smartlic.formats.device_v1 import MAX_COUNT, MAX_TAG_LEN, udi_json

__all__ = ["Handle", "LicenseManager"]

log = logging.getLogger("smartlic.agent")

_TRANSITION_EVENTS = {
    AuthorizationState.EVAL: "agent.evaluation.started",
    AuthorizationState.EVAL_EXPIRED: "agent.evaluation.expired",
    AuthorizationState.AUTHORIZATION_EXPIRED: "agent.authorization.expired",
    AuthorizationState.GRACE_EXPIRED: "agent.authorization.grace_expired",
    AuthorizationState.OUT_OF_COMPLIANCE: "agent.compliance.out_of_compliance",
}


@dataclass(frozen=True)
class Handle:
    """One check-out of ``count`` units of the license ``tag``; give it back to ``release``."""

    id: int
    tag: str
    count: int


class LicenseManager:
    """The license manager of one product instance (classic Smart Licensing).

    Usage::

        manager = LicenseManager(
            udi=Udi("ASR-903", "FOX1234"), hostname="router1", state_dir=Path("/var/lib/lic"),
            transport=SmartTransport("https://authority.example"), clock=SystemClock(),
        )
        handle = manager.request(tag)            # no I/O; EVAL MODE until authorized
        if manager.is_authorized(tag): ...       # a dict read
        manager.register(token_text)             # REGISTERED + AUTHORIZED (raises on refusal)
        manager.start()                          # background tick(): renewals, retries, expiry
        manager.status().authorization.state     # AuthorizationState.AUTHORIZED
        manager.release(handle)
        manager.close()

    Without ``transport`` the manager builds one from its persisted configuration
    (``set_transport``/``set_url``/``set_proxy``), "callhome" with no URL by default; a
    configuration setter replaces a given transport by a configured one. Like an httpx
    ``Client``, the manager closes its transport in ``close()``.
    Not-in-use licenses, disabled Smart Licensing, EVAL EXPIRED, GRACE PERIOD EXPIRED, INVALID
    TAG and NOT AUTHORIZED make ``is_authorized`` false; see ``_evaluate`` for the rules. Time
    based transitions (evaluation or authorization expiry) are applied by ``tick()``.
    """

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
        specs = catalogue if catalogue is not None else {s.tag: s for s in DEFAULT_PROFILE.licenses}
        self._identity = Identity(udi, hostname, dict(specs))
        self._export_controlled = frozenset(
            tag for tag, s in specs.items() if s.enforcement is Enforcement.EXPORT_CONTROLLED
        )
        self._lock = threading.RLock()
        self._exchange_lock = threading.Lock()
        self._subscribers = Subscribers()
        self._events: list[AgentEvent] = []
        self._store = StateStore(Path(state_dir))
        self._handles: dict[int, Handle] = {}
        self._usage: dict[str, int] = {}
        self._ids = itertools.count(1)
        self._eval_since: datetime | None = None
        self._ticker: _Ticker | None = None
        self._state = self._load_state()
        self._configured_transport = transport is None
        self._transport = transport or make_transport(self._state.transport)
        self._view = derive(self._state, {}, self.clock.now(), self.timers)
        # The fast path. ``is_authorized(tag)`` and ``check(tag)`` are the bound ``__getitem__``
        # of two dicts precomputed on every state change: one C-level dict read per check, no
        # Python frame (a method doing ``self._permitted.get(tag, False)`` costs ~2.5x a dict
        # read; this costs ~1x). A tag not in use falls to ``__missing__``.
        self._permitted = _Answers(False)
        self._statuses = _Answers("NOT IN USE")
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
        if problem is not None:
            state.integrity_error = problem
            self._emit("agent.state.integrity_failed", reason=problem, at=now)
            self._store.save(state)
        return state

    # ------------------------------------------------------------ usage

    def request(self, tag: str, count: int = 1) -> Handle:
        """Check out ``count`` units of ``tag`` (thread-safe, no I/O)."""
        _check_request(tag, count)
        with self._lock:
            handle = Handle(next(self._ids), tag, count)
            self._handles[handle.id] = handle
            self._usage[tag] = self._usage.get(tag, 0) + count
            self._refresh(self.clock.now())
            self._emit("agent.license.requested", tag=tag, count=count, status=self.check(tag))
        self._flush()
        return handle

    def release(self, handle: Handle) -> None:
        """Give back a check-out; releasing twice raises ``NotFound``."""
        with self._lock:
            if self._handles.pop(handle.id, None) is None:
                raise NotFound(f"license handle {handle.id} is not checked out")
            left = self._usage[handle.tag] - handle.count
            if left > 0:
                self._usage[handle.tag] = left
            else:
                del self._usage[handle.tag]
            self._refresh(self.clock.now())
            self._emit("agent.license.released", tag=handle.tag, count=handle.count)
        self._flush()

    def usage(self) -> dict[str, int]:
        with self._lock:
            return dict(self._usage)

    # ------------------------------------------------------------ status

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
        self._flush()
        return snapshot

    def _transport_status(self) -> TransportStatus:
        config = self._state.transport
        own = self._configured_transport
        return TransportStatus(
            type=self._transport.type,
            url=self._transport.url,
            proxy_address=config.proxy_address if own else None,
            proxy_port=config.proxy_port if own else None,
        )

    def on_event(self, callback: EventCallback) -> Callable[[], None]:
        """Subscribe to ``AgentEvent``s; returns a function that unsubscribes."""
        return self._subscribers.add(callback)

    # ------------------------------------------------------------ enable / configuration

    def enable(self) -> None:
        self._set_enabled(True)

    def disable(self) -> None:
        """Stop Smart Licensing: no communication, no evaluation, no license authorized."""
        self._set_enabled(False)

    def _set_enabled(self, enabled: bool) -> None:
        with self._lock:
            if self._state.enabled != enabled:
                self._refresh(self.clock.now())
                self._state.enabled = enabled
                self._refresh(self.clock.now())
                self._save()
                self._emit("agent.enabled" if enabled else "agent.disabled")
        self._flush()

    def set_transport(self, type_: Literal["callhome", "smart", "off"]) -> None:
        self._configure(type=type_)

    def set_url(self, url: str | None) -> None:
        self._configure(url=url)

    def set_proxy(self, address: str | None, port: int | None = None) -> None:
        self._configure(proxy_address=address, proxy_port=port)

    def set_ca_bundle(self, path: str | None) -> None:
        self._configure(ca_bundle=path)

    def _configure(self, **changes: Any) -> None:
        with self._exchange_lock, self._lock:
            config: TransportConfig = replace(self._state.transport, **changes)
            old, self._transport = self._transport, make_transport(config)
            old.close()
            self._configured_transport = True
            self._state.transport = config
            self._save()
            self._emit("agent.config.changed", **changes)
        self._flush()

    # ------------------------------------------------------------ registration

    def register(self, idtoken: str, force: bool = False) -> Status:
        """Register with a token, then authorize at once; raises on refusal (after recording it).

        ``AlreadyRegistered`` when registered and not ``force``; ``TokenRejected`` /
        ``SignatureInvalid`` / ... from the authority or the response checks; ``Unavailable``
        when the authority cannot be reached (a retry is scheduled: state RETRY).
        """
        with self._exchange_lock:
            with self._lock:
                self._require_enabled()
                if self._state.registration_state is RegistrationState.REGISTERED and not force:
                    raise AlreadyRegistered("the device is already registered (use force)")
                token = parse_token_text(idtoken).text
                tr.registration_started(self._state, token, force)
            self._register_exchange(token, force, raise_errors=True)
            self._authorize_exchange()
        return self.status()

    def _register_exchange(self, token: str, force: bool, *, raise_errors: bool) -> None:
        now = self.clock.now()
        key = self._identity_key(create=True)
        assert key is not None
        body, nonce = register_request(
            token, self.udi, self.hostname, self.software_tag, make_csr(key, self.udi), force, now
        )
        try:
            envelope = self._transport.send("register", body)
            record = verify_registration(envelope, token, nonce, self.udi, key, self.clock.now())
        except Exception as exc:
            self._apply(tr.registration_failed, exc, now, self.timers)
            if raise_errors:
                raise
            return
        self._apply(tr.registration_succeeded, record, now)

    def deregister(self) -> Attempt:
        """Tell the authority, then forget the registration whatever it answered."""
        with self._exchange_lock:
            with self._lock:
                self._require_enabled()
                if self._state.registration_state is RegistrationState.UNREGISTERED:
                    raise Conflict("the device is not registered", code="not-registered")
                now = self.clock.now()
            error = self._deregister_exchange(now) if self._registered() else None
            self._apply(tr.deregistered, error, now)
            self._store.delete_identity_key()
        self._flush()
        return Attempt(now, error is None, tr.failure_reason(error) if error else None)

    def _deregister_exchange(self, now: datetime) -> Exception | None:
        try:
            envelope, nonce, ca = self._signed(
                {"type": "deregister", "udi": udi_json(self.udi)}, now
            )
            answer = self._transport.send("deregister", envelope)
            verify_response(
                answer,
                ca,
                expected_type="deregistered",
                request_nonce=nonce,
                udi=self.udi,
                now=self.clock.now(),
            )
        except Exception as exc:
            return exc
        return None

    # ------------------------------------------------------------ renewals

    def renew(self, kind: Literal["auth", "id"]) -> Attempt:
        """``license smart renew auth|id``: exchange now; the outcome is in the returned Attempt
        (and in ``status()``); a failure schedules a retry rather than raising."""
        if kind not in ("auth", "id"):
            raise InvalidInput("renew what? 'auth' or 'id'")
        with self._exchange_lock:
            with self._lock:
                self._require_enabled()
                if not self._registered():
                    raise Conflict("the device is not registered", code="not-registered")
            if kind == "auth":
                self._authorize_exchange()
            else:
                self._renew_id_exchange()
        with self._lock:
            last = (self._state.communication if kind == "auth" else self._state.id_renewal).last
        self._flush()
        assert last is not None
        return last

    def sync(self) -> Attempt | None:
        """Send the current usage now if it changed since the last authorization (else None)."""
        with self._exchange_lock:
            with self._lock:
                if not (self._state.enabled and self._registered() and self._dirty()):
                    return None
            self._authorize_exchange()
            with self._lock:
                last = self._state.communication.last
        self._flush()
        return last

    def _authorize_exchange(self) -> None:
        now = self.clock.now()
        with self._lock:
            if not self._registered():
                return
            payload = authorize_payload(self.udi, self.hostname, self._usage)
        try:
            envelope, nonce, ca = self._signed(payload, now)
            answer = self._transport.send("authorize", envelope)
            record, body = verify_authorization(answer, ca, nonce, self.udi, self.clock.now())
        except Exception as exc:
            self._apply(tr.authorization_failed, exc, now, self.timers)
            return
        self._apply(tr.authorization_succeeded, record, body, now)

    def _renew_id_exchange(self) -> None:
        now = self.clock.now()
        try:
            key = self._identity_key(create=False)
            if key is None:
                raise Conflict("the identity key is missing", code="not-registered")
            fields = {"type": "renew-id", "udi": udi_json(self.udi), "csr": make_csr(key, self.udi)}
            envelope, nonce, ca = self._signed(fields, now)
            answer = self._transport.send("renew-id", envelope)
            record = verify_registration(
                answer, "", nonce, self.udi, key, self.clock.now(), pinned_ca=ca
            )
        except Exception as exc:
            self._apply(tr.id_renewal_failed, exc, now, self.timers)
            return
        self._apply(tr.id_renewal_succeeded, record, now)

    def _signed(self, fields: Mapping[str, Any], now: datetime) -> tuple[dict[str, Any], str, Any]:
        with self._lock:
            reg = self._state.registration
            if reg is None:
                raise Conflict("the device is not registered", code="not-registered")
            cert_pem, ca_pem = reg.certificate_pem, reg.ca_certificate_pem
        key = self._identity_key(create=False)
        if key is None:
            raise Conflict("the identity key is missing", code="not-registered")
        envelope, nonce = signed_request(fields, key, cert_pem, now)
        return envelope, nonce, load_certificate(ca_pem)

    # ------------------------------------------------------------ timers

    def tick(self) -> None:
        """Run what is due at the clock's now: expiry transitions, retries, renewals, sync."""
        with self._exchange_lock:
            with self._lock:
                self._refresh(self.clock.now())
                due = self._due(self.clock.now())
            for job in due:
                job()
            with self._lock:
                self._refresh(self.clock.now())
                self._save()
        self._flush()

    def _due(self, now: datetime) -> list[Callable[[], None]]:
        state = self._state
        if not state.enabled:
            return []
        jobs: list[Callable[[], None]] = []
        if state.registration_state is RegistrationState.RETRY and _is_due(
            state.register_job.next_at, now
        ):
            token, force = state.pending_token or "", state.pending_force
            jobs.append(lambda: self._retry_registration(token, force))
        if self._registered() and _is_due(state.id_renewal.next_at, now):
            jobs.append(self._renew_id_exchange)
        communication = state.communication
        if self._registered() and (
            _is_due(communication.next_at, now) or (self._dirty() and communication.failures == 0)
        ):
            jobs.append(self._authorize_exchange)
        return jobs

    def _retry_registration(self, token: str, force: bool) -> None:
        self._register_exchange(token, force, raise_errors=False)
        self._authorize_exchange()

    def start(self, interval_s: float = 60.0) -> None:
        """Run ``tick()`` every ``interval_s`` seconds in a daemon thread until ``stop()``."""
        with self._lock:
            if self._ticker is None:
                self._ticker = _Ticker(self.tick, interval_s)
                self._ticker.start()

    def stop(self) -> None:
        with self._lock:
            ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.stop()

    def close(self) -> None:
        """Stop the ticker, persist the evaluation accounting, close an owned transport."""
        self.stop()
        with self._lock:
            self._refresh(self.clock.now())
            self._save()
            self._transport.close()
        self._flush()

    def __enter__(self) -> LicenseManager:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

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
        # no _flush() here: events wait until the public method has released _exchange_lock,
        # so a subscriber may call any method of the manager.

    def _refresh(self, now: datetime) -> None:
        """Charge evaluation time, apply expiries, recompute the fast-path answers."""
        if self._eval_since is not None:
            consume_evaluation(self._state, self._eval_since, now, self.timers)
        reg = self._state.registration
        if self._registered() and reg is not None and now >= reg.certificate_expires:
            for name, props in tr.registration_expired(self._state):
                self._emit(name, **props)
        view = derive(self._state, self._usage, now, self.timers, self._export_controlled)
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

    def _emit(self, name: str, **props: Any) -> None:
        self._events.append(AgentEvent(name, self.clock.now(), props))

    def _flush(self) -> None:
        with self._lock:
            events, self._events = self._events, []
        self._subscribers.dispatch(events)


class _Answers(dict[str, Any]):
    """Precomputed per-tag answers, updated in place, read without a lock.

    Readers are lock-free: every update is one ``__setitem__`` or ``pop`` per tag (atomic under
    the GIL), and answers for different tags are independent, so a reader sees each tag's old
    or new answer, never a broken mapping. It is never cleared: a reader racing a ``clear()``
    would see a license in use as missing.
    """

    def __init__(self, default: Any) -> None:
        super().__init__()
        self._default = default

    def __missing__(self, tag: str) -> Any:
        return self._default

    def replace_with(self, answers: Mapping[str, Any]) -> None:
        for tag, answer in answers.items():
            if self.get(tag, self._default) != answer or tag not in self:
                self[tag] = answer
        for tag in [t for t in self if t not in answers]:
            self.pop(tag, None)


def _is_due(when: datetime | None, now: datetime) -> bool:
    return when is not None and when <= now


def _check_request(tag: str, count: int) -> None:
    if not isinstance(tag, str) or not tag or len(tag) > MAX_TAG_LEN:
        raise InvalidInput(f"an entitlement tag is a string of 1-{MAX_TAG_LEN} characters")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise InvalidInput(f"count must be an integer 1-{MAX_COUNT}")


class _Ticker(threading.Thread):
    """Calls ``tick`` periodically; a failing tick is logged and the loop goes on."""

    def __init__(self, tick: Callable[[], None], interval_s: float) -> None:
        super().__init__(name="smartlic-agent-ticker", daemon=True)
        self._tick, self._interval = tick, interval_s
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                self._tick()
            except Exception:
                log.exception("license manager tick failed")

    def stop(self) -> None:
        self._stopped.set()
        if self is not threading.current_thread():
            self.join(timeout=5)
