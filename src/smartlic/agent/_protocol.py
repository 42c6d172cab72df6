"""The agent's side of device protocol v1 (docs/device-protocol.md): build requests, check answers.

Pure: dicts in, dicts and records out; the caller supplies ``now``. Every response the agent
acts on is verified here, in this order:

1. the envelope's ``certificate`` (the authority's signing certificate) chains to the CA: at
   registration the CA comes in the response and must match the pin inside the token text;
   afterwards it is the CA stored at registration;
2. the signature over the exact payload string verifies with that certificate's key;
3. ``type`` is the expected one and ``request_nonce`` is the nonce we sent (no response meant
   for another request is accepted), and the ``udi`` is ours.

Those checks are the shared ``smartlic.formats.signed.SignedVerifier`` (one verifier for
every authority-signed document); the CA discovery at first registration stays here.

The deadlines stored are the authority's signed times; a response that omits one (the
protocol requires them, a future collector might not) falls back to the device's ``Timers``
counted from the authority's own ``registered_at`` / ``authorized_at``.

Usage::

    body, nonce = register_request(token, udi, hostname, software_tag, csr, False, now)
    record = verify_registration(transport.send("register", body), token, nonce, udi, key, now)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from smartlic.agent._state import AuthorizationRecord, RegistrationRecord
from smartlic.agent._timers import Timers
from smartlic.crypto import (
    Udi,
    certificate_pem,
    fingerprint,
    load_certificate,
    parse_token_text,
    public_key_pem,
    verify_certificate,
)
from smartlic.domain.enums import AuthorizationState
from smartlic.errors import InvalidInput, SignatureInvalid, SmartlicError
from smartlic.formats.device_v1 import parse_entitlements, require_str, udi_json
from smartlic.formats.envelope import (
    compact_json,
    make_nonce,
    parse_iso,
    read_payload,
    seal_with_key,
    timestamp_ms,
)
from smartlic.formats.signed import FixedClock, SignedVerifier

__all__ = [
    "authorize_payload",
    "rederive_authorization",
    "register_request",
    "signed_export_allowed",
    "signed_request",
    "verify_authorization",
    "verify_registration",
    "verify_response",
]

_DEFAULT_TIMERS = Timers()
_OVERALL = {
    s.value: s for s in (AuthorizationState.AUTHORIZED, AuthorizationState.OUT_OF_COMPLIANCE)
}


def register_request(
    token: str,
    udi: Udi,
    hostname: str,
    software_tag: str,
    csr: str,
    force: bool,
    now: datetime,
) -> tuple[dict[str, Any], str]:
    """The plain-JSON ``register`` body and its nonce."""
    nonce = make_nonce()
    body = {
        "token": token,
        "udi": udi_json(udi),
        "hostname": hostname,
        "software_tag": software_tag,
        "csr": csr,
        "force": force,
        "timestamp": timestamp_ms(now),
        "nonce": nonce,
    }
    return body, nonce


def signed_request(
    fields: Mapping[str, Any], key: Ed25519PrivateKey, certificate_pem_text: str, now: datetime
) -> tuple[dict[str, Any], str]:
    """An envelope signed with the identity key; ``key_id`` is the identity cert fingerprint."""
    nonce = make_nonce()
    payload = {**fields, "timestamp": timestamp_ms(now), "nonce": nonce}
    key_id = fingerprint(load_certificate(certificate_pem_text))
    return seal_with_key(payload, key, key_id=key_id), nonce


def authorize_payload(udi: Udi, hostname: str, counts: Mapping[str, int]) -> dict[str, Any]:
    entitlements = [{"tag": tag, "count": n} for tag, n in sorted(counts.items())]
    return {
        "type": "authorize",
        "udi": udi_json(udi),
        "hostname": hostname,
        "entitlements": entitlements,
    }


# ------------------------------------------------------------------ responses


def verify_response(
    envelope: Mapping[str, Any],
    ca: x509.Certificate,
    *,
    expected_type: str,
    request_nonce: str,
    udi: Udi,
    now: datetime,
    at_issue: bool = False,
) -> dict[str, Any]:
    """The verified payload of an authority response (the shared ``SignedVerifier``)."""
    doc = SignedVerifier(FixedClock(now)).verify(
        envelope,
        ca=ca,
        expected_type=expected_type,
        udi=udi,
        request_nonce=request_nonce,
        at_issue=at_issue,
    )
    return doc.payload


def verify_registration(
    envelope: Mapping[str, Any],
    token: str,
    request_nonce: str,
    udi: Udi,
    identity_key: Ed25519PrivateKey,
    now: datetime,
    *,
    pinned_ca: x509.Certificate | None = None,
    timers: Timers = _DEFAULT_TIMERS,
) -> RegistrationRecord:
    """Check a ``registration`` response and return what it establishes.

    At first registration the CA comes from the (not yet verified) payload and must match the
    token's pin; for an identity renewal ``pinned_ca`` is the CA stored at registration.
    """
    ca = pinned_ca or _pinned_ca(envelope, token)
    payload = verify_response(
        envelope, ca, expected_type="registration", request_nonce=request_nonce, udi=udi, now=now
    )
    certificate = _load_cert(require_str(payload, "certificate"))
    verify_certificate(certificate, ca, at=now)
    if public_key_pem(_ed25519(certificate)) != public_key_pem(identity_key.public_key()):
        raise SignatureInvalid("the identity certificate does not certify our key")
    record = _registration_record(payload, certificate, ca, now, timers)
    record.document, record.request_nonce = compact_json(envelope), request_nonce
    return record


def signed_export_allowed(record: RegistrationRecord, udi: Udi) -> bool:
    """``export_controlled_allowed`` as the stored signed registration response says it (False
    when there is none or it does not verify against the registration's CA)."""
    try:
        envelope = json.loads(record.document or "null")
        if not isinstance(envelope, dict) or record.request_nonce is None:
            return False
        payload = verify_response(
            envelope,
            load_certificate(record.ca_certificate_pem),
            expected_type="registration",
            request_nonce=record.request_nonce,
            udi=udi,
            now=record.registered_at,
            at_issue=True,
        )
    except (ValueError, SmartlicError):
        return False
    return payload.get("export_controlled_allowed") is True


def _pinned_ca(envelope: Mapping[str, Any], token: str) -> x509.Certificate:
    claimed = read_payload(envelope).get("ca_certificate")
    if not isinstance(claimed, str):
        raise SignatureInvalid("the registration response carries no CA certificate")
    ca = _load_cert(claimed)
    if not parse_token_text(token).matches_ca(fingerprint(ca)):
        raise SignatureInvalid(
            "the authority's CA does not match the registration token's pin", code="ca-mismatch"
        )
    return ca


def _registration_record(
    payload: Mapping[str, Any],
    certificate: x509.Certificate,
    ca: x509.Certificate,
    now: datetime,
    timers: Timers,
) -> RegistrationRecord:
    registered_at = _time(payload, "registered_at", now)
    return RegistrationRecord(
        instance_id=str(payload.get("instance_id") or ""),
        certificate_pem=certificate_pem(certificate),
        ca_certificate_pem=certificate_pem(ca),
        smart_account=str(payload.get("smart_account") or ""),
        virtual_account=str(payload.get("virtual_account") or ""),
        export_controlled_allowed=payload.get("export_controlled_allowed") is True,
        registered_at=registered_at,
        certificate_expires=_time(payload, "certificate_expires", certificate.not_valid_after_utc),
        renew_after=_time(payload, "renew_after", registered_at + timers.id_renewal),
    )


def verify_authorization(
    envelope: Mapping[str, Any],
    ca: x509.Certificate,
    request_nonce: str,
    udi: Udi,
    now: datetime,
    timers: Timers = _DEFAULT_TIMERS,
    *,
    at_issue: bool = False,
) -> tuple[AuthorizationRecord, dict[str, Any]]:
    """A checked ``authorization`` response as a record, plus its payload (account names).
    The record keeps the signed response itself, so that ``rederive_authorization`` can
    rebuild it from the signature at every load (an edited status or deadline is overwritten).
    """
    payload = verify_response(
        envelope,
        ca,
        expected_type="authorization",
        request_nonce=request_nonce,
        udi=udi,
        now=now,
        at_issue=at_issue,
    )
    overall = _OVERALL.get(str(payload.get("status")))
    if overall is None:
        raise InvalidInput(f"unknown authorization status {payload.get('status')!r}")
    statuses, counts = _entitlement_statuses(payload.get("entitlements"))
    authorized_at = _time(payload, "authorized_at", now)
    record = AuthorizationRecord(
        status=overall,
        statuses=statuses,
        counts=counts,
        authorized_at=authorized_at,
        next_communication=_time(
            payload, "next_communication", authorized_at + timers.authorization_renewal
        ),
        deadline=_time(payload, "deadline", authorized_at + timers.communication_deadline),
        document=compact_json(envelope),
        request_nonce=request_nonce,
    )
    return record, payload


def rederive_authorization(
    record: AuthorizationRecord, ca: x509.Certificate, udi: Udi, timers: Timers = _DEFAULT_TIMERS
) -> tuple[AuthorizationRecord, dict[str, Any]]:
    """The record its stored signed response establishes; raises if there is none or it does
    not verify (the stored fields themselves are never believed)."""
    if record.document is None or record.request_nonce is None:
        raise SignatureInvalid("the authorization holds no signed response")
    try:
        envelope = json.loads(record.document)
    except ValueError as exc:
        raise SignatureInvalid("the stored authorization response is not JSON") from exc
    if not isinstance(envelope, dict):
        raise SignatureInvalid("the stored authorization response is not an envelope")
    return verify_authorization(
        envelope, ca, record.request_nonce, udi, record.authorized_at, timers, at_issue=True
    )


def _entitlement_statuses(data: Any) -> tuple[dict[str, str], dict[str, int]]:
    items = data if isinstance(data, list) else []
    parsed = parse_entitlements(items)
    statuses = {
        str(item.get("tag")): str(item.get("status") or "AUTHORIZED")
        for item in items
        if isinstance(item, Mapping)
    }
    return statuses, {e.tag: e.count for e in parsed}


def _time(payload: Mapping[str, Any], key: str, default: datetime) -> datetime:
    """A signed time from the payload; ``default`` (from the device's Timers) only if absent."""
    if payload.get(key) is None:
        return default
    when = parse_iso(require_str(payload, key, max_len=64))
    assert when is not None  # require_str refused None
    return when


def _load_cert(pem: str) -> x509.Certificate:
    try:
        return load_certificate(pem)
    except InvalidInput as exc:
        raise SignatureInvalid(f"unreadable certificate in the response: {exc.detail}") from exc


def _ed25519(certificate: x509.Certificate) -> Ed25519PublicKey:
    key = certificate.public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise SignatureInvalid("the identity certificate key is not Ed25519")
    return key
