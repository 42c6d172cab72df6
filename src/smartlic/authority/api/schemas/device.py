"""Device protocol v1 bodies (docs/device-protocol.md), declared for the OpenAPI document.

The service checks every message itself (``smartlic.formats.device_v1``); these models add
shape checks at the edge and let clients generate code. Unknown fields are passed through.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["RegisterRequest", "SignatureModel", "SignedEnvelope", "UdiModel"]


class _Passthrough(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)


class UdiModel(_Passthrough):
    pid: str = Field(min_length=1, max_length=64, examples=["ASR-903"])
    sn: str = Field(min_length=1, max_length=64, examples=["FOX1234ABCD"])


class SignatureModel(_Passthrough):
    alg: str = Field(examples=["Ed25519"])
    key_id: str = Field(description="sha256 hex of the signer's certificate")
    value: str = Field(description="base64 signature over the exact payload string")


class SignedEnvelope(_Passthrough):
    """A signed request or response: the signature covers the exact ``payload`` string."""

    payload: str = Field(description="compact JSON of the message")
    signature: SignatureModel
    certificate: str | None = Field(default=None, description="PEM of the signer")


class RegisterRequest(_Passthrough):
    """``POST /register``: the only plain (unsigned) request; the CSR proves key possession."""

    token: str = Field(min_length=1, max_length=512)
    udi: UdiModel
    hostname: str = Field(default="", max_length=255)
    software_tag: str = Field(default="", max_length=255)
    csr: str = Field(min_length=1, max_length=16384, description="PEM CSR, Ed25519")
    force: bool = False
    timestamp: int = Field(description="epoch milliseconds, the device's clock")
    nonce: str = Field(min_length=1, max_length=64)
    proof: SignedEnvelope | None = Field(
        default=None,
        description="with force, for a device held by another smart account: a register-proof "
        "signed by the device's current identity key (docs/device-protocol.md)",
    )
