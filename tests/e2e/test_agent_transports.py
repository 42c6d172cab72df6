"""Transports against the real authority: call-home flavour, an HTTP proxy, TLS verification.

The proxy is a minimal forward proxy from the standard library (a third-party role, not one of
our parts); TLS uses a throwaway CA and a server certificate for 127.0.0.1 made here.
"""

from __future__ import annotations

import http.client
import ipaddress
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from smartlic.agent import CallHomeTransport, SmartTransport
from smartlic.domain.enums import AuthorizationState, RegistrationState
from smartlic.errors import InvalidInput, Unavailable
from tests.e2e.conftest_agent import (
    Authority,
    authority_fixture,  # noqa: F401  (provides the ``authority`` fixture)
    serve,
)

pytestmark = pytest.mark.e2e


# ------------------------------------------------------------------ a forward proxy


class _ForwardProxy(BaseHTTPRequestHandler):
    """Forwards absolute-form POSTs (what an HTTP client sends to a proxy) and logs them."""

    seen: list[str]

    def do_POST(self) -> None:
        target = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        conn = http.client.HTTPConnection(target.hostname or "", target.port, timeout=30)
        conn.request("POST", target.path, body, {"Content-Type": "application/json"})
        answer = conn.getresponse()
        data = answer.read()
        conn.close()
        self.seen.append(self.path)
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.getheader("Content-Type") or "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def proxy() -> Iterator[tuple[int, list[str]]]:
    seen: list[str] = []
    handler = type("Proxy", (_ForwardProxy,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_through_an_http_proxy(authority: Authority, proxy: tuple[int, list[str]]) -> None:
    port, seen = proxy
    device = authority.device(transport=None)
    device.set_transport("smart")
    device.set_url(authority.url)
    device.set_proxy("127.0.0.1", port)
    status = device.register(authority.token())
    assert status.authorization.state is AuthorizationState.AUTHORIZED
    assert (status.transport.proxy_address, status.transport.proxy_port) == ("127.0.0.1", port)
    assert [urlsplit(p).path for p in seen] == [
        "/api/device/v1/register",
        "/api/device/v1/authorize",
    ]


def test_callhome_transport_carries_the_same_messages(authority: Authority) -> None:
    device = authority.device(transport=CallHomeTransport(authority.url))
    status = device.register(authority.token())
    assert status.registration.state is RegistrationState.REGISTERED
    assert (status.transport.type, status.transport.url) == ("callhome", authority.url)


# ------------------------------------------------------------------ TLS


def _tls_files(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA (ca.pem) and a server certificate for 127.0.0.1 it issued."""
    now = datetime.now(UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test TLS CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(pem))
    paths[1].write_bytes(server.public_bytes(pem))
    paths[2].write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


def test_tls_is_verified_against_the_configured_bundle(
    authority: Authority, tmp_path: Path
) -> None:
    ca, cert, key = _tls_files(tmp_path)
    https = serve(
        authority.services,
        authority.clock,
        tmp_path / "tls",
        ssl_certfile=str(cert),
        ssl_keyfile=str(key),
    )
    try:
        untrusting = authority.device("FOX0001", transport=SmartTransport(https.url))
        with pytest.raises(Unavailable):
            untrusting.register(authority.token())  # an unknown CA: no exchange at all
        assert untrusting.status().registration.state is RegistrationState.RETRY
        untrusting.close()

        trusting = authority.device(
            "FOX0002", transport=SmartTransport(https.url, ca_bundle=str(ca))
        )
        status = trusting.register(authority.token())
        assert status.authorization.state is AuthorizationState.AUTHORIZED
        trusting.close()
    finally:
        https.stop()


def test_the_ca_bundle_setting_is_checked_and_persisted(
    authority: Authority, tmp_path: Path
) -> None:
    ca, _, _ = _tls_files(tmp_path)
    device = authority.device(transport=None)
    device.set_ca_bundle(str(ca))
    device.set_url(authority.url)
    assert device._state.transport.ca_bundle == str(ca)
    with pytest.raises(InvalidInput):
        device.set_ca_bundle(str(tmp_path / "missing.pem"))
    assert device._state.transport.ca_bundle == str(ca)  # a refused setting changes nothing
