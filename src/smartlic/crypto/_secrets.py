"""Secrets shown once and stored hashed: registration tokens, API keys, passwords.

Tokens and API keys are 24+ random bytes, so a plain SHA-256 is the right stored form (a slow KDF
buys nothing against a brute force of 192 bits and would slow every request); passwords are
low-entropy and use Argon2id.

A registration token's text also pins the authority: it carries the first 16 bytes of the CA
certificate's SHA-256 fingerprint, so a device that registers over plain HTTP (or through a
proxy) can tell the authority's CA apart from an impostor's, as kubeadm's discovery hash does.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError

from smartlic.errors import TokenRejected

_TOKEN_VERSION = 1
_SECRET_LEN = 24
_PIN_LEN = 16
_hasher = PasswordHasher()


def hash_secret(text: str) -> str:
    """SHA-256 hex of a high-entropy secret (token or API key), as stored."""
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class TokenText:
    """A parsed registration token: ``text`` is what the user pastes, ``ca_pin`` the CA pin."""

    text: str
    ca_pin: bytes

    def matches_ca(self, ca_fingerprint_hex: str) -> bool:
        return bytes.fromhex(ca_fingerprint_hex)[:_PIN_LEN] == self.ca_pin


def make_token_text(ca_fingerprint_hex: str) -> str:
    """A new registration token text carrying a pin of the authority's CA."""
    raw = (
        bytes([_TOKEN_VERSION])
        + secrets.token_bytes(_SECRET_LEN)
        + bytes.fromhex(ca_fingerprint_hex)[:_PIN_LEN]
    )
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_token_text(text: str) -> TokenText:
    """Check a token's shape (not its validity at the authority)."""
    text = text.strip()
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise TokenRejected("malformed registration token", code="token-unknown") from exc
    if len(raw) != 1 + _SECRET_LEN + _PIN_LEN or raw[0] != _TOKEN_VERSION:
        raise TokenRejected("malformed registration token", code="token-unknown")
    return TokenText(text, raw[1 + _SECRET_LEN :])


def make_api_key() -> str:
    """A new API key: ``slk_`` + 32 random url-safe bytes."""
    return "slk_" + secrets.token_urlsafe(32)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except VerificationError:
        return False
