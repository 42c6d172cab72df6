"""Signed JSON documents: the envelope every device-protocol message travels in.

::

    {
      "payload": "<compact JSON string>",          # signed exactly as sent
      "signature": {"alg": "Ed25519", "key_id": "<sha256 hex of signer cert>", "value": "<b64>"},
      "certificate": "<PEM of the signer>"         # optional; lets a verifier chain to a CA
    }

As in Cisco's RUM reports (domain-notes 3.2) the signature covers the exact payload string, so
no re-serialisation can change what was signed. Every payload carries ``type``, ``timestamp``
(epoch milliseconds) and ``nonce`` so that the receiver can refuse replays.

Usage::

    env = seal({"type": "authorize", ...}, signer)          # dict ready for JSON
    payload = signed.open_sealed(env, public_key)             # raises SignatureInvalid
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from smartlic.crypto import Signer, sign_bytes
from smartlic.errors import InvalidInput, SignatureInvalid
from smartlic.formats import jsonsafe
from smartlic.formats.bounds import check_text

__all__ = [
    "ALG",
    "compact_json",
    "envelope_key_id",
    "iso",
    "make_nonce",
    "parse_iso",
    "read_payload",
    "seal",
    "seal_with_key",
    "timestamp_ms",
]

ALG = "Ed25519"
_NONCE_ALPHABET = string.ascii_letters + string.digits


def compact_json(data: Mapping[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def make_nonce() -> str:
    """16 random alphanumerics, as the vendor's device API uses (domain-notes 5.3).

    Drawn from one ``secrets.token_bytes`` call, keeping the bytes below 248 (4 x 62, so each
    letter stays equally likely): a tenth of the cost of 16 ``secrets.choice`` calls, paid by
    every signed answer."""
    while True:
        picked = [_NONCE_ALPHABET[b % 62] for b in secrets.token_bytes(24) if b < 248]
        if len(picked) >= 16:  # 24 bytes keep fewer than 16 about once in 10^9 draws
            return "".join(picked[:16])


def timestamp_ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def iso(when: datetime | None) -> str | None:
    if when is None:
        return None
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"not an ISO 8601 UTC time: {text!r}") from exc


def seal(
    payload: Mapping[str, Any], signer: Signer, *, with_certificate: bool = False
) -> dict[str, Any]:
    """Serialise ``payload`` compactly and sign the exact string."""
    text = compact_json(payload)
    env: dict[str, Any] = {
        "payload": text,
        "signature": {"alg": ALG, "key_id": signer.key_id, "value": signer.sign(text.encode())},
    }
    if with_certificate:
        env["certificate"] = signer.certificate_pem
    return env


def seal_with_key(payload: Mapping[str, Any], key: Any, key_id: str) -> dict[str, Any]:
    """Like ``seal`` for a bare private key (a device before it has a certificate)."""
    text = compact_json(payload)
    return {
        "payload": text,
        "signature": {"alg": ALG, "key_id": key_id, "value": sign_bytes(key, text.encode())},
    }


def envelope_key_id(envelope: Mapping[str, Any]) -> str:
    """The ``key_id`` an envelope claims (not yet verified)."""
    sig = envelope.get("signature")
    if not isinstance(sig, Mapping) or not isinstance(sig.get("key_id"), str):
        raise InvalidInput("envelope has no signature.key_id", pointer="/signature/key_id")
    # a key id is looked up in the database: text it can hold (no NUL, no lone surrogate)
    check_text(sig["key_id"], "/signature/key_id", "signature.key_id", max_len=128)
    if sig.get("alg") != ALG:
        raise SignatureInvalid(f"unsupported signature algorithm {sig.get('alg')!r}")
    return str(sig["key_id"])


def read_payload(envelope: Mapping[str, Any]) -> dict[str, Any]:
    """Decode the payload WITHOUT verifying it (only to find who claims to have signed)."""
    text = envelope.get("payload")
    if not isinstance(text, str):
        raise InvalidInput("envelope payload must be a string", pointer="/payload")
    try:
        data = jsonsafe.loads(text)
    except ValueError as exc:  # JSONDecodeError, or an integer of more than 4300 digits
        raise InvalidInput("payload is not JSON", pointer="/payload") from exc
    if not isinstance(data, dict):
        raise InvalidInput("payload must be a JSON object", pointer="/payload")
    return data
