"""Disconnected authorization codes (SLAC): request files out, code files in.

While the collector cannot reach the authority, an authorization request a device handed over
waits in the store. ``request_files`` writes each as the authority's offline request file
(``<smartLicense><smartLicenseAuthRequest>``, one request per file, as
``POST .../virtual-accounts/{va}/authorization-requests`` takes it); the code file the authority
answers is imported with the ACKs (``Transfer.import_acks``) and reaches the device on its next
poll, unchanged. Importing the same code file twice changes nothing.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from smartlic.collector.models import Device, Request
from smartlic.collector.services._base import find_device
from smartlic.collector.services.trusted import CollectorVerifier
from smartlic.crypto import Udi
from smartlic.errors import Conflict, Forbidden, InvalidInput, SmartlicError
from smartlic.formats.rum import sudi_json
from smartlic.formats.slp import read_file, write_file

__all__ = ["apply_code", "is_code_file", "request_files"]

CODE = "smartLicenseAuthorization"


def request_files(s: Session) -> list[tuple[str, bytes]]:
    """One request file per authorization request still waiting for its code."""
    q = (
        select(Request, Device)
        .join(Device)
        .where(Request.kind == "request", Request.result.is_(None))
        .order_by(Request.id)
    )
    return [
        (
            f"AUTH_{d.udi_pid}_{d.udi_sn}_{r.id}.xml",
            write_file([("smartLicenseAuthRequest", r.body)]),
        )
        for r, d in s.execute(q)
    ]


def is_code_file(data: bytes) -> bool:
    try:
        return any(name == CODE for name, _ in read_file(data))
    except InvalidInput:
        return False


def apply_code(
    s: Session, name: str, data: bytes, now: datetime, verifier: CollectorVerifier
) -> tuple[Device, bool]:
    """Answer the device's oldest waiting request with this code file (verified against the
    pinned authority CA first); False if already held."""
    udi = _udi(name, data, verifier)
    device = find_device(s, udi)
    if device is None:
        raise Forbidden(f"{name} is for {udi}, a device this collector does not know",
                        code="unknown-device")  # fmt: skip
    license_b64 = base64.b64encode(data).decode()
    rows = list(s.scalars(select(Request).where(Request.device_id == device.id)))
    if any((r.result or {}).get("smart_license") == license_b64 for r in rows):
        return device, False
    waiting = [r for r in rows if r.kind == "request" and r.result is None]
    if not waiting:
        raise Conflict(f"{name}: no authorization request of {udi} is waiting for a code",
                       code="no-pending-request")  # fmt: skip
    waiting[0].result = _item(udi, license_b64)
    waiting[0].forwarded_at = waiting[0].forwarded_at or now
    return device, True


def _udi(name: str, data: bytes, verifier: CollectorVerifier) -> Udi:
    try:
        docs = verifier.verify_file(data)
    except SmartlicError as exc:
        raise type(exc)(f"{name}: {exc.detail}", code=exc.code) from exc
    for _, doc in docs:
        if doc.type == "authorization-code" and doc.udi is not None:
            return doc.udi
    raise InvalidInput(f"{name}: the authorization code names no device", code="bad-file")


def _item(udi: Udi, license_b64: str) -> dict[str, Any]:
    """The same item the authority's online ``authorizations`` answer carries."""
    return {
        "sudi": sudi_json(udi),
        "smart_license": license_b64,
        "status": "SUCCESS",
        "status_message": None,
        "error_code": None,
    }
