"""TLS server certificates issued by the authority's CA (``smartlic authority serve --tls``).

The leaf key is ECDSA P-256, which every TLS client takes; the CA signs it with its own
Ed25519 key (TLS 1.2+ clients on OpenSSL 1.1.1 or newer verify that). The certificate names
each host as a DNS name, or an IP address when it is one.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from smartlic.crypto._pki import CertificateAuthority, certificate_pem
from smartlic.errors import InvalidInput

__all__ = ["issue_server_certificate", "write_server_certificate"]


def _san(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        if not name or len(name) > 253 or any(c.isspace() for c in name):
            raise InvalidInput(f"not a host name: {name!r}") from None
        return x509.DNSName(name)


def issue_server_certificate(
    ca: CertificateAuthority, names: list[str], now: datetime, days: int = 397
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A new key and a server certificate for ``names`` (first one as the common name)."""
    if not names:
        raise InvalidInput("a server certificate needs at least one host name")
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0][:64])]))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([_san(n) for n in names]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca.key, None)
    )
    return key, cert


def write_server_certificate(
    ca: CertificateAuthority, names: list[str], now: datetime, directory: Path
) -> tuple[Path, Path]:
    """Issue a server certificate and write ``server.pem`` (the certificate, then the CA's)
    and ``server.key`` (mode 0600) in ``directory``; returns their paths."""
    key, cert = issue_server_certificate(ca, names, now)
    directory.mkdir(parents=True, exist_ok=True)
    key_path, cert_path = directory / "server.key", directory / "server.pem"
    key_path.touch(mode=0o600)
    key_path.chmod(0o600)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_text(certificate_pem(cert) + certificate_pem(ca.certificate))
    return cert_path, key_path
