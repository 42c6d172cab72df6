"""Device protocol v1 requests as a benchmark sends them: real Ed25519 keys, CSRs and signed
envelopes (the same messages as tests/devices.py, built ahead of the timed phase)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from smartlic.crypto import Udi, fingerprint, generate_key, load_certificate, make_csr
from smartlic.domain.products import DEFAULT_PROFILE
from smartlic.formats.envelope import make_nonce, seal_with_key, timestamp_ms


@dataclass
class BenchDevice:
    udi: Udi
    key: Ed25519PrivateKey = field(default_factory=generate_key)
    key_id: str | None = None
    envelope: dict[str, Any] | None = None  # the last registration response

    def register_request(self, token: str, now: datetime) -> dict[str, Any]:
        return {
            "token": token,
            "udi": {"pid": self.udi.pid, "sn": self.udi.sn},
            "hostname": f"bench-{self.udi.sn}",
            "software_tag": DEFAULT_PROFILE.software_tag,
            "csr": make_csr(self.key, self.udi),
            "force": False,
            "timestamp": timestamp_ms(now),
            "nonce": make_nonce(),
        }

    def accept(self, envelope: dict[str, Any]) -> None:
        """Keep the identity from a registration response (the bench trusts its own server)."""
        pem = json.loads(envelope["payload"])["certificate"]
        self.key_id = fingerprint(load_certificate(pem))

    def authorize(self, usage: dict[str, int], now: datetime) -> dict[str, Any]:
        assert self.key_id, "not registered"
        payload = {
            "type": "authorize",
            "udi": {"pid": self.udi.pid, "sn": self.udi.sn},
            "hostname": f"bench-{self.udi.sn}",
            "entitlements": [{"tag": t, "count": c} for t, c in usage.items()],
            "timestamp": timestamp_ms(now),
            "nonce": make_nonce(),
        }
        return seal_with_key(payload, self.key, self.key_id)


def make_devices(prefix: str, count: int) -> list[BenchDevice]:
    return [BenchDevice(Udi("C9300-BENCH", f"{prefix}{n:06d}")) for n in range(count)]
