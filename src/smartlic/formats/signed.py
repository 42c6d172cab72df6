"""The one verifier of authority-signed documents: every ACK, authorization code, trust code,
policy, account information, poll answer and device-protocol response that crosses a boundary
is checked here, by the device, the collector and the authority alike.

A document is a signed envelope (``smartlic.formats.envelope``) carrying the signer's
certificate. ``SignedVerifier.verify`` checks, in this order, and raises on the first failure:

1. a CA is pinned (``no-authority-ca``): nothing is trusted on its own say-so;
2. the signer's certificate chains to that CA and is valid at the time of the check;
3. the Ed25519 signature covers the exact payload string;
4. the payload ``type`` is the one expected (an ACK cannot pass as an authorization code);
5. the payload ``udi``, when the caller names a device, is that device (``wrong-device``);
6. ``request_nonce``, for an online answer, is the nonce of the request it answers;
7. ``issued_at``, when present, is not in the future beyond ``max_skew``.

Freshness is the caller's second question, asked of a ``SeenStore`` (``freshness``): has this
document (its ``nonce``) been applied before, and is it older than the newest one of its kind
already applied for this device? The answer is a value (``NEW``, ``SEEN``, ``OLDER``); an ACK
that is not ``NEW`` is refused, a policy or trust code that is not ``NEW`` is skipped, so an
old genuine document can never roll a newer one back. ``accept`` records what was applied, in
the caller's own transaction (the device state, the collector's or the authority's store).

Documents a *device* signs (RUM reports, device-protocol requests, trust and authorization
requests) are checked by the second half of this module, one function per check, by the
authority and the collector alike:

* ``verify_signature`` - Ed25519 over the exact payload string, the only place it is done;
  ``open_sealed`` (a device-protocol envelope) and ``open_report`` (a RUM report) call it;
* key resolution - ``rum.claimed_key`` (the key a report's signature carries),
  ``open_carried`` (the key a trust or authorization request carries in its payload); the
  authority's ``DeviceService`` resolves an identity certificate from its store;
* ``check_fresh`` - the request ``timestamp`` within the receiver's window;
* ``require_unseen`` - the request ``nonce`` used once per key, remembered by a
  ``NonceStore`` (the authority's ``SeenNonce`` table; ``MemorySeenStore`` in memory);
  ``check_request`` is both, as every online request gets them.

Usage::

    verifier = SignedVerifier(clock, seen=store)
    doc = verifier.verify(env, ca=ca, expected_type="rum-ack", udi=udi)
    if verifier.freshness(doc) is Freshness.NEW:
        apply(doc.payload)
        verifier.accept(doc)
"""

from __future__ import annotations

import base64
import binascii
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn, Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from smartlic.clock import Clock
from smartlic.crypto import Udi, fingerprint, load_certificate, verify_bytes, verify_certificate
from smartlic.errors import InvalidInput, ReplayDetected, SignatureInvalid
from smartlic.formats.bounds import check_time, clean_text
from smartlic.formats.device_v1 import parse_udi, require_str, require_type
from smartlic.formats.envelope import envelope_key_id, parse_iso, read_payload
from smartlic.formats.rum import RumReport, key_id_of, read_report
from smartlic.formats.slp import SECTIONS, read_file

__all__ = [
    "AUTHORITY_SECTIONS",
    "FixedClock",
    "Freshness",
    "MemorySeenStore",
    "NonceStore",
    "SeenStore",
    "SignedDocument",
    "SignedVerifier",
    "carried_key",
    "check_fresh",
    "check_request",
    "no_ca",
    "open_carried",
    "open_report",
    "open_sealed",
    "refuse_reused",
    "require_unseen",
    "verify_signature",
]

# The sections an authority signs (a device or a collector imports them); the others of
# ``slp.SECTIONS`` are signed by a device's trust key.
AUTHORITY_SECTIONS = {
    name: SECTIONS[name]
    for name in (
        "smartLicenseRumAck",
        "smartLicensePolicy",
        "smartLicenseTrustCode",
        "smartLicenseAccountInfo",
        "smartLicenseAuthorization",
    )
}
MAX_SKEW = timedelta(days=1)  # an authority clock this far ahead is a forgery or a fault


class Freshness(enum.Enum):
    NEW = "new"
    SEEN = "seen"  # this very document was applied before
    OLDER = "older"  # a newer document of its kind for this device was applied already


@dataclass(frozen=True)
class SignedDocument:
    """A verified document: its payload and what freshness is judged by."""

    type: str
    payload: dict[str, Any]
    signer: str  # SHA-256 fingerprint of the signing certificate
    udi: Udi | None
    issued_at: datetime | None
    nonce: str | None
    envelope: Mapping[str, Any] = field(default_factory=dict, repr=False)  # as received

    @property
    def scope(self) -> str:
        """What "newest of its kind" is counted per: the type and the device."""
        return f"{self.type}:{self.udi or '-'}"


class SeenStore(Protocol):
    """Durable memory of applied documents; the device state, the collector's store and the
    authority's store each implement it inside their own transaction."""

    def seen(self, scope: str, nonce: str) -> bool: ...

    def latest(self, scope: str) -> datetime | None: ...

    def remember(self, scope: str, nonce: str | None, issued_at: datetime | None) -> None: ...


class NonceStore(Protocol):
    """Durable memory of device-request nonces: ``claim`` is True the first time ``nonce`` is
    seen in ``scope`` (a signing key) and remembers it, atomically, in the caller's
    transaction (the authority's ``SeenNonce`` table)."""

    def claim(self, scope: str, nonce: str, at: datetime) -> bool: ...


class MemorySeenStore:
    """A ``SeenStore`` and ``NonceStore`` in a dict (one-shot tools and tests of the verifiers)."""

    def __init__(self) -> None:
        self.nonces: set[tuple[str, str]] = set()
        self.newest: dict[str, datetime] = {}

    def seen(self, scope: str, nonce: str) -> bool:
        return (scope, nonce) in self.nonces

    def latest(self, scope: str) -> datetime | None:
        return self.newest.get(scope)

    def remember(self, scope: str, nonce: str | None, issued_at: datetime | None) -> None:
        if nonce is not None:
            self.nonces.add((scope, nonce))
        if issued_at is not None and (scope not in self.newest or issued_at > self.newest[scope]):
            self.newest[scope] = issued_at

    def claim(self, scope: str, nonce: str, at: datetime) -> bool:
        if self.seen(scope, nonce):
            return False
        self.remember(scope, nonce, None)
        return True


_PIN_HINT = {
    "device": "provision it with authority_ca (--authority-ca) or register first",
    "collector": "run 'smartlic collector init' with --authority-ca FILE or "
    "--authority-ca-fingerprint",
}


def no_ca(holder: str) -> SignatureInvalid:
    hint = _PIN_HINT.get(holder, "pin the authority's CA first")
    return SignatureInvalid(
        f"no authority CA is pinned on this {holder}: nothing signed can be trusted ({hint})",
        code="no-authority-ca",
    )


class FixedClock:
    """A clock that stays at one instant (pure callers that are handed ``now``)."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


class SignedVerifier:
    """Checks authority-signed documents against a pinned CA (see the module docstring)."""

    def __init__(
        self, clock: Clock, seen: SeenStore | None = None, *, max_skew: timedelta = MAX_SKEW
    ) -> None:
        self.clock = clock
        self.seen = seen
        self.max_skew = max_skew

    # ------------------------------------------------------------ one document

    def verify(
        self,
        envelope: Mapping[str, Any],
        *,
        ca: x509.Certificate | None,
        expected_type: str,
        udi: Udi | None = None,
        request_nonce: str | None = None,
        at_issue: bool = False,
        holder: str = "device",
    ) -> SignedDocument:
        """Steps 1-7 of the module docstring. The signing certificate must be valid now, or
        with ``at_issue`` (a document re-read from storage) when the document was signed."""
        if ca is None:
            raise no_ca(holder)
        signer = _signer(envelope)
        verify_certificate(
            signer, ca, at=signer.not_valid_before_utc if at_issue else self.clock.now()
        )
        key = signer.public_key()
        if not isinstance(key, Ed25519PublicKey):
            raise SignatureInvalid("the authority's signing key is not Ed25519")
        payload = open_sealed(envelope, key)
        if payload.get("type") != expected_type:
            raise SignatureInvalid(
                f"expected a {expected_type!r} document, got {payload.get('type')!r}",
                code="wrong-type",
            )
        target = _target(payload, udi)
        if request_nonce is not None and payload.get("request_nonce") != request_nonce:
            raise SignatureInvalid("the response answers another request (request_nonce mismatch)")
        issued_at = self._issued_at(payload)
        if at_issue:
            _valid_when_signed(signer, _signed_time(payload, issued_at))
        nonce = payload.get("nonce")
        return SignedDocument(
            expected_type,
            payload,
            fingerprint(signer),
            target,
            issued_at,
            nonce if isinstance(nonce, str) else None,
            envelope,
        )

    def _issued_at(self, payload: Mapping[str, Any]) -> datetime | None:
        raw = payload.get("issued_at")
        if raw is None:
            return None
        when = parse_iso(raw if isinstance(raw, str) else repr(raw))
        assert when is not None
        if when > self.clock.now() + self.max_skew:
            raise SignatureInvalid(
                f"the document is issued in the future ({raw})", code="issued-in-future"
            )
        return when

    # ------------------------------------------------------------ files

    def verify_file(
        self,
        data: bytes,
        *,
        ca: x509.Certificate | None,
        udi: Udi | None = None,
        sections: Mapping[str, str] = AUTHORITY_SECTIONS,
        holder: str = "device",
    ) -> list[tuple[str, SignedDocument]]:
        """Every section of an authority file verified, or an error for the first that is not
        (a file is taken whole or not at all). ``udi`` None: any device (a collector)."""
        if ca is None:
            raise no_ca(holder)
        found = read_file(data)
        if not found:
            raise InvalidInput("the file holds no smart licensing data", code="bad-file")
        out = []
        for name, env in found:
            if name not in sections:
                raise InvalidInput(f"<{name}> is not something a {holder} imports", code="bad-file")
            try:
                doc = self.verify(env, ca=ca, expected_type=sections[name], udi=udi, holder=holder)
            except SignatureInvalid as exc:
                raise type(exc)(f"<{name}>: {exc.detail}", code=exc.code) from exc
            out.append((name, doc))
        return out

    # ------------------------------------------------------------ freshness

    def freshness(self, doc: SignedDocument) -> Freshness:
        if self.seen is None:
            return Freshness.NEW
        if doc.nonce is not None and self.seen.seen(doc.scope, doc.nonce):
            return Freshness.SEEN
        newest = self.seen.latest(doc.scope)
        if newest is not None and doc.issued_at is not None and doc.issued_at < newest:
            return Freshness.OLDER
        return Freshness.NEW

    def require_new(self, doc: SignedDocument, label: str) -> None:
        """Refuse a document applied before or older than the newest applied (``label``:
        how people call it, e.g. "ACK")."""
        state = self.freshness(doc)
        if state is Freshness.SEEN:
            raise ReplayDetected(f"this {label} was already imported", code="already-imported")
        if state is Freshness.OLDER:
            raise ReplayDetected(
                f"{label} is older than the last one imported", code="older-than-last"
            )

    def accept(self, docs: Sequence[SignedDocument]) -> None:
        """Remember applied documents (in the caller's transaction)."""
        if self.seen is None:
            return
        for doc in docs:
            self.seen.remember(doc.scope, doc.nonce, doc.issued_at)


def _signer(envelope: Mapping[str, Any]) -> x509.Certificate:
    pem = envelope.get("certificate")
    if not isinstance(pem, str):
        raise SignatureInvalid("the document carries no signing certificate")
    try:
        return load_certificate(pem)
    except InvalidInput as exc:
        raise SignatureInvalid(f"unreadable signing certificate: {exc.detail}") from exc


def _signed_time(payload: Mapping[str, Any], issued_at: datetime | None) -> datetime:
    if issued_at is not None:
        return issued_at
    ms = payload.get("timestamp")
    if isinstance(ms, bool) or not isinstance(ms, int) or not 0 <= ms < 2**47:
        raise SignatureInvalid("the document carries no signing time")
    return datetime.fromtimestamp(ms / 1000, UTC)


def _valid_when_signed(signer: x509.Certificate, when: datetime) -> None:
    if not signer.not_valid_before_utc <= when <= signer.not_valid_after_utc:
        raise SignatureInvalid(
            "the signing certificate was not valid when the document was signed",
            code="cert-expired",
        )


def _target(payload: Mapping[str, Any], udi: Udi | None) -> Udi | None:
    if "udi" not in payload:
        return None
    target = parse_udi(payload["udi"])
    if udi is not None and target != udi:
        raise SignatureInvalid(
            f"this document is meant for another device ({target}), not {udi}",
            code="wrong-device",
        )
    return target


# ---------------------------------------------------------------- device-signed documents


def verify_signature(key: Ed25519PublicKey, text: Any, value: Any) -> None:
    """The one signature check of a device-signed document: ``value`` (base64) is the Ed25519
    signature of the exact payload string ``text``, never of a re-serialisation of it."""
    if not isinstance(text, str) or not isinstance(value, str):
        raise SignatureInvalid("envelope is missing its payload or signature value")
    if not clean_text(text):  # a lone surrogate has no UTF-8 bytes to have signed
        raise InvalidInput(
            "payload must be valid Unicode text (no lone surrogates, no NUL)", pointer="/payload"
        )
    verify_bytes(key, text.encode(), value)


def open_sealed(envelope: Mapping[str, Any], public_key: Ed25519PublicKey) -> dict[str, Any]:
    """A device-protocol envelope (``formats.envelope``): verify, then decode its payload."""
    envelope_key_id(envelope)
    verify_signature(public_key, envelope.get("payload"), envelope["signature"].get("value"))
    return read_payload(envelope)


def open_report(envelope: Mapping[str, Any], key: Ed25519PublicKey) -> RumReport:
    """A RUM report (``formats.rum``): verify, then parse its payload."""
    text, sig = envelope.get("payload"), envelope.get("signature")
    if not isinstance(text, str) or not isinstance(sig, Mapping):
        raise InvalidInput("a RUM report has a payload string and a signature")
    verify_signature(key, text, str(sig.get("value", "")))
    return read_report(envelope)


def carried_key(payload: Mapping[str, Any]) -> Ed25519PublicKey:
    """The raw Ed25519 public key (base64) a trust or authorization request carries."""
    text = require_str(payload, "public_key", max_len=100)
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except (ValueError, binascii.Error) as exc:
        raise InvalidInput("public_key is not a base64 Ed25519 key", pointer="/public_key") from exc


def open_carried(envelope: Any, kind: str) -> tuple[str, Ed25519PublicKey, dict[str, Any]]:
    """A request signed with the key it carries (trust, authorization): (key id, key, payload).
    What the key may do is the receiver's question (ownership), not this function's."""
    if not isinstance(envelope, dict):
        raise InvalidInput("request must be a signed envelope object")
    key = carried_key(read_payload(envelope))
    key_id = key_id_of(key)
    if envelope_key_id(envelope) != key_id:
        raise SignatureInvalid("the envelope key_id is not the key the request carries")
    payload = open_sealed(envelope, key)
    require_type(payload, kind)
    return key_id, key, payload


def check_fresh(timestamp_ms: Any, now: datetime, window_s: float) -> None:
    """Refuse a request whose ``timestamp`` (epoch ms) is outside ``now ± window_s``."""
    check_time(timestamp_ms, "/timestamp", "timestamp", unit="ms")
    skew = abs(now.timestamp() - timestamp_ms / 1000)
    if skew > window_s:
        raise ReplayDetected(f"message timestamp is {skew:.0f} s away from the authority's clock")


def require_unseen(
    store: NonceStore, scope: str, payload: Mapping[str, Any], now: datetime
) -> None:
    """Refuse a request whose ``nonce`` was seen before in ``scope`` (its signing key)."""
    nonce = require_str(payload, "nonce", max_len=64)
    if not store.claim(scope, nonce, now):
        refuse_reused()


def refuse_reused() -> NoReturn:
    """The refusal of a nonce seen before (``require_unseen``; a receiver that claims the
    nonce later in its transaction refuses with it then)."""
    raise ReplayDetected("this request was already received (nonce reused)")


def check_request(
    store: NonceStore, scope: str, payload: Mapping[str, Any], now: datetime, window_s: float
) -> None:
    """An online request: fresh ``timestamp`` and first use of ``nonce`` for its key."""
    check_fresh(payload.get("timestamp"), now, window_s)
    require_unseen(store, scope, payload, now)
