"""A product instance as tests drive it over device protocol v1: real keys, real CSRs, real
signatures (this is a protocol client, not a stand-in for any of our parts)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from smartlic.clock import Clock
from smartlic.crypto import Udi, fingerprint, generate_key, load_certificate, make_csr
from smartlic.domain.products import DEFAULT_PROFILE
from smartlic.formats.envelope import make_nonce, seal_with_key, timestamp_ms
from smartlic.formats.rum import (
    Measurement,
    RumReport,
    key_id_of,
    public_key_b64,
    sign_report,
    sudi_json,
)
from smartlic.formats.slp import format_return_code


@dataclass
class TestDevice:
    udi: Udi
    clock: Clock
    hostname: str = "router"
    key: Ed25519PrivateKey = field(default_factory=generate_key)
    certificate_pem: str | None = None

    __test__ = False  # not a pytest class

    def register_request(self, token: str, *, force: bool = False) -> dict[str, Any]:
        return {
            "token": token,
            "udi": {"pid": self.udi.pid, "sn": self.udi.sn},
            "hostname": self.hostname,
            "software_tag": DEFAULT_PROFILE.software_tag,
            "csr": make_csr(self.key, self.udi),
            "force": force,
            "timestamp": timestamp_ms(self.clock.now()),
            "nonce": make_nonce(),
        }

    def accept_registration(self, payload: dict[str, Any]) -> None:
        self.certificate_pem = payload["certificate"]

    @property
    def key_id(self) -> str:
        assert self.certificate_pem, "not registered"
        return fingerprint(load_certificate(self.certificate_pem))

    def signed(self, kind: str, **fields: Any) -> dict[str, Any]:
        payload = {
            "type": kind,
            "udi": {"pid": self.udi.pid, "sn": self.udi.sn},
            "timestamp": timestamp_ms(self.clock.now()),
            "nonce": make_nonce(),
            **fields,
        }
        return seal_with_key(payload, self.key, self.key_id)

    def authorize(self, usage: dict[str, int]) -> dict[str, Any]:
        ents = [{"tag": t, "count": c} for t, c in usage.items()]
        return self.signed("authorize", entitlements=ents, hostname=self.hostname)

    def renew_id(self) -> tuple[dict[str, Any], Ed25519PrivateKey]:
        """A renew-id request signed with the current key, carrying a CSR for a new key."""
        new_key = generate_key()
        return self.signed("renew-id", csr=make_csr(new_key, self.udi)), new_key

    def deregister(self) -> dict[str, Any]:
        return self.signed("deregister")


@dataclass
class PolicyDevice:
    """A product instance in policy mode: a trust key, RUM reports, SLAC requests and returns."""

    udi: Udi
    clock: Clock
    hostname: str = "gateway"
    key: Ed25519PrivateKey = field(default_factory=generate_key)
    next_id: int = 1767225600

    def report(
        self, tag: str, value: int, *, start: int | None = None, hours: int = 1
    ) -> dict[str, Any]:
        now = int(self.clock.now().timestamp())
        start = start if start is not None else now - 3600 * hours
        self.next_id += 1
        report = RumReport(
            self.next_id,
            self.udi,
            DEFAULT_PROFILE.software_tag,
            tag,
            [Measurement(start, start + 3600 * hours, value, num_samples=4 * hours)],
            hostname=self.hostname,
        )
        return sign_report(report, self.key)

    def body(self, *reports: dict[str, Any]) -> dict[str, Any]:
        return {
            "data": {
                "timestamp": timestamp_ms(self.clock.now()),
                "nonce": make_nonce(),
                "reports": [{"sudi": sudi_json(self.udi), "usage": list(reports)}],
            }
        }

    def _signed(self, kind: str, **fields: Any) -> dict[str, Any]:
        pub = self.key.public_key()
        payload = {
            "type": kind,
            "udi": {"pid": self.udi.pid, "sn": self.udi.sn},
            "public_key": public_key_b64(pub),
            "hostname": self.hostname,
            "timestamp": timestamp_ms(self.clock.now()),
            "nonce": make_nonce(),
            **fields,
        }
        return seal_with_key(payload, self.key, key_id_of(pub))

    def trust_request(self, token: str, *, force: bool = False) -> dict[str, Any]:
        return self._signed("trust-request", token=token, force=force)

    def auth_request(self, usage: dict[str, int], mode: str = "add") -> dict[str, Any]:
        return self._signed(
            "authorization-request",
            mode=mode,
            entitlements=[{"tag": t, "count": c} for t, c in usage.items()],
        )

    def return_code(self, code_id: str) -> str:
        raw = uuid.UUID(code_id).bytes
        sig = self.key.sign(b"return:" + raw + str(self.udi).encode())
        return format_return_code(raw, sig)
