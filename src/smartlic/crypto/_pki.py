"""The authority's certificate authority: CSRs from devices, identity certificates, verification."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.x509.oid import NameOID

from smartlic.crypto._keys import (
    Udi,
    generate_key,
    load_certificate,
    load_private_key,
    save_private_key,
)
from smartlic.errors import InvalidInput, SignatureInvalid

# A CSR names the device as CN=<PID>, serialNumber=<SN> (the UDI), as Cisco identity
# certificates carry the UDI in the subject.


def make_csr(key: Ed25519PrivateKey, udi: Udi) -> str:
    """A PEM certificate signing request for ``udi``, signed with ``key`` (proof of possession)."""
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, udi.pid),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, udi.sn),
        ]
    )
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, None)
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def _load_csr(pem: str) -> x509.CertificateSigningRequest:
    try:
        csr = x509.load_pem_x509_csr(pem.encode())
    except ValueError as exc:
        raise InvalidInput(f"not a PEM certificate signing request: {exc}", pointer="/csr") from exc
    if not isinstance(csr.public_key(), Ed25519PublicKey):
        raise InvalidInput("the CSR key must be Ed25519", pointer="/csr")
    if not csr.is_signature_valid:
        raise SignatureInvalid("the CSR is not signed by its own key")
    return csr


class DeviceCsr:
    """A device's CSR, loaded and its self-signature checked once (``load_csr``); ``udi`` is
    the device its subject names. Registration parses a CSR once through this."""

    def __init__(self, csr: x509.CertificateSigningRequest) -> None:
        self.csr = csr
        self._udi: Udi | None = None

    @functools.cached_property
    def subject(self) -> x509.Name:
        return self.csr.subject  # decoded anew at each access of ``csr.subject``

    @property
    def udi(self) -> Udi:
        if self._udi is None:
            cn = self.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
            sn = self.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
            if not cn or not sn:
                raise InvalidInput(
                    "the CSR subject must carry CN=<PID> and serialNumber=<SN>", pointer="/csr"
                )
            self._udi = Udi(str(cn[0].value), str(sn[0].value))
        return self._udi


def load_csr(pem: str) -> DeviceCsr:
    """Load a PEM CSR: Ed25519, signed by its own key (the checks of ``csr_udi``)."""
    return DeviceCsr(_load_csr(pem))


def csr_udi(pem: str) -> Udi:
    """The UDI a CSR names (checks its self-signature first)."""
    return load_csr(pem).udi


def certificate_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@dataclass
class CertificateAuthority:
    """The authority's CA key and self-signed certificate."""

    key: Ed25519PrivateKey
    certificate: x509.Certificate

    @classmethod
    def create(cls, name: str, now: datetime, days: int = 3650) -> CertificateAuthority:
        key = generate_key()
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .sign(key, None)
        )
        return cls(key, cert)

    @classmethod
    def load(cls, key_path: Path, cert_path: Path) -> CertificateAuthority:
        return cls(load_private_key(key_path), load_certificate(cert_path.read_bytes()))

    def save(self, key_path: Path, cert_path: Path) -> None:
        save_private_key(self.key, key_path)
        cert_path.write_text(certificate_pem(self.certificate))

    def issue(
        self,
        csr_pem: str | DeviceCsr,
        *,
        not_before: datetime,
        days: int = 365,
        udi: Udi | None = None,
    ) -> x509.Certificate:
        """Issue an identity certificate for a CSR (PEM, or loaded once by ``load_csr``); when
        ``udi`` is given the CSR must name it."""
        loaded = csr_pem if isinstance(csr_pem, DeviceCsr) else load_csr(csr_pem)
        if udi is not None and loaded.udi != udi:
            raise InvalidInput("the CSR names another device than the request", pointer="/csr")
        return self.sign_public_key(
            loaded.subject, loaded.csr.public_key(), not_before=not_before, days=days
        )

    def sign_public_key(
        self, subject: x509.Name, public_key: object, *, not_before: datetime, days: int
    ) -> x509.Certificate:
        if not isinstance(public_key, Ed25519PublicKey):
            raise InvalidInput("only Ed25519 keys are certified")
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_before + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(self.key, None)
        )


def verify_certificate(cert: x509.Certificate, ca_cert: x509.Certificate, *, at: datetime) -> None:
    """Raise ``SignatureInvalid`` unless ``cert`` was issued by ``ca_cert`` and is valid ``at``."""
    if cert.issuer != ca_cert.subject:
        raise SignatureInvalid("certificate not issued by this authority")
    ca_key = ca_cert.public_key()
    if not isinstance(ca_key, Ed25519PublicKey):
        raise SignatureInvalid("authority key is not Ed25519")
    try:
        ca_key.verify(cert.signature, cert.tbs_certificate_bytes)
    except InvalidSignature as exc:
        raise SignatureInvalid("certificate signature does not verify") from exc
    if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
        raise SignatureInvalid("certificate is not valid at this time", code="cert-expired")
