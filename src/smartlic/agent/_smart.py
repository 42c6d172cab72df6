"""Classic Smart Licensing as an engine: registration, authorization renewals, the evaluation
period and the classic ``show license`` view (docs/protocol.md).

Each exchange builds its request under the state lock, does the I/O without it, then applies
the verified outcome (``_transitions``) under it; every exchange runs with
``ctx.exchange_lock`` held by the verb that started it.

The race an exchange must survive: usage changes while an ``authorize`` request is on the
wire. The request carries a copy of the usage; the response is stored with the counts the
authority answered for, and ``derive`` compares them with the live usage, so a license
requested meanwhile stays in EVAL MODE and the engine stays "dirty" until the next exchange.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal

from smartlic.agent import _transitions as tr
from smartlic.agent._context import AgentContext
from smartlic.agent._evaluate import View, consume_evaluation, derive
from smartlic.agent._protocol import (
    authorize_payload,
    register_request,
    signed_request,
    verify_authorization,
    verify_registration,
    verify_response,
)
from smartlic.agent._reservation import ReservationEngine
from smartlic.agent._snapshot import build_status
from smartlic.agent._status import Attempt, Status, TransportStatus
from smartlic.crypto import load_certificate, make_csr, parse_token_text
from smartlic.domain.enums import AuthorizationState, RegistrationState
from smartlic.errors import AlreadyRegistered, Conflict, InvalidInput
from smartlic.formats.device_v1 import REGISTER_PROOF, register_binding, udi_json

__all__ = ["SmartEngine"]

_TRANSITION_EVENTS = {
    AuthorizationState.EVAL: "agent.evaluation.started",
    AuthorizationState.EVAL_EXPIRED: "agent.evaluation.expired",
    AuthorizationState.AUTHORIZATION_EXPIRED: "agent.authorization.expired",
    AuthorizationState.GRACE_EXPIRED: "agent.authorization.grace_expired",
    AuthorizationState.OUT_OF_COMPLIANCE: "agent.compliance.out_of_compliance",
}


class SmartEngine:
    """Classic Smart Licensing over an ``AgentContext``: register, renew, authorize,
    deregister, the evaluation clock, and what ``tick()`` finds due."""

    name = "classic"

    def __init__(self, ctx: AgentContext, reservation: ReservationEngine) -> None:
        self.ctx, self.reservation = ctx, reservation
        self.view: View = derive(ctx.state, {}, ctx.clock.now(), ctx.timers)
        self._eval_since: datetime | None = None

    # ------------------------------------------------------------ derived view (hold lock)

    def refresh(self, now: datetime) -> None:
        """Charge evaluation time, apply expiries, recompute the fast-path answers."""
        ctx = self.ctx
        if self._eval_since is not None:
            consume_evaluation(ctx.state, self._eval_since, now, ctx.timers)
        reg = ctx.state.registration
        if ctx.registered() and reg is not None and now >= reg.certificate_expires:
            for name, props in tr.registration_expired(ctx.state):
                ctx.emit(name, **props)
        view = derive(ctx.state, ctx.usage, now, ctx.timers, ctx.export_controlled)
        view = self.reservation.classic_view(view, ctx.usage, enabled=ctx.state.enabled)
        self._publish(view)
        self._eval_since = now if view.evaluating else None

    def _publish(self, view: View) -> None:
        old, self.view = self.view, view
        self.ctx.publish(view.permitted(), view.statuses)
        if view.state is not old.state and view.state in _TRANSITION_EVENTS:
            self.ctx.emit(_TRANSITION_EVENTS[view.state], previous=old.state.value)

    def apply(self, transition: Callable[..., tr.Emitted], *args: Any) -> None:
        with self.ctx.lock:
            for name, props in transition(self.ctx.state, *args):
                self.ctx.emit(name, **props)
            self.refresh(self.ctx.clock.now())
            self.ctx.save()

    def dirty(self) -> bool:
        auth = self.ctx.state.authorization
        return auth is None or auth.counts != {t: n for t, n in self.ctx.usage.items() if n}

    def gate(self, tag: str, count: int) -> None:
        """Classic mode refuses no check-out: an unauthorized license runs in EVAL MODE."""

    def note_usage(self, tag: str) -> None:
        """Classic mode keeps no usage log."""

    def snapshot(self, now: datetime) -> Status:
        """The classic ``Status`` (hold ``ctx.lock``; the view refreshed by the caller)."""
        ctx = self.ctx
        snapshot = build_status(
            ctx.identity, ctx.state, self.view, ctx.usage, self.transport_status(), now, ctx.timers
        )
        return self.reservation.decorate(snapshot, classic=ctx.state.mode == "classic")

    def status(self, now: datetime) -> Status:
        return self.snapshot(now)

    def transport_status(self) -> TransportStatus:
        config, transport = self.ctx.state.transport, self.ctx.transport
        own = self.ctx.configured_transport
        return TransportStatus(
            type=config.type if own else transport.type,  # "automatic" stays automatic
            url=transport.url,
            proxy_address=config.proxy_address if own else None,
            proxy_port=config.proxy_port if own else None,
        )

    # ------------------------------------------------------------ verbs

    def register(self, idtoken: str, force: bool) -> None:
        ctx = self.ctx
        with ctx.exchange_lock:
            with ctx.lock:
                ctx.require_enabled()
                if ctx.state.registration_state is RegistrationState.REGISTERED and not force:
                    raise AlreadyRegistered("the device is already registered (use force)")
                token = parse_token_text(idtoken).text
                tr.registration_started(ctx.state, token, force)
            self._register_exchange(token, force, raise_errors=True)
            self._authorize_exchange()

    def deregister(self) -> Attempt:
        """Tell the authority, then forget the registration whatever it answered."""
        ctx = self.ctx
        with ctx.exchange_lock:
            with ctx.lock:
                ctx.require_enabled()
                if ctx.state.registration_state is RegistrationState.UNREGISTERED:
                    raise Conflict("the device is not registered", code="not-registered")
                now = ctx.clock.now()
            error = self._deregister_exchange(now) if ctx.registered() else None
            self.apply(tr.deregistered, error, now)
            ctx.store.delete_identity_key()
        return Attempt(now, error is None, tr.failure_reason(error) if error else None)

    def renew(self, kind: Literal["auth", "id"]) -> Attempt:
        if kind not in ("auth", "id"):
            raise InvalidInput("renew what? 'auth' or 'id'")
        ctx = self.ctx
        with ctx.exchange_lock:
            with ctx.lock:
                ctx.require_enabled()
                if not ctx.registered():
                    raise Conflict("the device is not registered", code="not-registered")
            if kind == "auth":
                self._authorize_exchange()
            else:
                self._renew_id_exchange()
        with ctx.lock:
            last = (ctx.state.communication if kind == "auth" else ctx.state.id_renewal).last
        assert last is not None
        return last

    def sync(self) -> Attempt | None:
        ctx = self.ctx
        with ctx.exchange_lock:
            with ctx.lock:
                if not (ctx.state.enabled and ctx.registered() and self.dirty()):
                    return None
            self._authorize_exchange()
            with ctx.lock:
                return ctx.state.communication.last

    def tick(self) -> None:
        ctx = self.ctx
        with ctx.exchange_lock:
            with ctx.lock:
                self.refresh(ctx.clock.now())
                due = self._due(ctx.clock.now())
            for job in due:
                job()
            with ctx.lock:
                self.refresh(ctx.clock.now())
                ctx.save()

    # ------------------------------------------------------------ exchanges

    def _register_exchange(self, token: str, force: bool, *, raise_errors: bool) -> None:
        now = self.ctx.clock.now()
        key = self.ctx.identity_key(create=True)
        assert key is not None
        csr = make_csr(key, self.ctx.udi)
        body, nonce = register_request(
            token, self.ctx.udi, self.ctx.hostname, self.ctx.software_tag, csr, force, now
        )
        try:
            if force:
                proof = self._register_proof(token, csr, now)
                if proof is not None:
                    body["proof"] = proof
            envelope = self.ctx.transport.send("register", body)
            record = verify_registration(
                envelope,
                token,
                nonce,
                self.ctx.udi,
                key,
                self.ctx.clock.now(),
                timers=self.ctx.timers,
            )
        except Exception as exc:
            self.apply(tr.registration_failed, exc, now, self.ctx.timers)
            if raise_errors:
                raise
            return
        self.apply(tr.registration_succeeded, record, now)

    def _register_proof(self, token: str, csr: str, now: datetime) -> dict[str, Any] | None:
        """A forced re-registration of a registered device proves it is the same device: a
        ``register-proof`` signed with its current identity, bound to this token and CSR
        (docs/security.md, "Device ownership"). Without it the authority moves the device only
        for a token of the smart account that holds it. A device with no registration (wiped,
        or never registered) has nothing to prove with and sends none."""
        with self.ctx.lock:
            if self.ctx.state.registration is None:
                return None
        fields = {
            "type": REGISTER_PROOF,
            "udi": udi_json(self.ctx.udi),
            **register_binding(token, csr),
        }
        return self._signed(fields, now)[0]

    def _deregister_exchange(self, now: datetime) -> Exception | None:
        try:
            envelope, nonce, ca = self._signed(
                {"type": "deregister", "udi": udi_json(self.ctx.udi)}, now
            )
            answer = self.ctx.transport.send("deregister", envelope)
            verify_response(
                answer,
                ca,
                expected_type="deregistered",
                request_nonce=nonce,
                udi=self.ctx.udi,
                now=self.ctx.clock.now(),
            )
        except Exception as exc:
            return exc
        return None

    def convert(self, files: list[bytes]) -> list[str]:
        """Device-led conversion: send the license files, signed with the identity key; the
        serials the authority converted (run with ``exchange_lock`` held)."""
        now = self.ctx.clock.now()
        fields = {
            "type": "convert",
            "udi": udi_json(self.ctx.udi),
            "licenses": [base64.b64encode(f).decode() for f in files],
        }
        envelope, nonce, ca = self._signed(fields, now)
        answer = self.ctx.transport.send("convert", envelope)
        payload = verify_response(
            answer,
            ca,
            expected_type="converted",
            request_nonce=nonce,
            udi=self.ctx.udi,
            now=self.ctx.clock.now(),
        )
        converted = payload.get("converted")
        if not isinstance(converted, list):
            raise InvalidInput("the conversion answer lists no converted licenses")
        return [str(item.get("serial")) for item in converted if isinstance(item, dict)]

    def _authorize_exchange(self) -> None:
        now = self.ctx.clock.now()
        with self.ctx.lock:
            if not self.ctx.registered():
                return
            payload = authorize_payload(self.ctx.udi, self.ctx.hostname, self.ctx.usage)
        try:
            envelope, nonce, ca = self._signed(payload, now)
            answer = self.ctx.transport.send("authorize", envelope)
            record, body = verify_authorization(
                answer, ca, nonce, self.ctx.udi, self.ctx.clock.now(), self.ctx.timers
            )
        except Exception as exc:
            self.apply(tr.authorization_failed, exc, now, self.ctx.timers)
            return
        self.apply(tr.authorization_succeeded, record, body, now)

    def _renew_id_exchange(self) -> None:
        now = self.ctx.clock.now()
        try:
            key = self.ctx.identity_key(create=False)
            if key is None:
                raise Conflict("the identity key is missing", code="not-registered")
            fields = {
                "type": "renew-id",
                "udi": udi_json(self.ctx.udi),
                "csr": make_csr(key, self.ctx.udi),
            }
            envelope, nonce, ca = self._signed(fields, now)
            answer = self.ctx.transport.send("renew-id", envelope)
            record = verify_registration(
                answer,
                "",
                nonce,
                self.ctx.udi,
                key,
                self.ctx.clock.now(),
                pinned_ca=ca,
                timers=self.ctx.timers,
            )
        except Exception as exc:
            self.apply(tr.id_renewal_failed, exc, now, self.ctx.timers)
            return
        self.apply(tr.id_renewal_succeeded, record, now)

    def _signed(self, fields: Mapping[str, Any], now: datetime) -> tuple[dict[str, Any], str, Any]:
        with self.ctx.lock:
            reg = self.ctx.state.registration
            if reg is None:
                raise Conflict("the device is not registered", code="not-registered")
            cert_pem, ca_pem = reg.certificate_pem, reg.ca_certificate_pem
        key = self.ctx.identity_key(create=False)
        if key is None:
            raise Conflict("the identity key is missing", code="not-registered")
        envelope, nonce = signed_request(fields, key, cert_pem, now)
        return envelope, nonce, load_certificate(ca_pem)

    def _due(self, now: datetime) -> list[Callable[[], None]]:
        state = self.ctx.state
        if not state.enabled:
            return []
        jobs: list[Callable[[], None]] = []
        if state.registration_state is RegistrationState.RETRY and _is_due(
            state.register_job.next_at, now
        ):
            token, force = state.pending_token or "", state.pending_force
            jobs.append(lambda: self._retry_registration(token, force))
        if self.ctx.registered() and _is_due(state.id_renewal.next_at, now):
            jobs.append(self._renew_id_exchange)
        communication = state.communication
        if self.ctx.registered() and (
            _is_due(communication.next_at, now) or (self.dirty() and communication.failures == 0)
        ):
            jobs.append(self._authorize_exchange)
        return jobs

    def _retry_registration(self, token: str, force: bool) -> None:
        self._register_exchange(token, force, raise_errors=False)
        self._authorize_exchange()


def _is_due(when: datetime | None, now: datetime) -> bool:
    return when is not None and when <= now
