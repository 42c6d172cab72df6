"""Authority-signed files waiting for devices: recorded once (by content digest, so a repeated
import or poll answer adds nothing), handed over on the device's next poll or pushed to it.

What the collector learns from a file it passes on (never changing it): the device's trust key
from a trust-code section (later reports must verify against it), which reports are
acknowledged, and the smart account's name. It learns them only from sections the shared
verifier (``trusted.CollectorVerifier``) has checked against the pinned authority CA; a trust
code older than the one already applied for the device is not applied again."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from smartlic.collector.models import Delivery, Device, Report
from smartlic.collector.services.trusted import CollectorVerifier
from smartlic.crypto import Udi
from smartlic.errors import InvalidInput, SignatureInvalid
from smartlic.formats.signed import SignedDocument

__all__ = [
    "FileFacts",
    "add_delivery",
    "deliveries_for",
    "digest_of",
    "file_facts",
    "mark_delivered",
    "record",
]


class FileFacts:
    """What a verified ACK file says."""

    def __init__(self) -> None:
        self.udi: Udi | None = None  # the ACK's device (its payload ``udi``, verified)
        self.acknowledged: list[int] = []
        self.rejected: list[dict[str, Any]] = []
        self.smart_account: str | None = None
        self.virtual_account: str | None = None
        self.trust: tuple[str, str] | None = None  # (key_id, public key b64)
        self.docs: list[SignedDocument] = []
        self.verifier: CollectorVerifier | None = None

    def trust_is_new(self) -> bool:
        """Is the file's trust code newer than any applied for the device (not a replay)?"""
        docs = [d for d in self.docs if d.type == "trust-code"]
        return bool(docs) and self.verifier is not None and self.verifier.is_new(docs[0])

    def accept(self) -> None:
        """Remember the file's documents as applied (same transaction as the changes)."""
        if self.verifier is not None:
            self.verifier.accept(self.docs)


def file_facts(data: bytes, verifier: CollectorVerifier) -> FileFacts:
    """The facts of an ACK file, every section verified first (raises on the first failure)."""
    facts = FileFacts()
    facts.verifier = verifier
    verified = verifier.verify_file(data)
    if len({str(doc.udi) for _, doc in verified}) > 1:
        raise SignatureInvalid("the file's sections name different devices", code="wrong-device")
    for section, doc in verified:
        payload = doc.payload
        facts.docs.append(doc)
        if section == "smartLicenseRumAck":
            facts.udi = doc.udi
            facts.acknowledged = [int(i) for i in payload.get("acknowledged", [])]
            facts.rejected = list(payload.get("rejected", []))
            facts.smart_account = payload.get("smart_account")
            facts.virtual_account = payload.get("virtual_account")
        elif section == "smartLicenseTrustCode":
            facts.trust = (str(payload.get("key_id")), str(payload.get("public_key")))
    if facts.udi is None:
        raise InvalidInput("the file holds no usage acknowledgement", code="bad-file")
    return facts


def add_delivery(
    s: Session, device: Device, item: dict[str, Any], facts: FileFacts, now: datetime
) -> bool:
    """Record ``item`` for ``device`` and apply what it acknowledges; False if already held."""
    digest = _digest(item)
    if s.scalar(select(Delivery.id).where(Delivery.digest == digest)) is not None:
        return False
    wanted = set(facts.acknowledged) | {int(r.get("report_id", 0)) for r in facts.rejected}
    rows = s.scalars(
        select(Report).where(Report.device_id == device.id, Report.report_id.in_(wanted))
    )
    record(s, device, item, facts, now, {(device.id, r.report_id): r for r in rows})
    return True


def record(
    s: Session,
    device: Device,
    item: dict[str, Any],
    facts: FileFacts,
    now: datetime,
    reports: dict[tuple[int, int], Report],
) -> None:
    """Add the delivery and apply it to ``reports`` (keyed by (device id, report id)), with no
    query of its own: the caller has loaded what it touches (forwarding does, per batch)."""
    ids = facts.acknowledged + [int(r.get("report_id", 0)) for r in facts.rejected]
    s.add(
        Delivery(
            device_id=device.id,
            digest=_digest(item),
            item=item,
            report_ids={"ids": ids},
            created_at=now,
        )
    )
    for report_id in facts.acknowledged:
        if (row := reports.get((device.id, report_id))) is not None:
            row.acked_at = row.acked_at or now
    for rejected in facts.rejected:
        row = reports.get((device.id, int(rejected.get("report_id", 0))))
        if row is not None and row.acked_at is None:
            row.rejected = str(rejected.get("reason", ""))[:500] or "rejected"
    if facts.trust is not None and facts.trust_is_new():
        device.trust_key_id, device.trust_public_key = facts.trust
    facts.accept()


def digest_of(item: dict[str, Any]) -> str:
    return _digest(item)


def _digest(item: dict[str, Any]) -> str:
    return hashlib.sha256(str(item.get("smart_license")).encode()).hexdigest()


def deliveries_for(s: Session, reports: list[Report]) -> list[tuple[Delivery, Device]]:
    """The files that acknowledge any of ``reports`` (one per file)."""
    wanted = {(r.device_id, r.report_id) for r in reports}
    devices = {d for d, _ in wanted}
    q = select(Delivery, Device).join(Device).where(Delivery.device_id.in_(devices))
    out = []
    for delivery, device in s.execute(q):
        if any((device.id, i) in wanted for i in delivery.report_ids["ids"]):
            out.append((delivery, device))
    return out


def mark_delivered(s: Session, delivery: Delivery, now: datetime) -> None:
    delivery.delivered_at = now


def item_bytes(item: dict[str, Any]) -> bytes:
    return base64.b64decode(str(item.get("smart_license", "")))


def trust_of(data: bytes, verifier: CollectorVerifier) -> tuple[Udi, tuple[str, str]] | None:
    """(udi, (key_id, public key)) of a file's verified trust-code section, if it has one and it
    is newer than the last applied for that device (remembered as applied)."""
    for _, doc in verifier.verify_file(data):
        if doc.type == "trust-code" and doc.udi is not None and verifier.is_new(doc):
            p = doc.payload
            verifier.accept([doc])
            return doc.udi, (str(p.get("key_id")), str(p.get("public_key")))
    return None
