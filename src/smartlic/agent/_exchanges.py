"""The manager's exchanges with the authority: each builds a request under the state lock,
does the I/O without it, then applies the verified outcome (``_transitions``) under it.

Every exchange runs with ``_exchange_lock`` held by the public method that started it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from smartlic.agent import _transitions as tr
from smartlic.agent._core import ManagerCore
from smartlic.agent._protocol import (
    authorize_payload,
    register_request,
    signed_request,
    verify_authorization,
    verify_registration,
    verify_response,
)
from smartlic.crypto import load_certificate, make_csr
from smartlic.domain.enums import RegistrationState
from smartlic.errors import Conflict
from smartlic.formats.device_v1 import REGISTER_PROOF, register_binding, udi_json

__all__ = ["Exchanges"]


class Exchanges(ManagerCore):
    """Register, renew-id, authorize and deregister, plus what ``tick()`` finds due."""

    def _register_exchange(self, token: str, force: bool, *, raise_errors: bool) -> None:
        now = self.clock.now()
        key = self._identity_key(create=True)
        assert key is not None
        csr = make_csr(key, self.udi)
        body, nonce = register_request(
            token, self.udi, self.hostname, self.software_tag, csr, force, now
        )
        try:
            if force:
                proof = self._register_proof(token, csr, now)
                if proof is not None:
                    body["proof"] = proof
            envelope = self._transport.send("register", body)
            record = verify_registration(
                envelope, token, nonce, self.udi, key, self.clock.now(), timers=self.timers
            )
        except Exception as exc:
            self._apply(tr.registration_failed, exc, now, self.timers)
            if raise_errors:
                raise
            return
        self._apply(tr.registration_succeeded, record, now)

    def _register_proof(self, token: str, csr: str, now: datetime) -> dict[str, Any] | None:
        """A forced re-registration of a registered device proves it is the same device: a
        ``register-proof`` signed with its current identity, bound to this token and CSR
        (docs/security.md, "Device ownership"). Without it the authority moves the device only
        for a token of the smart account that holds it. A device with no registration (wiped,
        or never registered) has nothing to prove with and sends none."""
        with self._lock:
            if self._state.registration is None:
                return None
        fields = {
            "type": REGISTER_PROOF,
            "udi": udi_json(self.udi),
            **register_binding(token, csr),
        }
        return self._signed(fields, now)[0]

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

    def _authorize_exchange(self) -> None:
        now = self.clock.now()
        with self._lock:
            if not self._registered():
                return
            payload = authorize_payload(self.udi, self.hostname, self._usage)
        try:
            envelope, nonce, ca = self._signed(payload, now)
            answer = self._transport.send("authorize", envelope)
            record, body = verify_authorization(
                answer, ca, nonce, self.udi, self.clock.now(), self.timers
            )
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
                answer, "", nonce, self.udi, key, self.clock.now(), pinned_ca=ca, timers=self.timers
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


def _is_due(when: datetime | None, now: datetime) -> bool:
    return when is not None and when <= now
