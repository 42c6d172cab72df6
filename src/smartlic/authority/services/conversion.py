"""Device-led conversion at the authority: node-locked (traditional) license files a registered
device reports become smart licenses in its virtual account.

Each file is verified with the one verifier (``formats.license_file``: chain to our CA,
signature, this device's UDI, unaltered); only permanent licenses convert. A file converts
once: its holding carries ``subscription_id = "DLC:<serial>"``, and a request naming a serial
converted before is refused whole (nothing added).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from cryptography import x509
from sqlalchemy import select
from sqlalchemy.orm import Session

from smartlic.clock import Clock
from smartlic.crypto import Udi
from smartlic.domain.enums import HoldingKind
from smartlic.errors import Conflict, InvalidInput
from smartlic.formats.license_file import LicenseFile, read_license_file
from smartlic.formats.signed import SignedVerifier
from smartlic.storage.models import Holding, License, ProductInstance

__all__ = ["MAX_FILES", "convert_files"]

MAX_FILES = 64


def convert_files(
    s: Session,
    inst: ProductInstance,
    raw: Any,
    trust: tuple[x509.Certificate, Udi],
    clock: Clock,
) -> list[dict[str, Any]]:
    """Verify every file, then add one perpetual holding per license; what was converted."""
    ca, udi = trust
    verifier = SignedVerifier(clock)
    checked = [_license(s, read_license_file(d, verifier, ca=ca, udi=udi)) for d in _files(raw)]
    serials = [lic.serial for lic, _ in checked]
    if len(set(serials)) != len(serials):
        raise InvalidInput("a license file is listed twice", code="duplicate")
    _require_unconverted(s, serials)
    out = []
    for lic, row in checked:
        s.add(
            Holding(
                virtual_account_id=inst.virtual_account_id,
                license_id=row.id,
                quantity=lic.count or 1,
                kind=HoldingKind.PERPETUAL,
                subscription_id=f"DLC:{lic.serial}",
                created_at=clock.now(),
            )
        )
        out.append({"serial": lic.serial, "feature": lic.feature, "tag": row.tag,
                    "count": lic.count or 1})  # fmt: skip
    return out


def _files(raw: Any) -> list[bytes]:
    if not isinstance(raw, list) or not raw or len(raw) > MAX_FILES:
        raise InvalidInput(f"licenses is a list of 1-{MAX_FILES} license files (base64)")
    try:
        return [base64.b64decode(item, validate=True) for item in raw if isinstance(item, str)]
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput("a license file is not base64") from exc


def _license(s: Session, lic: LicenseFile) -> tuple[LicenseFile, License]:
    if not lic.permanent:
        raise InvalidInput(
            f"{lic.serial}: only permanent licenses convert (this one is an evaluation)",
            code="not-convertible",
        )
    row = s.scalars(
        select(License).where(License.name == lic.feature).order_by(License.tag)
    ).first()
    if row is None:
        raise InvalidInput(f"{lic.serial}: no smart license for feature {lic.feature}",
                           code="unknown-feature")  # fmt: skip
    return lic, row


def _require_unconverted(s: Session, serials: list[str]) -> None:
    done = [
        sid
        for sid in s.scalars(
            select(Holding.subscription_id).where(
                Holding.subscription_id.in_([f"DLC:{x}" for x in serials])
            )
        ).all()
        if sid is not None
    ]
    if done:
        raise Conflict(
            f"license {sorted(done)[0].removeprefix('DLC:')} was converted already",
            code="already-converted",
        )
