"""The collector's side of the one verifier (``smartlic.formats.signed``): the authority CA
pinned by ``smartlic collector init`` and a ``SeenStore`` kept in the collector's store.

Every authority-signed file the collector imports and every signed answer it receives online
goes through ``verifier(s).verify_file`` before anything is written: a file that does not
chain to the pinned CA, or whose signature does not cover its payload, is refused with the
reason and changes nothing. Without a pinned CA nothing signed is accepted at all.

Usage::

    with self.transaction() as s:
        v = CollectorVerifier.open(s, self.clock)
        docs = v.verify_file(data)          # raises SignatureInvalid / InvalidInput
        ...apply...
        v.accept(docs)                      # remembered in the same transaction
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

import httpx
from cryptography import x509
from sqlalchemy.orm import Session

from smartlic.clock import Clock
from smartlic.collector.models import Preference
from smartlic.collector.prefs import load
from smartlic.crypto import certificate_pem, fingerprint, load_certificate
from smartlic.errors import InvalidInput, SignatureInvalid, SmartlicError, Unavailable
from smartlic.formats.device_v1 import API_PREFIX
from smartlic.formats.signed import Freshness, SignedDocument, SignedVerifier

__all__ = ["CollectorVerifier", "StoreSeen", "ca_fingerprint_of", "choose_ca", "pinned_ca"]

_SEEN, _LATEST = "seen:", "newest:"
CA_PATH = API_PREFIX + "/ca"


class StoreSeen:
    """``formats.signed.SeenStore`` in the collector's key/value table (``preferences``): one
    row per applied document nonce and one per (type, device) newest issue time."""

    def __init__(self, s: Session) -> None:
        self.s = s

    def seen(self, scope: str, nonce: str) -> bool:
        return self.s.get(Preference, _key(_SEEN, scope, nonce)) is not None

    def latest(self, scope: str) -> datetime | None:
        row = self.s.get(Preference, _key(_LATEST, scope))
        return datetime.fromisoformat(row.value["at"]) if row is not None else None

    def remember(self, scope: str, nonce: str | None, issued_at: datetime | None) -> None:
        if nonce is not None and not self.seen(scope, nonce):
            self.s.add(Preference(key=_key(_SEEN, scope, nonce), value={"scope": scope}))
        if issued_at is None:
            return
        row = self.s.get(Preference, _key(_LATEST, scope))
        if row is None:
            self.s.add(Preference(key=_key(_LATEST, scope), value={"at": issued_at.isoformat()}))
        elif datetime.fromisoformat(row.value["at"]) < issued_at:
            row.value = {"at": issued_at.isoformat()}
        self.s.flush()


def _key(prefix: str, *parts: str) -> str:
    # The key column holds 50 characters: a digest of the scope and nonce.
    return prefix + hashlib.sha256("|".join(parts).encode()).hexdigest()[:40]


class CollectorVerifier:
    """The shared verifier bound to one transaction and the CA pinned in its preferences."""

    def __init__(self, verifier: SignedVerifier, ca: x509.Certificate | None) -> None:
        self.verifier, self.ca = verifier, ca

    @classmethod
    def open(cls, s: Session, clock: Clock) -> CollectorVerifier:
        return cls(SignedVerifier(clock, seen=StoreSeen(s)), pinned_ca(load(s).authority_ca_pem))

    def verify_file(self, data: bytes) -> list[tuple[str, SignedDocument]]:
        return self.verifier.verify_file(data, ca=self.ca, holder="collector")

    def is_new(self, doc: SignedDocument) -> bool:
        return self.verifier.freshness(doc) is Freshness.NEW

    def accept(self, docs: list[SignedDocument]) -> None:
        self.verifier.accept(docs)


def choose_ca(
    *, ca_file: Path | None, fingerprint_hex: str | None, authority_url: str | None
) -> str | None:
    """The CA PEM ``init`` pins: from ``ca_file``, or fetched from ``authority_url`` and
    matched against the ``fingerprint_hex`` the operator confirmed (never fetched on trust).
    None when neither is given (an offline collector pinned later)."""
    if ca_file is not None:
        pem = ca_file.read_text()
    elif fingerprint_hex is not None:
        if authority_url is None:
            raise InvalidInput("--authority-ca-fingerprint needs --authority-url to fetch from")
        pem = _fetch(authority_url)
    else:
        return None
    cert = load_certificate(pem)
    actual = fingerprint(cert)
    if fingerprint_hex is not None and _normal(fingerprint_hex) != actual:
        raise SignatureInvalid(
            f"the authority's CA has fingerprint {actual}, not the {_normal(fingerprint_hex)} "
            "you confirmed: nothing pinned",
            code="ca-mismatch",
        )
    return certificate_pem(cert)


def _normal(text: str) -> str:
    text = text.strip().lower().removeprefix("sha256:")
    return text.replace(":", "")


def _fetch(url: str) -> str:
    try:
        response = httpx.get(url.rstrip("/") + CA_PATH, timeout=10)
    except httpx.HTTPError as exc:
        raise Unavailable(f"cannot fetch the authority's CA from {url}: {exc}") from exc
    if response.status_code != 200 or len(response.content) > 64 * 1024:
        raise Unavailable(f"the authority answered {response.status_code} for its CA")
    return response.text


def ca_fingerprint_of(url: str) -> str:
    """The fingerprint of the CA ``url`` serves (shown to the operator to confirm)."""
    return fingerprint(load_certificate(_fetch(url)))


def pinned_ca(pem: str | None) -> x509.Certificate | None:
    if pem is None:
        return None
    try:
        return load_certificate(pem)
    except SmartlicError:
        return None
