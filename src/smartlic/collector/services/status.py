"""The collector's status views: devices with their alerts (the CSLU product instance table)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from smartlic.collector.models import Alert, Device, Report, Request, UpstreamTask
from smartlic.collector.prefs import load, save
from smartlic.collector.services._base import ServiceBase

__all__ = ["DeviceStatus", "RequestStatus", "Status", "Totals"]


@dataclass(frozen=True)
class DeviceStatus:
    id: int
    name: str
    hostname: str
    mode: str
    last_contact: datetime | None
    alerts: list[str]
    reports: int
    pending: int
    # reports the authority refused (never sent again) and the reason it gave for the latest
    rejected: int = 0
    rejection: str | None = None


@dataclass(frozen=True)
class Totals:
    devices: int
    reports: int
    not_uploaded: int
    awaiting_ack: int
    acknowledged: int
    rejected: int
    upstream_tasks: int


@dataclass(frozen=True)
class RequestStatus:
    """An authorization request (or return) a device handed over, and where it stands."""

    id: int
    device: str
    kind: str  # request | return
    received_at: datetime
    state: str


class Status(ServiceBase):
    def change_preferences(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply ``changes`` (``PreferencesChange``: strict, all or nothing); the public view.
        The REST API, the CLI and the web page all change preferences here."""
        with self.transaction() as s:
            prefs = load(s)
            prefs.update(changes)
            save(s, prefs)
        return prefs.public()

    def requests(self, limit: int = 100) -> list[RequestStatus]:
        """The latest authorization requests and returns, newest first."""
        q = select(Request, Device).join(Device).order_by(Request.id.desc()).limit(limit)
        with self.reading() as s:
            return [
                RequestStatus(r.id, d.name, r.kind, r.received_at, _request_state(r))
                for r, d in s.execute(q)
            ]

    def devices(self, *, alerts: int = 1) -> list[DeviceStatus]:
        with self.reading() as s:
            counts = _pairs(
                s.execute(select(Report.device_id, func.count()).group_by(Report.device_id))
            )
            pending = _pairs(
                s.execute(
                    select(Report.device_id, func.count())
                    .where(Report.acked_at.is_(None), Report.rejected.is_(None))
                    .group_by(Report.device_id)
                )
            )
            rejected, reasons = _rejections(s)
            out = []
            for d in s.scalars(select(Device).order_by(Device.id)):
                texts = s.scalars(
                    select(Alert.text)
                    .where(Alert.device_id == d.id)
                    .order_by(Alert.id.desc())
                    .limit(alerts)
                )
                out.append(
                    DeviceStatus(d.id, d.name, d.hostname, d.mode, d.last_contact_at,
                                 list(texts), counts.get(d.id, 0), pending.get(d.id, 0),
                                 rejected.get(d.id, 0), reasons.get(d.id))
                )  # fmt: skip
            return out

    def totals(self) -> Totals:
        with self.reading() as s:

            def n(*where: object) -> int:
                return int(s.scalar(select(func.count(Report.id)).where(*where)) or 0)  # type: ignore[arg-type]

            return Totals(
                devices=int(s.scalar(select(func.count(Device.id))) or 0),
                reports=n(),
                not_uploaded=n(Report.uploaded_at.is_(None), Report.acked_at.is_(None),
                               Report.rejected.is_(None)),
                awaiting_ack=n(Report.uploaded_at.is_not(None), Report.acked_at.is_(None),
                               Report.rejected.is_(None)),
                acknowledged=n(Report.acked_at.is_not(None)),
                rejected=n(Report.rejected.is_not(None)),
                upstream_tasks=int(s.scalar(select(func.count(UpstreamTask.id))) or 0),
            )  # fmt: skip

    def alerts(self, device_id: int | None = None, limit: int = 50) -> list[tuple[datetime, str]]:
        with self.reading() as s:
            q = select(Alert.at, Alert.text).order_by(Alert.id.desc()).limit(limit)
            if device_id is not None:
                q = q.where(Alert.device_id == device_id)
            return [(at, text) for at, text in s.execute(q)]


def _rejections(s: Session) -> tuple[dict[int, int], dict[int, str]]:
    """Per device: how many reports were refused, and the reason given for the latest."""
    refused = Report.rejected.is_not(None)
    latest = (
        select(func.max(Report.id).label("id")).where(refused).group_by(Report.device_id)
    ).subquery()
    reasons = s.execute(
        select(Report.device_id, Report.rejected).join(latest, Report.id == latest.c.id)
    )
    counts = s.execute(
        select(Report.device_id, func.count()).where(refused).group_by(Report.device_id)
    )
    return _pairs(counts), {int(k): str(v) for k, v in reasons}


def _request_state(r: Request) -> str:
    if r.result is None:
        return "Sent to CSSM, awaiting its answer" if r.forwarded_at else "Waiting for CSSM"
    if r.result.get("status") == "SUCCESS":
        return "Authorization code received" if r.kind == "request" else "Return confirmed"
    return f"Refused: {r.result.get('status_message') or r.result.get('error_code') or 'FAILED'}"


def _pairs(rows: Any) -> dict[int, int]:
    return {int(k): int(v) for k, v in rows}
