"""Device protocol v1: the message shapes of docs/device-protocol.md, built and checked here.

Both sides use this module: the agent builds requests and checks responses; the authority
checks requests and builds responses. Pure: dicts in, dicts out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from smartlic.crypto import Udi
from smartlic.errors import InvalidInput
from smartlic.formats.bounds import check_text

__all__ = [
    "API_PREFIX",
    "MAX_COUNT",
    "REGISTER_PROOF",
    "Entitlement",
    "parse_entitlements",
    "parse_udi",
    "register_binding",
    "require_str",
    "require_type",
    "udi_json",
    "udi_short",
]

API_PREFIX = "/api/device/v1"
MAX_COUNT = 1_000_000  # a product instance never holds more of one license than this
MAX_TAG_LEN = 255


# The type of the signed ``proof`` a registered device adds to a forced ``register``: it shows
# the authority that the request comes from the holder of the current identity (docs/security.md).
REGISTER_PROOF = "register-proof"


def register_binding(token: str, csr: str) -> dict[str, str]:
    """What a register proof signs besides the UDI: the token and CSR of *this* request, so a
    proof seen on the way cannot be reused with another token or another key."""
    return {
        "token_sha256": hashlib.sha256(token.encode()).hexdigest(),
        "csr_sha256": hashlib.sha256(csr.encode()).hexdigest(),
    }


@dataclass(frozen=True, slots=True)
class Entitlement:
    tag: str
    count: int


def udi_json(udi: Udi) -> dict[str, str]:
    return {"pid": udi.pid, "sn": udi.sn}


def udi_short(udi: Udi) -> str:
    """``P:<pid>,S:<sn>``: the UDI as the readable ``<udi>`` of license files and reservation
    authorization codes writes it (and IOS's ``show license tech`` prints it)."""
    return f"P:{udi.pid},S:{udi.sn}"


def require_str(data: Mapping[str, Any], key: str, *, max_len: int = 16384) -> str:
    return check_text(data.get(key), f"/{key}", repr(key), max_len=max_len)


def require_type(payload: Mapping[str, Any], expected: str) -> None:
    if payload.get("type") != expected:
        raise InvalidInput(
            f"expected a {expected!r} message, got {payload.get('type')!r}", pointer="/type"
        )


def parse_udi(data: Any, pointer: str = "/udi") -> Udi:
    if not isinstance(data, Mapping):
        raise InvalidInput("udi must be an object {pid, sn}", pointer=pointer)
    pid = check_text(data.get("pid"), f"{pointer}/pid", "udi.pid", max_len=64)
    sn = check_text(data.get("sn"), f"{pointer}/sn", "udi.sn", max_len=64)
    return Udi(pid, sn)


def parse_entitlements(data: Any) -> list[Entitlement]:
    """Validate ``[{"tag": str, "count": int}]``; a tag may appear once."""
    if not isinstance(data, Sequence) or isinstance(data, str | bytes):
        raise InvalidInput("entitlements must be a list", pointer="/entitlements")
    seen: set[str] = set()
    out: list[Entitlement] = []
    for i, item in enumerate(data):
        ptr = f"/entitlements/{i}"
        if not isinstance(item, Mapping):
            raise InvalidInput("each entitlement is an object {tag, count}", pointer=ptr)
        tag, count = item.get("tag"), item.get("count")
        tag = check_text(tag, f"{ptr}/tag", "tag", max_len=MAX_TAG_LEN)
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_COUNT:
            raise InvalidInput(f"count must be an integer 0-{MAX_COUNT}", pointer=f"{ptr}/count")
        if tag in seen:
            raise InvalidInput(f"tag {tag!r} appears twice", pointer=f"{ptr}/tag")
        seen.add(tag)
        out.append(Entitlement(tag, count))
    return out
