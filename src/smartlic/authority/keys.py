"""The authority's key material on disk: CA key + certificate, response-signing key + certificate.

Layout of the key directory (files holding private keys are mode 0600)::

    ca.key  ca.pem  signing.key  signing.pem  token.key

``token.key`` (AES-256-GCM) seals registration-token texts in the database; it is made on
first load if missing.

Several authority processes sharing one database must share one key directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from smartlic.crypto import (
    CertificateAuthority,
    Signer,
    certificate_pem,
    fingerprint,
    generate_key,
    load_certificate,
    load_or_create_sealing_key,
    load_private_key,
    save_private_key,
)

__all__ = ["AuthorityKeys"]


@dataclass
class AuthorityKeys:
    ca: CertificateAuthority
    signer: Signer
    sealing_key: bytes = b""  # token.key: seals registration-token texts (empty: none kept)

    @property
    def ca_fingerprint(self) -> str:
        return fingerprint(self.ca.certificate)

    @property
    def ca_pem(self) -> str:
        return certificate_pem(self.ca.certificate)

    @staticmethod
    def exists(directory: Path) -> bool:
        return all(
            (directory / n).exists() for n in ("ca.key", "ca.pem", "signing.key", "signing.pem")
        )

    @classmethod
    def create(
        cls, directory: Path, now: datetime, name: str = "smartlic authority"
    ) -> AuthorityKeys:
        ca = CertificateAuthority.create(f"{name} CA", now)
        key = generate_key()
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} signing")])
        cert = ca.sign_public_key(subject, key.public_key(), not_before=now, days=3650)
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o700)
        ca.save(directory / "ca.key", directory / "ca.pem")
        save_private_key(key, directory / "signing.key")
        (directory / "signing.pem").write_text(certificate_pem(cert))
        return cls(ca, Signer(key, cert), load_or_create_sealing_key(directory / "token.key"))

    @classmethod
    def load(cls, directory: Path) -> AuthorityKeys:
        ca = CertificateAuthority.load(directory / "ca.key", directory / "ca.pem")
        signer = Signer(
            load_private_key(directory / "signing.key"),
            load_certificate((directory / "signing.pem").read_bytes()),
        )
        return cls(ca, signer, load_or_create_sealing_key(directory / "token.key"))

    @classmethod
    def load_or_create(cls, directory: Path, now: datetime) -> AuthorityKeys:
        """Idempotent: load the keys when present, create them otherwise."""
        return cls.load(directory) if cls.exists(directory) else cls.create(directory, now)
