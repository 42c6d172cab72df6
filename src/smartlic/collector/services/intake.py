"""Product-instance-initiated intake: what devices push to ``/cslu/v1/pi``.

The messages are those of the authority's vendor device API (docs/usage-protocol.md):
``reportusage``, ``authrequest``, ``poll``, plus hellos. Everything a device hands over is
committed before the collector answers, so a collector killed right after answering has
lost nothing; the device gets ``OK_POLL`` with a poll id until the authority's signed files
are here, and then those files, unchanged (the device verifies them against the authority CA).

Reports are never altered: the envelope is stored as received and forwarded as stored. A report
whose device's trust key the collector has seen (from a trust code in an ACK) must verify
against that key; any other report must at least verify against the key it carries.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from smartlic.collector.models import Device, DeviceTask, Report, Request
from smartlic.collector.prefs import Preferences, load
from smartlic.collector.services import _base
from smartlic.collector.services._base import ServiceBase, find_device, new_poll_id
from smartlic.crypto import Udi
from smartlic.errors import Forbidden, InvalidInput, NotFound, SmartlicError
from smartlic.formats import jsonsafe
from smartlic.formats.device_api import data_of, groups, ok_poll, poll_id_of, udi_of_payload
from smartlic.formats.envelope import read_payload
from smartlic.formats.rum import claimed_key, parse_sudi
from smartlic.formats.signed import open_report, open_sealed

__all__ = ["Intake"]


class Intake(ServiceBase):
    def __init__(self, engine: Any, clock: Any, *, poll_interval_s: int = 60) -> None:
        super().__init__(engine, clock)
        self.poll_interval_s = poll_interval_s

    # ------------------------------------------------------------ messages

    def report_usage(self, body: Any, virtual_account: str | None = None) -> dict[str, Any]:
        """``reportusage``: store every report (idempotently), answer ``OK_POLL``."""
        batches = groups(data_of(body).get("reports"))
        vouched = self.vouch([udi for udi, _ in batches])
        with self.transaction() as s:
            prefs = load(s)
            rows: list[int] = []
            for udi, envelopes in batches:
                device = self.admit(s, udi, prefs, virtual_account, vouched)
                rows.extend(self.store_reports(s, device, envelopes))
            task = self._task(s, "acknowledgements", {"reports": rows})
        return ok_poll(task.id, "acknowledgements", self.now(), self.poll_interval_s)

    def authrequest(self, body: Any, virtual_account: str | None = None) -> dict[str, Any]:
        """``authrequest``: store authorization requests and returns, answer ``OK_POLL``."""
        data = data_of(body)
        with self.transaction() as s:
            prefs = load(s)
            rows = [
                self._request(s, env, prefs, virtual_account) for env in _list(data, "requests")
            ]
            rows += [self._return(s, ret, prefs, virtual_account) for ret in _list(data, "returns")]
            if not rows:
                raise InvalidInput("nothing to do: give requests or returns", pointer="/data")
            task = self._task(s, "authorizations", {"requests": rows})
        return ok_poll(task.id, "authorizations", self.now(), self.poll_interval_s)

    def poll(self, body: Any) -> dict[str, Any]:
        """``poll``: ``OK_POLL`` until the authority's answer is here, then ``COMPLETE``."""
        poll_id = poll_id_of(data_of(body))
        with self.transaction() as s:
            task = s.get(DeviceTask, poll_id)
            if task is None:
                raise NotFound(f"no poll task {poll_id}")
            if task.action == "authorizations":
                return self._authorizations(s, task)
            return self._acknowledgements(s, task)

    def hello(self, body: Any, requesting_system: str | None = None) -> dict[str, Any]:
        """A periodic hello: only the last contact time changes."""
        sudi = _hello_sudi(body, requesting_system)
        with self.transaction() as s:
            device = find_device(s, sudi) if sudi else None
            if device is not None:
                device.last_contact_at = self.now()
        return {"status": "OK", "known": device is not None}

    # ------------------------------------------------------------ shared with collection

    def vouch(self, udis: Sequence[Udi]) -> set[Udi]:
        """With Validate Device and connectivity on, the devices new to the collector that the
        authority knows in the smart account. Asked before the write transaction opens, so a
        slow authority never holds the store's lock."""
        with self.reading() as s:  # no write lock: this runs before every intake
            prefs = load(s)
            if not (prefs.validate_device and prefs.connectivity):
                return set()
            new = [u for u in udis if find_device(s, u) is None]
        return {u for u in new if self._known_to_account(u, prefs)}

    def admit(
        self,
        s: Session,
        udi: Udi,
        prefs: Preferences,
        virtual_account: str | None = None,
        vouched: set[Udi] | None = None,
    ) -> Device:
        """The device record for ``udi``; with Validate Device only devices known to the
        collector, or vouched for by the authority (``vouch``)."""
        device = find_device(s, udi)
        if device is None:
            known = udi in (vouched or set())
            if prefs.validate_device and not known:
                raise Forbidden(
                    f"product instance {udi} is known neither to this collector nor to the "
                    "account (Validate Device)",
                    code="unknown-device",
                )
            device = Device.of(udi, self.now(), known=known)
            s.add(device)
        device.last_contact_at = self.now()
        if virtual_account is not None:
            device.virtual_account = virtual_account
        s.flush()
        return device

    def store_reports(
        self, s: Session, device: Device, envelopes: Sequence[dict[str, Any]]
    ) -> list[int]:
        """Verify and store; a report already held is kept as first received (idempotent)."""
        checked = [(self._check(device, device.udi, env), env) for env in envelopes]
        held = _held(s, device.id, [rid for rid, _ in checked])
        for report_id, env in checked:
            if report_id not in held:
                row = Report(device_id=device.id, report_id=report_id, envelope=_text(env))
                row.received_at = self.now()
                s.add(row)
                held[report_id] = row
        s.flush()
        if checked:
            self.alert(s, device, _base.FROM_DEVICE)
            _adopt_hostname(device, envelopes)
        return [held[rid].id for rid, _ in checked]

    # ------------------------------------------------------------ helpers

    @staticmethod
    def _known_to_account(udi: Udi, prefs: Preferences) -> bool:
        """Validate Device with connectivity on: is ``udi`` a product instance of the smart
        account at the authority? (Only asked for a device the collector has never seen.)"""
        from smartlic.collector.services.client import AuthorityClient
        from smartlic.errors import SmartlicError

        if not (prefs.connectivity and prefs.smart_account):
            return False
        path = f"/api/v1/accounts/{prefs.smart_account}/devices"
        try:
            with AuthorityClient(prefs, timeout_s=10) as client:
                page = client.http.get(path, params={"search": udi.sn, "limit": 50}).json()
        except (SmartlicError, ValueError, OSError):
            return False
        items = page.get("items", []) if isinstance(page, dict) else []
        return any((i.get("udi_pid"), i.get("udi_sn")) == (udi.pid, udi.sn) for i in items)

    @staticmethod
    def _check(device: Device, udi: Udi, env: dict[str, Any]) -> int:
        if device.trust_public_key:
            raw = base64.b64decode(device.trust_public_key)
            report = open_report(env, Ed25519PublicKey.from_public_bytes(raw))
        else:
            report = open_report(env, claimed_key(env)[1])
        if report.udi != udi:
            raise Forbidden(f"report {report.report_id} names {report.udi}, not {udi}")
        return report.report_id

    def _task(self, s: Session, action: str, items: dict[str, Any]) -> DeviceTask:
        task = DeviceTask(id=new_poll_id(), action=action, items=items, created_at=self.now())
        s.add(task)
        return task

    def _request(self, s: Session, env: Any, prefs: Preferences, va: str | None) -> int:
        if not isinstance(env, dict):
            raise InvalidInput("a request is a signed envelope", pointer="/data/requests")
        device = self.admit(s, udi_of_payload(read_payload(env)), prefs, va)
        if device.trust_public_key:
            raw = base64.b64decode(device.trust_public_key)
            open_sealed(env, Ed25519PublicKey.from_public_bytes(raw))
        return self._add_request(s, device, "request", env)

    def _return(self, s: Session, ret: Any, prefs: Preferences, va: str | None) -> int:
        if not isinstance(ret, dict) or not isinstance(ret.get("remove_code"), str):
            raise InvalidInput("a return is {sudi, remove_code}", pointer="/data/returns")
        device = self.admit(s, parse_sudi(ret.get("sudi"), "/data/returns/sudi"), prefs, va)
        return self._add_request(s, device, "return", ret)

    def _add_request(self, s: Session, device: Device, kind: str, body: dict[str, Any]) -> int:
        row = Request(device_id=device.id, kind=kind, body=body, received_at=self.now())
        s.add(row)
        s.flush()
        self.alert(s, device, _base.AUTH_FROM_DEVICE)
        return row.id

    def _acknowledgements(self, s: Session, task: DeviceTask) -> dict[str, Any]:
        reports = list(s.scalars(select(Report).where(Report.id.in_(task.items["reports"]))))
        if any(r.acked_at is None and r.rejected is None for r in reports):
            return self._pending(task)
        items, errors = self._deliver(s, reports)
        task.completed_at = task.completed_at or self.now()
        data = {"acknowledgements": items, "errors": errors}
        return _complete(task, data)

    def _deliver(
        self, s: Session, reports: list[Report]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        from smartlic.collector.services.deliveries import deliveries_for, mark_delivered

        found = deliveries_for(s, reports)
        for delivery, device in found:
            if delivery.delivered_at is None:
                mark_delivered(s, delivery, self.now())
                self.alert(s, device, _base.ACK_TO_DEVICE)
        errors = [
            {"report_id": r.report_id, "reason": r.rejected}
            for r in reports
            if r.rejected is not None and r.acked_at is None
        ]
        return [d.item for d, _ in found], errors

    def _authorizations(self, s: Session, task: DeviceTask) -> dict[str, Any]:
        rows = list(s.scalars(select(Request).where(Request.id.in_(task.items["requests"]))))
        if any(r.result is None for r in rows):
            return self._pending(task)
        task.completed_at = task.completed_at or self.now()
        return _complete(task, {"authorizations": [r.result for r in rows]})

    def _pending(self, task: DeviceTask) -> dict[str, Any]:
        return {
            "status": "OK_POLL",
            "message": "",
            "poll_id": task.id,
            "poll_interval": self.poll_interval_s,
        }


def _complete(task: DeviceTask, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": "COMPLETE",
        "type": task.action,
        "poll_id": task.id,
        "correlation_id": str(task.id),
        "data": data,
    }


def _held(s: Session, device_id: int, report_ids: list[int]) -> dict[int, Report]:
    if not report_ids:
        return {}
    q = select(Report).where(Report.device_id == device_id, Report.report_id.in_(report_ids))
    return {r.report_id: r for r in s.scalars(q)}


def _text(env: dict[str, Any]) -> str:
    # The payload is a string inside the object, so re-serialising the object keeps the signed
    # bytes exactly; the object itself is kept key for key.
    return json.dumps(env, separators=(",", ":"), ensure_ascii=False)


def _adopt_hostname(device: Device, envelopes: Sequence[dict[str, Any]]) -> None:
    try:
        meta = jsonsafe.loads(envelopes[-1]["payload"]).get("meta", {})
    except (KeyError, ValueError, AttributeError, SmartlicError):
        return
    if isinstance(meta.get("hostname"), str):
        device.hostname = meta["hostname"][:255]


def _list(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput(f"data.{key} must be a list", pointer=f"/data/{key}")
    return value


def _hello_sudi(body: Any, requesting_system: str | None) -> Udi | None:
    data = body.get("data") if isinstance(body, dict) else None
    raw: Any = data.get("sudi") if isinstance(data, dict) else None
    if raw is None and requesting_system:
        try:
            raw = jsonsafe.loads(requesting_system)
        except (ValueError, SmartlicError):
            raw = None
    try:
        return parse_sudi(raw, "/data/sudi") if raw is not None else None
    except InvalidInput:
        return None
