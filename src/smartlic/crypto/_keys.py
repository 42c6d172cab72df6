"""Ed25519 keys, PEM files (mode 0600) and fingerprints."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from smartlic.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Udi:
    """Unique device identifier: product id and serial number (``PID:C1000V,SN:9ABC``)."""

    pid: str
    sn: str

    def __str__(self) -> str:
        return f"PID:{self.pid},SN:{self.sn}"

    @classmethod
    def parse(cls, text: str) -> Udi:
        """A UDI as a person types it (the portal's and the API's ``udi``, ``issue-file --udi``,
        ``devices transfer|remove``, the device search): the long form ``PID:<pid>,SN:<sn>``
        (``str``'s, ``show license udi``'s; ``pid:``/``sn:`` in any case, blanks around the
        parts ignored) or the short ``<pid>:<sn>``, split at its first colon. A text that starts
        with ``PID:`` is the long form or nothing; each part must hold a character."""
        typed = text.strip()
        long = _LONG_UDI.fullmatch(typed)
        if long is not None:
            pid, sn = long["pid"].strip(), long["sn"].strip()
        elif typed.startswith("PID:"):
            pid = sn = ""
        else:
            pid, _, sn = (part.strip() for part in typed.partition(":"))
        if not pid or not sn:
            raise InvalidInput(
                f"not a UDI: {text!r} (expected PID:<pid>,SN:<serial> or <pid>:<serial>)"
            )
        return cls(pid, sn)


# the long form; its PID ends at the first ``,SN:`` (Udi.parse)
_LONG_UDI = re.compile(r"PID:(?P<pid>.*?),\s*SN:(?P<sn>.*)", re.IGNORECASE | re.DOTALL)


def generate_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def save_private_key(key: Ed25519PrivateKey, path: Path) -> None:
    """Write a PEM private key readable by its owner only (0600), atomically."""
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidInput(f"{path} is not an Ed25519 private key")
    return key


def public_key_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def public_key_from_pem(pem: str | bytes) -> Ed25519PublicKey:
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise InvalidInput(f"not a PEM public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidInput("only Ed25519 public keys are accepted")
    return key


def load_certificate(pem: str | bytes) -> x509.Certificate:
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise InvalidInput(f"not a PEM certificate: {exc}") from exc


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the DER certificate, lowercase hex."""
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
