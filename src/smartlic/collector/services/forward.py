"""Connected mode ("Cisco connectivity" on): forward what devices handed over, in batches, and
fetch the authority's answers by polling.

Order of one round (``sync``): upload pending reports batch by batch, forward authorization
requests, then poll every open upstream task. Each step commits on its own, so a collector killed
at any point resumes where it was: a batch the authority accepted but we did not record is sent
again, and the authority acknowledges a duplicate report again without counting it twice
(docs/usage-protocol.md). A failure (authority down, slow, refusing) raises after recording a
``FAILED ...`` alert; the caller retries with exponential backoff (``runner.py``).
"""

from __future__ import annotations

import base64
import json
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from smartlic.clock import Clock
from smartlic.collector.models import Alert, Delivery, Device, Report, Request, UpstreamTask
from smartlic.collector.prefs import Preferences, load, save
from smartlic.collector.services import _base
from smartlic.collector.services._base import ServiceBase, find_device
from smartlic.collector.services.client import (
    AUTHREQUEST,
    POLL,
    REPORTUSAGE,
    TRUST,
    AuthorityClient,
    AuthorityError,
    AuthorityFailed,
)
from smartlic.collector.services.deliveries import digest_of, file_facts, record, trust_of
from smartlic.collector.services.trusted import CollectorVerifier
from smartlic.collector.settings import CollectorSettings
from smartlic.errors import InvalidInput, NotFound, SmartlicError, Unavailable
from smartlic.formats.bounds import clean_text
from smartlic.formats.device_api import body
from smartlic.formats.rum import parse_sudi, sudi_json

__all__ = ["Forwarder", "SyncResult"]


@dataclass
class SyncResult:
    uploaded: int = 0
    acknowledged: int = 0
    authorizations: int = 0
    pending_tasks: int = 0
    errors: list[str] = field(default_factory=list)


class Forwarder(ServiceBase):
    def __init__(self, engine: Any, clock: Clock, settings: CollectorSettings) -> None:
        super().__init__(engine, clock)
        self.settings = settings
        self.transport: Any = None  # an httpx transport, for in-process benchmarks
        self._lock = threading.Lock()  # one round at a time per process

    def sync(self, *, force: bool = False) -> SyncResult:
        """One forwarding round; raises ``Unavailable``/``AuthorityError`` on failure."""
        prefs = self.prefs()
        if not (prefs.connectivity or force):
            raise Unavailable("Cisco connectivity is off: export the data instead")
        result, failures = SyncResult(), list[SmartlicError]()
        with self._lock, self._client(prefs) as client:
            for step in (self._upload_into, self._requests_into, self._poll_into):
                try:  # one failing step does not keep the others from running
                    step(client, prefs, result)
                except SmartlicError as exc:
                    failures.append(exc)
        if failures:
            raise failures[0]
        return result

    def _upload_into(self, client: AuthorityClient, prefs: Preferences, out: SyncResult) -> None:
        out.uploaded = self._upload_all(client, prefs)

    def _requests_into(self, client: AuthorityClient, prefs: Preferences, out: SyncResult) -> None:
        out.authorizations = self._forward_requests(client, prefs)

    def _poll_into(self, client: AuthorityClient, _: Preferences, out: SyncResult) -> None:
        out.acknowledged, out.pending_tasks = self._poll_all(client)

    def trust(self, envelope: Any) -> dict[str, Any]:
        """A trust request passed to the authority now (it needs the token checked online)."""
        if not clean_text(json.dumps(envelope, ensure_ascii=False)):  # JSON cannot carry it on
            raise InvalidInput("a trust request must be valid Unicode text (no lone surrogates)")
        prefs = self.prefs()
        if not prefs.connectivity:
            raise Unavailable(
                "the collector is not connected to the authority; trust by token "
                "needs it (the trust code also comes back in the first ACK)"
            )
        with self._client(prefs) as client:
            answer = client.post(TRUST, envelope)
        self._learn_trust(answer)
        return answer

    # ------------------------------------------------------------ reports

    def _client(self, prefs: Preferences) -> AuthorityClient:
        return AuthorityClient(
            prefs, timeout_s=self.settings.http_timeout_s, transport=self.transport
        )

    def _upload_all(self, client: AuthorityClient, prefs: Preferences) -> int:
        """Batch after batch; a virtual account the authority refuses is skipped for this
        round so that it cannot hold up the others, and the first failure is raised at the end."""
        total, failed, first = 0, set[str | None](), None
        while batch := self._pending_batch(failed, prefs.virtual_account):
            for va, rows in _by_va(batch, prefs).items():
                sent, error = self._upload_isolating(client, va, rows)
                total += sent
                if error is not None:
                    failed.add(va)
                    first = first or error
        if first is not None:
            raise first
        return total

    def _upload_isolating(
        self, client: AuthorityClient, va: str | None, rows: list[tuple[Report, Device]]
    ) -> tuple[int, SmartlicError | None]:
        """One batch; when the authority fails on it (5xx), each device's reports alone, so
        that a device it cannot take never holds up the others (issue 8: failures are per
        device). Returns what was sent and the first failure."""
        try:
            return self._upload(client, va, rows), None
        except SmartlicError as exc:
            per_device = _by_device(rows)
            if not _server_error(exc) or len(per_device) < 2:
                return 0, exc
        sent, first = 0, None
        for group in per_device:
            try:
                sent += self._upload(client, va, group)
            except SmartlicError as exc:
                first = first or exc
        return sent, first

    def _pending_batch(self, skip: set[str | None], default: str | None) -> list[Any]:
        q = (
            select(Report, Device)
            .join(Device)
            .where(Report.uploaded_at.is_(None), Report.acked_at.is_(None))
            .where(Report.rejected.is_(None))
            .order_by(Report.id)
            .limit(self.settings.batch_size)
        )
        for va in skip:
            if va == default:
                q = q.where(Device.virtual_account.is_not(None))
            q = q.where(or_(Device.virtual_account.is_(None), Device.virtual_account != va))
        with self.transaction() as s:
            return [(r, d) for r, d in s.execute(q)]

    def _upload(
        self, client: AuthorityClient, va: str | None, rows: list[tuple[Report, Device]]
    ) -> int:
        grouped: dict[int, list[Report]] = defaultdict(list)
        devices = {d.id: d for _, d in rows}
        for report, device in rows:
            grouped[device.id].append(report)
        reports = [
            {"sudi": sudi_json(devices[i].udi), "usage": [json.loads(r.envelope) for r in rs]}
            for i, rs in grouped.items()
        ]
        try:
            answer = client.post(REPORTUSAGE, body(self.now(), reports=reports), va)
            _poll_id_of(answer)
        except SmartlicError as exc:
            self._failed(devices.values(), _base.UPLOAD_FAILED, exc)
            if _refused_for_good(exc):  # retrying the same bytes cannot succeed: set aside
                self._set_aside([r.id for r, _ in rows], exc)
                return 0
            raise
        self._uploaded(answer, [r.id for r, _ in rows], devices.values())
        return len(rows)

    def _set_aside(self, ids: list[int], exc: SmartlicError) -> None:
        with self.transaction() as s:
            reason = f"refused by the authority: {exc.detail}"[:500]
            s.execute(update(Report).where(Report.id.in_(ids)).values(rejected=reason))

    def _uploaded(self, answer: dict[str, Any], ids: list[int], devices: Any) -> None:
        task = _upstream_task(answer, "acknowledgements", ids, self.now())
        with self.transaction() as s:
            s.add(task)
            s.execute(update(Report).where(Report.id.in_(ids)).values(uploaded_at=self.now()))
            for device in devices:
                self.alert(s, device, _base.UPLOADED)

    def _failed(self, devices: Any, template: str, exc: SmartlicError) -> None:
        with self.transaction() as s:
            for device in devices:
                self.alert(s, device, template.format(reason=exc.detail))

    # ------------------------------------------------------------ authorization requests

    def _forward_requests(self, client: AuthorityClient, prefs: Preferences) -> int:
        with self.transaction() as s:
            q = select(Request, Device).join(Device).where(Request.forwarded_at.is_(None))
            rows = [(r, d) for r, d in s.execute(q.order_by(Request.id))]
        for va, group in _by_va(rows, prefs).items():
            ordered = [x for x in group if x[0].kind == "request"]
            ordered += [x for x in group if x[0].kind == "return"]
            requests = [r.body for r, _ in ordered if r.kind == "request"]
            returns = [r.body for r, _ in ordered if r.kind == "return"]
            data = body(self.now(), requests=requests, returns=returns)
            try:
                answer = client.post(AUTHREQUEST, data, va)
            except SmartlicError as exc:
                self._failed({d.id: d for _, d in ordered}.values(), _base.AUTH_FAILED, exc)
                raise
            self._forwarded(answer, [r.id for r, _ in ordered])
        return len(rows)

    def _forwarded(self, answer: dict[str, Any], ids: list[int]) -> None:
        task = _upstream_task(answer, "authorizations", ids, self.now())
        with self.transaction() as s:
            s.add(task)
            s.execute(update(Request).where(Request.id.in_(ids)).values(forwarded_at=self.now()))

    # ------------------------------------------------------------ polling

    def _poll_all(self, client: AuthorityClient) -> tuple[int, int]:
        with self.transaction() as s:
            tasks = list(s.scalars(select(UpstreamTask).order_by(UpstreamTask.id)))
        acked = pending = 0
        for task in tasks:
            done = self._poll(client, task)
            pending += done is None
            acked += done or 0
        return acked, pending

    def _poll(self, client: AuthorityClient, task: UpstreamTask) -> int | None:
        data = body(self.now(), poll_id=task.poll_id, action=task.action)
        try:
            answer = client.post(POLL, data)
        except AuthorityError as exc:
            if exc.code == NotFound.code:  # the authority forgot it: send again
                self._resend(task)
                return 0
            raise
        if answer.get("status") != "COMPLETE":
            return None
        with self.transaction() as s:
            s.execute(delete(UpstreamTask).where(UpstreamTask.id == task.id))
            if task.action == "authorizations":
                return self._authorized(s, task, answer.get("data") or {})
            return self._acknowledged(s, task, answer.get("data") or {})

    def _resend(self, task: UpstreamTask) -> None:
        model: Any = Request if task.action == "authorizations" else Report
        column = "forwarded_at" if task.action == "authorizations" else "uploaded_at"
        with self.transaction() as s:
            s.execute(update(model).where(model.id.in_(task.items["rows"])).values({column: None}))
            s.execute(delete(UpstreamTask).where(UpstreamTask.id == task.id))

    def _acknowledged(self, s: Session, task: UpstreamTask, data: dict[str, Any]) -> int:
        """Record every ACK of a batch: what it touches is loaded once, not per device."""
        prefs = load(s)
        batch = _Batch(s, task.items["rows"])
        count = 0
        for item in data.get("acknowledgements", []):
            count += self._ack_item(s, item, prefs, batch)
        for error in data.get("errors", []):
            self._device_refused(s, error)
        for row in batch.reports.values():  # neither acknowledged nor rejected: say so
            if row.acked_at is None and row.rejected is None:
                row.rejected = "not acknowledged by the authority"
        save(s, prefs)
        return count

    def _ack_item(self, s: Session, item: dict[str, Any], prefs: Preferences, batch: _Batch) -> int:
        udi = parse_sudi(item.get("sudi"), "/sudi")
        device = batch.devices.get(udi) or find_device(s, udi)
        if device is None:
            return 0
        try:  # checked against the pinned authority CA before it changes anything
            facts = file_facts(_decoded(item), CollectorVerifier.open(s, self.clock))
        except SmartlicError as exc:
            self.alert(s, device, _base.ACK_FAILED.format(reason=exc.detail))
            return 0
        if digest_of(item) in batch.digests:
            return 0
        batch.digests.add(digest_of(item))
        record(s, device, _device_item(item), facts, self.now(), batch.reports)
        prefs.smart_account_name = prefs.smart_account_name or facts.smart_account
        s.add(Alert(device_id=device.id, at=self.now(), text=_base.ACK_RECEIVED))
        return len(facts.acknowledged)

    def _device_refused(self, s: Session, error: dict[str, Any]) -> None:
        device = find_device(s, parse_sudi(error.get("sudi"), "/sudi"))
        if device is None:
            return
        reasons = {int(r.get("report_id", 0)): str(r.get("reason")) for r in error["rejected"]}
        rows = s.scalars(select(Report).where(Report.device_id == device.id))
        for row in rows:
            if row.report_id in reasons and row.acked_at is None:
                row.rejected = reasons[row.report_id][:500]
        detail = "; ".join(sorted(set(reasons.values())))
        self.alert(s, device, _base.ACK_FAILED.format(reason=detail))

    def _authorized(self, s: Session, task: UpstreamTask, data: dict[str, Any]) -> int:
        items = data.get("authorizations", [])
        rows = {
            r.id: r for r in s.scalars(select(Request).where(Request.id.in_(task.items["rows"])))
        }
        for row_id, item in zip(task.items["rows"], items, strict=False):
            row = rows[row_id]
            device = s.get(Device, row.device_id)
            ok = item.get("status") == "SUCCESS"
            reason = str(item.get("status_message"))
            if ok and item.get("smart_license") and (forged := self._unverified(s, item)):
                ok, reason = False, forged  # kept waiting: a forged code is never handed on
            else:
                row.result = item
            self.alert(
                s, device, _base.AUTH_RECEIVED if ok else _base.AUTH_FAILED.format(reason=reason)
            )
        return len(items)

    def _unverified(self, s: Session, item: dict[str, Any]) -> str | None:
        """Why a code answer does not verify against the pinned authority CA, or None."""
        try:
            CollectorVerifier.open(s, self.clock).verify_file(_decoded(item))
        except SmartlicError as exc:
            return exc.detail
        return None

    def _learn_trust(self, answer: dict[str, Any]) -> None:
        with self.transaction() as s:
            trust = trust_of(_decoded(answer), CollectorVerifier.open(s, self.clock))
            if trust is None:
                return
            udi, key = trust
            device = find_device(s, udi) or Device.of(udi, self.now())
            device.trust_key_id, device.trust_public_key = key
            device.last_contact_at = self.now()
            s.add(device)


class _Batch:
    """The reports of one upstream task, their devices and the files already recorded."""

    def __init__(self, s: Session, ids: list[int]) -> None:
        rows = list(s.scalars(select(Report).where(Report.id.in_(ids))))
        self.reports = {(r.device_id, r.report_id): r for r in rows}
        q = select(Device).where(Device.id.in_({r.device_id for r in rows}))
        self.devices = {d.udi: d for d in s.scalars(q)}
        ids_ = [d.id for d in self.devices.values()]
        q2 = select(Delivery.digest).where(Delivery.device_id.in_(ids_))
        self.digests = set(s.scalars(q2))


def _decoded(item: dict[str, Any]) -> bytes:
    try:
        return base64.b64decode(str(item.get("smart_license", "")), validate=True)
    except ValueError as exc:
        raise InvalidInput("the answer's smart_license is not base64") from exc


def _upstream_task(
    answer: dict[str, Any], action: str, ids: list[int], now: datetime
) -> UpstreamTask:
    """The poll the authority's ``OK_POLL`` answer promises for our rows ``ids`` (``action``:
    what the poll will bring, ``acknowledgements`` or ``authorizations``)."""
    poll_id = _poll_id_of(answer)
    return UpstreamTask(poll_id=poll_id, action=action, items={"rows": ids}, created_at=now)


def _poll_id_of(answer: dict[str, Any]) -> int:
    """The poll id of an ``OK_POLL`` answer; anything else is the authority failing."""
    poll_id = answer.get("poll_id") if isinstance(answer, dict) else None
    if answer.get("status") != "OK_POLL" or not isinstance(poll_id, int | str):
        message = answer.get("message") or answer.get("detail") or answer.get("status")
        raise Unavailable(f"the authority answered {message!r} instead of OK_POLL")
    return int(poll_id)


def _server_error(exc: SmartlicError) -> bool:
    return isinstance(exc, AuthorityFailed)


def _by_device(rows: list[tuple[Report, Device]]) -> list[list[tuple[Report, Device]]]:
    out: dict[int, list[tuple[Report, Device]]] = defaultdict(list)
    for report, device in rows:
        out[device.id].append((report, device))
    return list(out.values())


def _refused_for_good(exc: SmartlicError) -> bool:
    """A refusal of the content (not of the key, not a bad moment): 400, 409, 413, 422."""
    return isinstance(exc, AuthorityError) and exc.status in (400, 409, 413, 422)


def _by_va(rows: list[tuple[Any, Device]], prefs: Preferences) -> dict[str | None, list[Any]]:
    out: dict[str | None, list[Any]] = defaultdict(list)
    for row, device in rows:
        out[device.virtual_account or prefs.virtual_account].append((row, device))
    return out


def _device_item(item: dict[str, Any]) -> dict[str, Any]:
    """What the device gets: the authority's item as it came."""
    return dict(item)
