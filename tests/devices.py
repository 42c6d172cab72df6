"""A product instance as tests drive it over device protocol v1: real keys, real CSRs, real
signatures (this is a protocol client, not a stand-in for any of our parts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from smartlic.clock import Clock
from smartlic.crypto import Udi, fingerprint, generate_key, load_certificate, make_csr
from smartlic.domain.products import DEFAULT_PROFILE
from smartlic.formats.envelope import make_nonce, seal_with_key, timestamp_ms


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
