"""Entitlements derived from the signed documents the device holds, at every load.

The state file is HMAC-protected, but the key sits beside it (``_state``): an owner who can
read the key can rewrite the file. So nothing that grants a license is believed as stored:
the classic authorization (status, counts, deadlines), the installed authorization codes
(tags and counts), the installed policy and the time of the last ACK are rebuilt here from the
signed authority documents kept in the state, verified with the shared ``SignedVerifier``
against the authority CA. A field edited by hand is overwritten; a document that no longer
verifies grants nothing (it is dropped). What this cannot stop is described in
docs/security.md, "Device state".
"""

from __future__ import annotations

import json
from typing import Any

from cryptography import x509

from smartlic.agent._policy_files import code_counts
from smartlic.agent._policy_state import AuthCodeRecord, PolicyState
from smartlic.agent._protocol import rederive_authorization, signed_export_allowed
from smartlic.agent._state import AgentState
from smartlic.agent._timers import Timers
from smartlic.crypto import Udi, load_certificate
from smartlic.domain.policy import Policy
from smartlic.errors import SmartlicError
from smartlic.formats.envelope import compact_json
from smartlic.formats.signed import SignedDocument, SignedVerifier

__all__ = ["rederive_classic", "rederive_policy"]


def rederive_classic(state: AgentState, udi: Udi, timers: Timers) -> None:
    """Rebuild ``state.authorization`` from its signed response, or drop it, and the
    registration's ``export_controlled_allowed`` from the signed registration (then from the
    authorization, which carries it too)."""
    auth, reg = state.authorization, state.registration
    if reg is not None:
        reg.export_controlled_allowed = signed_export_allowed(reg, udi)
    if auth is None:
        return
    try:
        if reg is None:
            raise SmartlicError("not registered")
        ca = load_certificate(reg.ca_certificate_pem)
        record, payload = rederive_authorization(auth, ca, udi, timers)
    except SmartlicError:
        state.authorization = None
        return
    state.authorization = record
    if isinstance(payload.get("export_controlled_allowed"), bool):
        reg.export_controlled_allowed = payload["export_controlled_allowed"]


def rederive_policy(
    ps: PolicyState, udi: Udi, verifier: SignedVerifier, ca: x509.Certificate | None
) -> None:
    """Rebuild the codes, the policy and the last ACK time from their signed sections."""
    held = _Held(verifier, ca, udi)
    ps.authorizations = [c for c in (held.code(a, ps) for a in ps.authorizations) if c]
    ack = held.doc(ps.ack_document, "rum-ack")
    ps.last_ack = ack.issued_at if ack is not None else None
    ps.ack_document = ps.ack_document if ack is not None else None
    policy = held.doc(ps.policy_document, "policy")
    ps.policy_json = _policy_json(policy)
    ps.policy_document = ps.policy_document if ps.policy_json is not None else None


class _Held:
    def __init__(self, verifier: SignedVerifier, ca: x509.Certificate | None, udi: Udi) -> None:
        self.verifier, self.ca, self.udi = verifier, ca, udi

    def doc(self, text: str | None, expected_type: str) -> SignedDocument | None:
        if text is None or self.ca is None:
            return None
        try:
            env: Any = json.loads(text)
            if not isinstance(env, dict):
                return None
            return self.verifier.verify(
                env, ca=self.ca, expected_type=expected_type, udi=self.udi, at_issue=True
            )
        except (SmartlicError, ValueError):
            return None

    def code(self, record: AuthCodeRecord, ps: PolicyState) -> AuthCodeRecord | None:
        doc = self.doc(record.document, "authorization-code")
        if doc is None or doc.payload.get("code_id") in ps.retired_codes:
            return None
        record.code_id = str(doc.payload.get("code_id"))
        record.entitlements = code_counts(doc.payload)
        record.confirmation_code = str(doc.payload.get("confirmation_code") or "")
        return record


def _policy_json(doc: SignedDocument | None) -> str | None:
    if doc is None:
        return None  # the built-in Cisco default
    try:
        return compact_json(Policy.from_json(doc.payload.get("policy")).to_json())
    except SmartlicError:
        return None
