"""Classic license reservation (SLR / PLR) codes: request, authorization and return codes.

The three codes a person carries between an air-gapped device and the authority (domain-notes
1.6, docs/reservations.md):

* **Request code** (device -> authority), shaped like the vendor's
  ``CB-ZC9300-24UX:FCW2134L0RN-AK9A6sMTr-86``: ``<kind>-Z<PID>:<SN>-<token>-<check>``. Our
  ``token`` is base58 of the device's 32-byte reservation public key and an 8-byte nonce (the
  vendor regex allows 1-128 characters there); ``check`` is the first byte of SHA-256 over the
  rest, in hex, so a mistyped code is caught before it reaches the authority. The key lets the
  authority check the return code later; the nonce makes every request code unique, so a code
  is reserved once.
* **Authorization code** (authority -> device), an XML element the device takes as a quoted
  string or a file, like the vendor's ``<specificPLR>...``: ``<specificPLR>`` (SLR) or
  ``<universalPLR>`` (PLR) holding ``<authorizationCode>`` (base64 of an authority-signed
  envelope, ``smartlic.formats.envelope``) and ``<udi>P:<PID>,S:<SN></udi``. The signed payload
  (type ``reservation-authorization``) names the UDI, the request code it answers, the
  reservation type, the licenses and counts (empty for universal) and a confirmation code. It
  is checked by the one verifier, ``smartlic.formats.signed.SignedVerifier``.
* **Return code** (device -> authority): the device signs ``reservation-return:<code id>:<UDI>``
  with its reservation key; the code is base58 in dash-separated groups of six like the
  vendor's (``slp.format_return_code``). The authority checks it against the key of the request
  code, so only the device that held the reservation can prove it released it.

Usage::

    req = RequestCode.new(udi, key.public_key(), kind="CB")
    text = req.text                                # typed into the authority
    RequestCode.parse(text) == req                 # True; InvalidInput when mistyped
    code = authorization_text(envelope, udi, SPECIFIC)
    auth = verify_authorization(code, verifier, ca=ca, udi=udi)
    ret = make_return_code(key, auth.code_id, udi)
    check_return_code(ret, req.public_key, auth.code_id, udi)   # raises unless genuine
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import base58
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from smartlic.crypto import Udi
from smartlic.errors import InvalidInput, SignatureInvalid
from smartlic.formats.device_v1 import Entitlement, parse_entitlements, udi_json, udi_short
from smartlic.formats.signed import SignedVerifier, verify_signature
from smartlic.formats.slp import format_return_code, parse_return_code
from smartlic.formats.xmlsafe import element, parse_xml, to_bytes

__all__ = [
    "AUTHORIZATION_TYPE",
    "SPECIFIC",
    "UNIVERSAL",
    "RequestCode",
    "ReservationAuthorization",
    "authorization_payload",
    "authorization_text",
    "check_return_code",
    "make_return_code",
    "return_code_id",
    "return_message",
    "verify_authorization",
]

SPECIFIC = "SPECIFIC"  # Specific License Reservation (SLR): named licenses and counts
UNIVERSAL = "UNIVERSAL"  # Permanent License Reservation (PLR): every license of the device
AUTHORIZATION_TYPE = "reservation-authorization"
_ROOTS = {SPECIFIC: "specificPLR", UNIVERSAL: "universalPLR"}
_KINDS = {v: k for k, v in _ROOTS.items()}
MAX_CODE_CHARS = 16384  # an authorization code is about 1.5 kB
_REQUEST = re.compile(
    r"^(?P<kind>[A-Za-z0-9]{2})-Z(?P<pid>[A-Za-z0-9._/-]{1,64}):(?P<sn>[A-Za-z0-9._/]{1,64})"
    r"-(?P<token>[A-Za-z0-9]{1,128})-(?P<check>[0-9A-Fa-f]{2})$"
)
_BAD_REQUEST = "the reservation request code is not valid"


def _raw_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _check(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()[:2].upper()


@dataclass(frozen=True)
class RequestCode:
    """A reservation request code: the device's UDI, its reservation key and a nonce."""

    kind: str
    udi: Udi
    public_key: bytes  # raw Ed25519, 32 bytes
    nonce: bytes  # 8 bytes

    @classmethod
    def new(cls, udi: Udi, key: Ed25519PublicKey, *, kind: str = "CB") -> RequestCode:
        return cls(kind, udi, _raw_key(key), secrets.token_bytes(8))

    @property
    def text(self) -> str:
        token = base58.b58encode(self.public_key + self.nonce).decode()
        body = f"{self.kind}-Z{self.udi.pid}:{self.udi.sn}-{token}"
        return f"{body}-{_check(body)}"

    @classmethod
    def parse(cls, text: str) -> RequestCode:
        """A typed request code, or ``InvalidInput`` (``bad-request-code``)."""
        m = _REQUEST.match(text.strip()) if isinstance(text, str) else None
        if m is None:
            raise InvalidInput(_BAD_REQUEST, code="bad-request-code", pointer="/reservationCode")
        body = text.strip()[: -len(m["check"]) - 1]
        try:
            raw = base58.b58decode(m["token"])
        except ValueError:
            raw = b""
        if m["check"].upper() != _check(body) or len(raw) != 40:
            raise InvalidInput(
                f"{_BAD_REQUEST} (check digits do not match: mistyped?)",
                code="bad-request-code",
                pointer="/reservationCode",
            )
        return cls(m["kind"], Udi(m["pid"], m["sn"]), raw[:32], raw[32:])

    def key(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.public_key)


@dataclass(frozen=True)
class ReservationAuthorization:
    """A verified authorization code (what the device installs)."""

    reservation_type: str
    udi: Udi
    request_code: str
    code_id: str
    entitlements: tuple[Entitlement, ...]  # empty for UNIVERSAL
    confirmation_code: str
    issued_at: datetime | None
    nonce: str | None
    text: str  # the code as installed, shown by show license tech support


def authorization_payload(
    udi: Udi,
    request_code: str,
    reservation_type: str,
    entitlements: Sequence[Entitlement],
    *,
    code_id: str,
    confirmation_code: str,
) -> dict[str, Any]:
    """The payload the authority signs (``issued_at`` and ``nonce`` are added by its signer)."""
    if reservation_type not in _ROOTS:
        raise ValueError(f"reservation type is SPECIFIC or UNIVERSAL, not {reservation_type!r}")
    return {
        "type": AUTHORIZATION_TYPE,
        "udi": udi_json(udi),
        "request_code": request_code,
        "reservation_type": reservation_type,
        "code_id": code_id,
        "entitlements": [{"tag": e.tag, "count": e.count} for e in entitlements],
        "confirmation_code": confirmation_code,
    }


def authorization_text(envelope: Mapping[str, Any], udi: Udi, reservation_type: str) -> str:
    """The code the device installs: ``<specificPLR>`` or ``<universalPLR>`` XML, one line."""
    root = element(_ROOTS[reservation_type])
    blob = json.dumps(envelope, separators=(",", ":")).encode()
    root.append(element("authorizationCode", base64.b64encode(blob).decode()))
    root.append(element("udi", udi_short(udi)))
    return to_bytes(root).decode()


def _read_authorization(text: str) -> tuple[str, dict[str, Any]]:
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_CODE_CHARS:
        raise InvalidInput("the reservation authorization code is not valid", code="bad-code")
    root = parse_xml(text.strip().encode(), max_bytes=MAX_CODE_CHARS)
    if root.tag not in _KINDS:
        raise InvalidInput(f"not a reservation authorization code (<{root.tag}>)", code="bad-code")
    blob = root.findtext("authorizationCode") or ""
    try:
        env = json.loads(base64.b64decode(blob, validate=True))
    except (ValueError, binascii.Error) as exc:
        raise InvalidInput("the authorization code is unreadable", code="bad-code") from exc
    if not isinstance(env, dict):
        raise InvalidInput("the authorization code is unreadable", code="bad-code")
    return _KINDS[str(root.tag)], env


def verify_authorization(
    text: str, verifier: SignedVerifier, *, ca: Any, udi: Udi | None, at_issue: bool = False
) -> ReservationAuthorization:
    """Read and verify an authorization code (chain, signature, type, UDI, issue time). The
    outer element must say what the signed payload says (SLR vs PLR): tampering shows.
    ``at_issue``: a stored code, checked as of when it was signed."""
    kind, env = _read_authorization(text)
    doc = verifier.verify(env, ca=ca, expected_type=AUTHORIZATION_TYPE, udi=udi, at_issue=at_issue)
    p = doc.payload
    if p.get("reservation_type") != kind or doc.udi is None:
        raise SignatureInvalid("the authorization code was altered", code="bad-code")
    entitlements = parse_entitlements(p.get("entitlements"))
    if kind == SPECIFIC and not entitlements:
        raise InvalidInput("a specific reservation names its licenses", code="bad-code")
    return ReservationAuthorization(
        kind,
        doc.udi,
        str(p.get("request_code", "")),
        str(p.get("code_id", "")),
        tuple(entitlements),
        str(p.get("confirmation_code", "")),
        doc.issued_at,
        doc.nonce,
        text.strip(),
    )


def return_message(code_id: str, udi: Udi) -> str:
    """What a device signs to return a reservation."""
    return f"reservation-return:{code_id}:{udi}"


def make_return_code(key: Ed25519PrivateKey, code_id: str, udi: Udi) -> str:
    signature = key.sign(return_message(code_id, udi).encode())
    return format_return_code(uuid.UUID(code_id).bytes, signature)


def check_return_code(code: str, public_key: bytes, code_id: str, udi: Udi) -> None:
    """Raise unless ``code`` is the return code of reservation ``code_id`` signed by the key of
    its request code (``InvalidInput`` malformed, ``SignatureInvalid`` not genuine)."""
    if not isinstance(code, str):
        raise InvalidInput("the return code is not valid", code="bad-return-code")
    raw_id, signature = parse_return_code(code)
    if raw_id != uuid.UUID(code_id).bytes:
        raise SignatureInvalid(
            "the return code is not the one of this reservation", code="wrong-return-code"
        )
    key = Ed25519PublicKey.from_public_bytes(public_key)
    try:
        verify_signature(key, return_message(code_id, udi), base64.b64encode(signature).decode())
    except SignatureInvalid as exc:
        raise SignatureInvalid(
            "the return code was not made by the device holding this reservation",
            code="wrong-return-code",
        ) from exc


def return_code_id(code: str) -> str:
    """The reservation (code id) a return code names, not yet verified."""
    raw_id, _ = parse_return_code(code)
    return str(uuid.UUID(bytes=raw_id))
