"""Detached Ed25519 signatures, base64-encoded."""

from __future__ import annotations

import base64
import binascii
import functools
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from smartlic.crypto._keys import fingerprint
from smartlic.errors import SignatureInvalid


def sign_bytes(key: Ed25519PrivateKey, data: bytes) -> str:
    return base64.b64encode(key.sign(data)).decode()


def verify_bytes(public_key: Ed25519PublicKey, data: bytes, signature_b64: str) -> None:
    """Raise ``SignatureInvalid`` unless ``signature_b64`` signs ``data``."""
    try:
        raw = base64.b64decode(signature_b64, validate=True)
        public_key.verify(raw, data)
    except (InvalidSignature, binascii.Error, ValueError) as exc:
        raise SignatureInvalid("signature does not verify") from exc


@dataclass
class Signer:
    """A private key with the certificate that vouches for it (``key_id``: its fingerprint)."""

    key: Ed25519PrivateKey
    certificate: x509.Certificate

    @functools.cached_property
    def key_id(self) -> str:
        return fingerprint(self.certificate)  # once: every signed answer names it

    @functools.cached_property
    def certificate_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    def sign(self, data: bytes) -> str:
        return sign_bytes(self.key, data)
