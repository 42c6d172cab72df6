"""Node-locked (traditional) license files: one feature for one device, signed by the authority.

The first document: traditional licensing is "node-locked - license is associated with a
specific device", installed with ``license install flash:FILE``. Our file is XML; the readable
elements are for people, the signed ``<data>`` envelope (``smartlic.formats.envelope``, payload
type ``license-file``) is what counts, and the two must agree::

    <licenseFile>
      <udi>P:ASR-903,S:FOX1234</udi>
      <feature>advancedmetroipaccess</feature>
      <count>1</count>                       (or "Non-Counted")
      <licenseType>Permanent</licenseType>   (or "Evaluation")
      <period>60</period>                    (evaluation only: days of use)
      <serial>LF7C1E0A6B2D34</serial>
      <data>{"payload": "...", "signature": {...}, "certificate": "..."}</data>
    </licenseFile>

``read_license_file`` verifies with the one verifier (``smartlic.formats.signed``): the chain to
the pinned CA, the signature, the UDI (a file for another device is refused, ``wrong-device``),
that the readable elements say what was signed (``tampered``), and that an evaluation file is
not past its ``expires_at`` (``expired``). An evaluation license's *period* counts down while
the feature is in use (the device's business); ``expires_at`` bounds the file itself.

Usage::

    payload = license_payload(udi, "securityk9", count=None, eval_days=None, serial=s)
    data = write_license_file(signer_section(payload))   # the authority signs the payload
    lic = read_license_file(data, verifier, ca=ca, udi=device_udi)
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from smartlic.crypto import Udi
from smartlic.errors import InvalidInput, SignatureInvalid
from smartlic.formats import jsonsafe
from smartlic.formats.device_v1 import MAX_COUNT, parse_udi, udi_json, udi_short
from smartlic.formats.envelope import iso, parse_iso, read_payload
from smartlic.formats.signed import SignedVerifier
from smartlic.formats.xmlsafe import element, parse_xml, to_bytes

__all__ = [
    "LICENSE_FILE_TYPE",
    "MAX_EVAL_DAYS",
    "LicenseFile",
    "license_payload",
    "new_serial",
    "read_license_file",
    "write_license_file",
]

LICENSE_FILE_TYPE = "license-file"
MAX_EVAL_DAYS = 3650
MAX_FILE_BYTES = 64 * 1024
PERMANENT, EVALUATION = "Permanent", "Evaluation"
UNCOUNTED = "Non-Counted"  # the device's wording (show license: "License Count: Non-Counted")


@dataclass(frozen=True)
class LicenseFile:
    """A verified license file."""

    udi: Udi
    feature: str
    count: int | None  # None: uncounted
    license_type: str  # "Permanent" or "Evaluation"
    period_days: int | None  # evaluation: days of use
    serial: str
    issued_at: datetime | None
    expires_at: datetime | None

    @property
    def permanent(self) -> bool:
        return self.license_type == PERMANENT


def new_serial() -> str:
    return "LF" + secrets.token_hex(6).upper()


def license_payload(
    udi: Udi,
    feature: str,
    *,
    count: int | None,
    eval_days: int | None,
    serial: str,
    now: datetime,
) -> dict[str, Any]:
    """The payload the authority signs; raises ``InvalidInput`` on a bad feature/count/period."""
    if not feature or len(feature) > 64 or not feature.replace("_", "").replace("-", "").isalnum():
        raise InvalidInput(f"not a feature name: {feature!r}", pointer="/feature")
    if count is not None and not 1 <= count <= MAX_COUNT:
        raise InvalidInput(f"count is 1-{MAX_COUNT}", pointer="/count")
    if eval_days is not None and not 1 <= eval_days <= MAX_EVAL_DAYS:
        raise InvalidInput(f"an evaluation period is 1-{MAX_EVAL_DAYS} days", pointer="/eval_days")
    return {
        "type": LICENSE_FILE_TYPE,
        "udi": udi_json(udi),
        "feature": feature,
        "count": count,
        "license_type": EVALUATION if eval_days else PERMANENT,
        "period_days": eval_days,
        "serial": serial,
        "expires_at": iso(now + timedelta(days=eval_days)) if eval_days else None,
    }


def _readable(payload: Mapping[str, Any]) -> dict[str, str]:
    out = {
        "udi": udi_short(parse_udi(payload["udi"])),
        "feature": str(payload["feature"]),
        "count": UNCOUNTED if payload["count"] is None else str(payload["count"]),
        "licenseType": str(payload["license_type"]),
        "serial": str(payload["serial"]),
    }
    if payload.get("period_days"):
        out["period"] = str(payload["period_days"])
    return out


def write_license_file(envelope: Mapping[str, Any]) -> bytes:
    """The file for a signed ``license-file`` envelope."""
    root = element("licenseFile")
    for tag, text in _readable(read_payload(envelope)).items():
        root.append(element(tag, text))
    root.append(element("data", json.dumps(envelope, separators=(",", ":"))))
    return to_bytes(root) + b"\n"


def _envelope(root: Any) -> dict[str, Any]:
    try:
        env = jsonsafe.loads(root.findtext("data") or "")
    except ValueError as exc:
        raise InvalidInput("the license file's <data> is not JSON", code="bad-file") from exc
    if not isinstance(env, dict):
        raise InvalidInput("the license file's <data> is not a signed envelope", code="bad-file")
    return env


def read_license_file(
    data: bytes, verifier: SignedVerifier, *, ca: Any, udi: Udi | None
) -> LicenseFile:
    """Verify a license file for device ``udi`` (see the module docstring for the checks)."""
    root = parse_xml(data, max_bytes=MAX_FILE_BYTES)
    if root.tag != "licenseFile":
        raise InvalidInput(f"not a license file (root <{root.tag}>)", code="bad-file")
    doc = verifier.verify(_envelope(root), ca=ca, expected_type=LICENSE_FILE_TYPE, udi=udi)
    p = doc.payload
    shown = {child.tag: (child.text or "") for child in root if child.tag != "data"}
    if doc.udi is None or shown != _readable(p):
        raise SignatureInvalid("the license file was altered", code="tampered")
    expires = parse_iso(p.get("expires_at"))
    if expires is not None and verifier.clock.now() >= expires:
        raise InvalidInput(f"the license file expired on {iso(expires)}", code="expired")
    return LicenseFile(
        doc.udi,
        str(p["feature"]),
        p["count"] if isinstance(p["count"], int) else None,
        str(p["license_type"]),
        p.get("period_days") if isinstance(p.get("period_days"), int) else None,
        str(p["serial"]),
        doc.issued_at,
        expires,
    )
