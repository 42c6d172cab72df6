"""Usage (RUM) reporting: the vendor-compatible device API (``reportusage`` + ``poll``), usage
data files (upload a device's file or a bulk archive, download the ACK), and usage history."""

from __future__ import annotations

import base64
import functools
import hashlib
import secrets
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Engine, Insert, Table, bindparam, func, insert, select
from sqlalchemy.orm import Session

from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.services._base import SigningServiceBase, insert_events, logs_refusals
from smartlic.authority.services._files import file_bytes
from smartlic.authority.services._guard import CLAIMS, LaterClaim, SeenNonces
from smartlic.authority.services._ingest import (
    Channel,
    DeviceResult,
    accounts,
    ingest,
    precheck,
)
from smartlic.authority.services.interfaces import Page, UsageFileOut, UsageRecordOut
from smartlic.authority.services.reporting import touch_collector
from smartlic.authority.services.scope import Principal, poll_owner, require_poll_owner, scope_in
from smartlic.clock import Clock
from smartlic.crypto import Udi
from smartlic.errors import InvalidInput, NotFound
from smartlic.formats.archive import DEFAULT_LIMITS, ArchiveLimits, is_archive, read_members, tar_gz
from smartlic.formats.bounds import check_page
from smartlic.formats.device_api import (
    POLL_INTERVAL_S,
    data_of,
    echo_nonce,
    groups,
    ok_poll,
    poll_id_of,
)
from smartlic.formats.rum import parse_usage_file, read_report, sudi_json
from smartlic.formats.signed import refuse_reused
from smartlic.storage.engine import on_postgresql
from smartlic.storage.models import (
    Event,
    PollTask,
    ProductInstance,
    RumReportRow,
    SmartAccount,
    UsageFile,
    VirtualAccount,
)
from smartlic.storage.prepared import Prepared

POLL_KEEP = timedelta(days=7)


class SqlUsageService(SigningServiceBase):
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        keys: AuthorityKeys,
        *,
        replay_window_s: float = 300.0,
        archive_limits: ArchiveLimits = DEFAULT_LIMITS,
    ) -> None:
        super().__init__(engine, clock, keys, replay_window_s=replay_window_s)
        self.archive_limits = archive_limits
        self._sqlite_writer = threading.Lock()

    @contextmanager
    def _ingest_transaction(self) -> Iterator[Session]:
        """``transaction()``, queued behind this process's other ingests on SQLite.

        SQLite takes its one write lock at ``BEGIN IMMEDIATE``, and a transaction that finds
        it taken waits in SQLite's busy handler, which sleeps in steps of up to 100 ms
        (``busy_timeout``): with a few concurrent ``reportusage`` calls the lock sat free
        while the waiters slept (4 threads ingested less than 1; bench/ingest.py). Waiting on
        a Python lock first hands the write lock over at once. Other processes, and other
        services of this one, still meet the busy handler; PostgreSQL needs none of this.
        """
        if self.engine.dialect.name != "sqlite":
            with self.transaction() as s:
                yield s
            return
        with self._sqlite_writer, self.transaction() as s:
            yield s

    # ------------------------------------------------------------ online (vendor device API)

    @logs_refusals("usage.report.refused")
    def report_usage(
        self,
        body: dict[str, Any],
        principal: Principal | None = None,
        virtual_account: str | None = None,
    ) -> dict[str, Any]:
        """``POST .../v2/devices/reportusage``: ingest now, answer ``OK_POLL``."""
        data = data_of(body)
        by_device = groups(data.get("reports"))
        checked = [precheck(udi, envs) for udi, envs in by_device]  # before the write lock
        now = self.now()
        with self._ingest_transaction() as s:
            channel = self._channel(s, principal, virtual_account)
            # a device on its own must be fresh; an authenticated caller (a collector, a tool
            # carrying a file's reports with the file's old timestamp) is checked once
            remember = self.guard.check if principal is None else self.guard.once
            # PostgreSQL: the nonce is claimed by the request's last write (``_task``)
            later = LaterClaim() if on_postgresql(s) else None
            remember(s, f"reportusage:{channel.actor}", data, now, later)
            results = ingest(s, by_device, channel, now, checked)
            acks = [self._ack_item(s, r, now) for r in results if _acked(r, channel)]
            errors = [
                {"sudi": sudi_json(r.udi), "rejected": r.rejected}
                for r in results
                if not _acked(r, channel)
            ]
            events = self._events(s, results, channel)
            touch_collector(s, principal, _accepted(results), now)
            task_id = self._task(
                s,
                "acknowledgements",
                poll_owner(principal),
                now,
                {"acknowledgements": acks, "errors": errors},
                events,
                later,
            )
        return ok_poll(task_id, "acknowledgements", now, nonce=echo_nonce(data))

    def poll(self, body: dict[str, Any], principal: Principal | None = None) -> dict[str, Any]:
        """``POST .../v2/accounts/poll``: ``OK_POLL`` while pending, then ``COMPLETE``."""
        data = data_of(body)
        poll_id = poll_id_of(data)
        now = self.now()
        with self.transaction() as s:
            task = s.get(PollTask, poll_id)
            if task is None:
                raise NotFound(f"no poll task {poll_id}")
            require_poll_owner(task.owner, principal)
            if now < task.ready_at:
                return {
                    "status": "OK_POLL",
                    "message": "",
                    "poll_id": task.id,
                    "poll_interval": POLL_INTERVAL_S,
                }
            return {
                "status": "COMPLETE",
                "type": task.action,
                "poll_id": task.id,
                "correlation_id": str(task.id),
                "data": task.result,
            }

    # ------------------------------------------------------------ usage data files

    @logs_refusals("usage.file.refused")
    def upload_usage_file(
        self,
        domain: str,
        virtual_account: str,
        *,
        file_name: str,
        content: bytes,
        scope: Principal,
    ) -> UsageFileOut:
        """Import a usage file (XML) or a bulk archive (.tar.gz, .tar or .zip of usage files),
        read within ``archive_limits``."""
        scope_in(scope, domain).require_write(virtual_account)
        actor = scope.label()
        digest = hashlib.sha256(content).hexdigest()
        seen = self._same_upload(domain, virtual_account, digest)
        if seen is not None:  # the same bytes again: the first upload's row and ACK
            return seen
        archive = is_archive(content)
        members = read_members(content, self.archive_limits) if archive else [(file_name, content)]
        by_device = _groups_from_files(members)
        checked = [precheck(udi, envs) for udi, envs in by_device]  # before the write lock
        now = self.now()
        with self._ingest_transaction() as s:
            sa = self.smart_account(s, domain)
            va = self.virtual_account(s, sa, virtual_account)
            row = UsageFile(
                smart_account_id=sa.id,
                virtual_account_id=va.id,
                file_name=file_name[:255],
                reported_at=now,
                status="Processing",
                uploaded_by=actor,
                digest=digest,
            )
            s.add(row)
            s.flush()
            channel = Channel(
                actor=actor,
                smart_account=sa,
                virtual_account=va,
                usage_file_id=row.id,
                caller=scope,
            )
            results = ingest(s, by_device, channel, now, checked)
            self._finish_file(s, row, results, channel, now, archive=archive)
            self._record(s, results, channel)
            touch_collector(s, scope, _accepted(results), now)  # uploaded with a collector's key
            return _file_out(row, va.name)

    def _same_upload(self, domain: str, virtual_account: str, digest: str) -> UsageFileOut | None:
        """The processed upload of these very bytes to this virtual account, if any."""
        with self.transaction() as s:
            va = self.virtual_account(s, self.smart_account(s, domain), virtual_account)
            row = s.scalars(
                select(UsageFile)
                .where(
                    UsageFile.virtual_account_id == va.id,
                    UsageFile.digest == digest,
                    UsageFile.status == "Processed",
                )
                .order_by(UsageFile.reported_at)
                .limit(1)
            ).first()
            return replace(_file_out(row, va.name), duplicate=True) if row else None

    def list_usage_files(
        self, domain: str, *, limit: int = 100, offset: int = 0, scope: Principal
    ) -> Page[UsageFileOut]:
        """The usage files of the virtual accounts ``scope`` may read, newest first."""
        check_page(limit, offset, 1000)
        visible = scope_in(scope, domain)
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            q = (
                select(UsageFile, VirtualAccount.name)
                .join(VirtualAccount)
                .where(UsageFile.smart_account_id == sa.id, visible.where(VirtualAccount.name))
            )
            rows = s.execute(
                q.order_by(UsageFile.reported_at.desc()).limit(limit).offset(offset)
            ).all()
            total = len(s.execute(q).all())
            return Page([_file_out(f, va) for f, va in rows], total, limit, offset)

    def usage_file_ack(self, domain: str, file_id: str, *, scope: Principal) -> tuple[str, bytes]:
        visible = scope_in(scope, domain)
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            row = s.get(UsageFile, file_id)
            if row is None or row.smart_account_id != sa.id:
                raise NotFound(f"no usage file {file_id!r} in {domain!r}")
            va = s.get_one(VirtualAccount, row.virtual_account_id)
            visible.require_visible(va.name, f"usage file {file_id!r}")
            if row.ack is None:
                raise NotFound("this usage file has no acknowledgement")
            return row.ack_name, row.ack

    def usage_history(
        self,
        domain: str,
        instance_id: str,
        *,
        tag: str | None = None,
        limit: int = 500,
        scope: Principal,
    ) -> list[UsageRecordOut]:
        visible = scope_in(scope, domain)
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            inst = s.get(ProductInstance, instance_id)
            va = s.get(VirtualAccount, inst.virtual_account_id) if inst is not None else None
            if inst is None or va is None or va.smart_account_id != sa.id:
                raise NotFound(f"no product instance {instance_id!r} in {domain!r}")
            visible.require_visible(va.name, f"product instance {instance_id!r}")
            q = select(RumReportRow).where(RumReportRow.instance_id == inst.id)
            if tag:
                q = q.where(RumReportRow.entitlement_tag == tag)
            rows = s.scalars(q.order_by(RumReportRow.end_time.desc()).limit(limit))
            return [_record_out(r) for r in rows]

    # ------------------------------------------------------------ helpers

    def _channel(
        self, s: Session, principal: Principal | None, virtual_account: str | None
    ) -> Channel:
        if principal is None:
            return Channel(actor="device")
        if principal.smart_account is None:
            return Channel(actor=principal.label(), caller=principal)
        sa = self.smart_account(s, principal.smart_account)
        va = self.virtual_account(s, sa, virtual_account) if virtual_account is not None else None
        return Channel(
            actor=principal.label(), smart_account=sa, virtual_account=va, caller=principal
        )

    def _ack_item(self, s: Session, r: DeviceResult, now: datetime) -> dict[str, Any]:
        assert r.instance is not None
        data = self._ack_file(s, r, now)
        return {
            "sudi": sudi_json(r.udi),
            "software_tag_identifier": r.instance.software_tag,
            "smart_license": base64.b64encode(data).decode(),
            "acknowledged": r.acknowledged,
            "rejected": r.rejected,
        }

    def _ack_file(self, s: Session, r: DeviceResult, now: datetime) -> bytes:
        return file_bytes(self._ack_sections(s, r, now))

    def _finish_file(
        self,
        s: Session,
        row: UsageFile,
        results: list[DeviceResult],
        channel: Channel,
        now: datetime,
        *,
        archive: bool,
    ) -> None:
        done = [r for r in results if _acked(r, channel)]
        row.instances = len(done)
        row.reports = sum(len(r.acknowledged) for r in results)
        row.rejected = sum(len(r.rejected) for r in results)
        row.errors = [{"udi": str(r.udi), **e} for r in results for e in r.rejected][:1000]
        row.status = "Processed" if row.reports else "Rejected"
        if not done:
            return
        row.ack_name = f"ACK_{row.file_name}"
        if archive:
            stamp = int(now.timestamp())
            row.ack = tar_gz(
                [(f"ACK_dev_{r.udi.sn}_{stamp}.txt", self._ack_file(s, r, now)) for r in done]
            )
        else:
            row.ack = file_bytes([sec for r in done for sec in self._ack_sections(s, r, now)])

    def _ack_sections(self, s: Session, r: DeviceResult, now: datetime) -> list[Any]:
        assert r.instance is not None
        va, sa, policy = accounts(s, r.instance.virtual_account_id)
        return self.files.ack(
            r.instance,
            sa,
            va,
            policy,
            r.acknowledged,
            r.rejected,
            now,
            trust=r.new_trust,
        )

    def _record(self, s: Session, results: list[DeviceResult], channel: Channel) -> None:
        """The events of a request, one Core INSERT each (no unit-of-work flush)."""
        insert_events(s, self._events(s, results, channel))

    def _events(
        self, s: Session, results: list[DeviceResult], channel: Channel
    ) -> list[dict[str, Any]]:
        """The event rows of a request: per device, its reports acknowledged, rejected."""
        rows = []
        for r in results:
            sa = self._sa_of(s, r.instance) if r.instance else channel.smart_account
            if r.acknowledged:
                rows.append(
                    self.event_row(
                        "usage.report.acknowledged",
                        actor=channel.actor,
                        smart_account=sa,
                        subject=str(r.udi),
                        reports=r.acknowledged,
                        duplicates=r.duplicates,
                        trust_installed=r.new_trust,
                    )
                )
            if r.rejected:
                rows.append(
                    self.event_row(
                        "usage.report.rejected",
                        actor=channel.actor,
                        smart_account=sa,
                        subject=str(r.udi),
                        rejected=r.rejected,
                    )
                )
        return rows

    @staticmethod
    def _sa_of(s: Session, inst: ProductInstance) -> SmartAccount:
        return accounts(s, inst.virtual_account_id)[1]

    @staticmethod
    def _task(
        s: Session,
        action: str,
        owner: str,
        now: datetime,
        result: dict[str, Any],
        events: list[dict[str, Any]],
        later: LaterClaim | None = None,
    ) -> int:
        """Store a poll task's answer and the request's ``events`` (Core INSERTs, outside the
        unit of work), and claim the request's nonce if it was left to this write (``later``:
        a nonce seen before is refused now); the task's id. On PostgreSQL one statement does
        it all when there are few events."""
        task_id = secrets.randbits(62) or 1
        row = {"id": task_id, "action": action, "owner": owner, "created_at": now}
        row.update(ready_at=now, result=result)
        claim = later.row if later is not None else None
        if on_postgresql(s) and len(events) <= _EVENTS_WITH_TASK:
            for i, event in enumerate(events):
                row.update({f"e{i}_{name}": value for name, value in event.items()})
            ran = _task_with(len(events), claim is not None).run(s, {**row, **(claim or {})})
            if claim is not None and not ran.one().claimed:
                refuse_reused()
            return task_id
        if claim is not None and not SeenNonces(s).claim(
            claim["key_id"], claim["nonce"], claim["at"]
        ):
            refuse_reused()
        insert_events(s, events)
        _TASK_INSERT.run(s, row)
        return task_id  # answered tasks age out: the job "prune" (services/schedule.py)


_TASKS = cast(Table, PollTask.__table__)
_EVENTS = cast(Table, Event.__table__)


def _task_insert() -> Insert:
    # a new statement for each use: a statement compiled once keeps what it exported (no
    # RETURNING), which a copy made with .returning() would inherit
    return insert(_TASKS).values({c.name: bindparam(c.name) for c in _TASKS.c})


_TASK_INSERT = Prepared(_task_insert())  # every reportusage stores one (``storage.prepared``)
_EVENTS_WITH_TASK = 4  # a request of one or two devices: one statement on PostgreSQL


@functools.cache
def _task_with(events: int, claim: bool) -> Prepared:
    """``_TASK_INSERT`` with, in the same statement (data-modifying WITHs: PostgreSQL only),
    ``events`` event rows (parameters ``e<i>_<column>``) and the nonce's claim (``CLAIMS``'
    parameters), whose outcome it returns (``claimed``: 1, or 0 for a nonce seen before)."""
    stmt = _task_insert()
    if events:
        rows = [
            {c.name: bindparam(f"e{i}_{c.name}", type_=c.type) for c in _EVENTS.c if c.name != "id"}
            for i in range(events)
        ]
        stmt = stmt.add_cte(insert(_EVENTS).values(rows).cte("events"))
    if claim:
        claimed = CLAIMS[True].cte("claim")
        count = select(func.count()).select_from(claimed).scalar_subquery()
        stmt = stmt.add_cte(claimed).returning(count.label("claimed"))
    return Prepared(stmt)


def _acked(r: DeviceResult, channel: Channel) -> bool:
    """A device gets an ACK when the authority holds it for the sender: not for an unknown
    device it refused, nor for one another account holds (its ACK would name that account).

    An ACK names the holder's smart and virtual accounts, so it goes only to a sender that
    either proved itself (a report of the batch verified against the device's pinned key) or
    hands reports over for the virtual account that holds the device. A report sent without a
    key for a known device with a bad signature once got an ACK naming the holder's accounts:
    anyone knowing a UDI could read them. It is now refused per device, in ``errors``."""
    if r.instance is None or r.foreign:
        return False
    own = channel.virtual_account is not None and (
        r.instance.virtual_account_id == channel.virtual_account.id
    )
    return own or bool(r.acknowledged)


def _groups_from_files(
    members: Iterable[tuple[str, bytes]],
) -> list[tuple[Udi, list[dict[str, Any]]]]:
    out: dict[Udi, list[dict[str, Any]]] = {}
    for name, data in members:
        try:
            envelopes = parse_usage_file(data)
        except InvalidInput as exc:
            raise InvalidInput(f"{name}: {exc.detail}", code=exc.code) from exc
        for env in envelopes:
            out.setdefault(_claimed_udi(env, name), []).append(env)
    if not out:
        raise InvalidInput("the file holds no usage reports", code="empty-file")
    return list(out.items())


def _claimed_udi(env: dict[str, Any], name: str) -> Udi:
    try:
        return read_report(env).udi
    except InvalidInput as exc:
        raise InvalidInput(f"{name}: {exc.detail}", code=exc.code) from exc


def _file_out(f: UsageFile, va_name: str) -> UsageFileOut:
    return UsageFileOut(
        id=f.id,
        file_name=f.file_name,
        reported_at=f.reported_at,
        virtual_account=va_name,
        status=f.status,
        instances=f.instances,
        reports=f.reports,
        rejected=f.rejected,
        errors=list(f.errors or []),
        acknowledgement="Received" if f.ack else "None",
        ack_name=f.ack_name,
    )


def _record_out(r: RumReportRow) -> UsageRecordOut:
    return UsageRecordOut(
        report_id=r.report_id,
        tag=r.entitlement_tag,
        start=datetime.fromtimestamp(r.start_time, UTC),
        end=datetime.fromtimestamp(r.end_time, UTC),
        last_value=r.last_value,
        max_value=r.max_value,
        received_at=r.received_at,
    )


def _accepted(results: list[DeviceResult]) -> list[str]:
    """The instances whose reports were accepted (a refused report is no contact: refusals
    change nothing stored)."""
    return [r.instance.id for r in results if r.instance and r.acknowledged]
