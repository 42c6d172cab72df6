"""Keys, identity certificates, signatures and secrets (``cryptography``); no I/O beyond key files.

Usage::

    ca = CertificateAuthority.create("smartlic authority", clock.now())
    key = generate_key()
    csr = make_csr(key, Udi("C1000V", "9ABC"))
    cert = ca.issue(csr, not_before=clock.now(), days=365)
    verify_certificate(cert, ca.certificate, at=clock.now())
"""

from smartlic.crypto._keys import (
    Udi,
    fingerprint,
    generate_key,
    load_certificate,
    load_private_key,
    public_key_from_pem,
    public_key_pem,
    save_private_key,
)
from smartlic.crypto._pki import (
    CertificateAuthority,
    DeviceCsr,
    certificate_pem,
    csr_udi,
    load_csr,
    make_csr,
    verify_certificate,
)
from smartlic.crypto._sealing import load_or_create_sealing_key, open_sealed, seal
from smartlic.crypto._secrets import (
    TokenText,
    hash_password,
    hash_secret,
    make_api_key,
    make_token_text,
    parse_token_text,
    verify_password,
)
from smartlic.crypto._sign import Signer, sign_bytes, verify_bytes
from smartlic.crypto._tls import issue_server_certificate, write_server_certificate

__all__ = [
    "CertificateAuthority",
    "DeviceCsr",
    "Signer",
    "TokenText",
    "Udi",
    "certificate_pem",
    "csr_udi",
    "fingerprint",
    "generate_key",
    "hash_password",
    "hash_secret",
    "issue_server_certificate",
    "load_certificate",
    "load_csr",
    "load_or_create_sealing_key",
    "load_private_key",
    "make_api_key",
    "make_csr",
    "make_token_text",
    "open_sealed",
    "parse_token_text",
    "public_key_from_pem",
    "public_key_pem",
    "save_private_key",
    "seal",
    "sign_bytes",
    "verify_bytes",
    "verify_certificate",
    "verify_password",
    "write_server_certificate",
]
