"""RUM report ingest for one device: verify, de-duplicate, store, count, acknowledge.

Reports are idempotent by (instance, report id): a report seen before is acknowledged again and
never counted twice. A device's usage per license is the last measurement of its newest report;
a report older than what was already applied never overwrites newer usage. Enforced and
export-controlled licenses are counted through their authorization codes (``reserved``), not
through reports, so they are not counted twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from smartlic.authority.services import _pool, ownership
from smartlic.crypto import Udi
from smartlic.domain.enums import Enforcement, InstanceStatus
from smartlic.errors import Forbidden, OwnershipNotProven, SmartlicError
from smartlic.formats.rum import RumReport, claimed_key, public_key_b64, read_report
from smartlic.formats.signed import verify_signature
from smartlic.storage.models import (
    InstanceUsage,
    License,
    ProductInstance,
    RumReportRow,
    SmartAccount,
    VirtualAccount,
)

_RUM_TABLE = cast(Table, RumReportRow.__table__)


@dataclass(frozen=True)
class Channel:
    """Who hands reports over. An authenticated channel (an account user uploading a file, a
    collector with an API key) may introduce devices the authority has never seen into
    ``virtual_account``; a device talking directly must already hold a trust code."""

    actor: str
    smart_account: SmartAccount | None = None
    virtual_account: VirtualAccount | None = None
    usage_file_id: str | None = None


@dataclass
class DeviceResult:
    udi: Udi
    instance: ProductInstance | None = None
    acknowledged: list[int] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    duplicates: int = 0
    new_trust: bool = False
    # refused because another account (or virtual account) holds the device: the sender gets
    # no ACK, which would name the holder's accounts; the holder's event log gets the refusal
    foreign: bool = False

    def reject(self, report_id: int, error: SmartlicError) -> None:
        self.rejected.append({"report_id": report_id, "reason": error.detail, "code": error.code})
        self.foreign = self.foreign or isinstance(error, OwnershipNotProven)


@dataclass(frozen=True)
class Checked:
    """A report after the checks that need no database: parsed, naming the device it was sent
    for, and signed by the key it claims (or the first of those checks that failed)."""

    report_id: int
    report: RumReport | None = None
    key_id: str = ""
    key: Ed25519PublicKey | None = None
    error: SmartlicError | None = None


def precheck(udi: Udi, envelopes: Sequence[dict[str, Any]]) -> list[Checked]:
    """Parse and verify one device's reports: pure CPU, run before the transaction opens, so
    the write lock (SQLite) is not held meanwhile and the signature checks of concurrent
    requests overlap (the library verifies without holding the GIL)."""
    keys = _KeyCache()
    return [_precheck(env, udi, keys) for env in envelopes]


def _precheck(env: dict[str, Any], udi: Udi, keys: _KeyCache) -> Checked:
    report_id = 0
    try:
        report = read_report(env)  # parsed once: the payload string is what gets verified
        report_id = report.report_id
        if report.udi != udi:
            raise Forbidden("the report names another device than it was sent for")
        key_id, key = keys.claimed(env)
        # What formats.signed.open_report checks, without parsing the payload a second time:
        # read_report and claimed_key have already required a payload string and a signature.
        # Before any trust is installed from this report.
        verify_signature(key, env["payload"], str(env["signature"].get("value", "")))
        return Checked(report_id, report, key_id, key)
    except SmartlicError as exc:
        return Checked(report_id, error=exc)


def ingest_device(
    s: Session,
    udi: Udi,
    envelopes: Sequence[dict[str, Any]],
    channel: Channel,
    now: datetime,
    checked: list[Checked] | None = None,
) -> DeviceResult:
    """Ingest one device's reports; ``checked`` is ``precheck(udi, envelopes)`` when the
    caller ran it before opening the transaction."""
    result = DeviceResult(udi)
    inst = s.scalar(
        select(ProductInstance).where(
            ProductInstance.udi_pid == udi.pid, ProductInstance.udi_sn == udi.sn
        )
    )
    good: list[RumReport] = []
    for c in precheck(udi, envelopes) if checked is None else checked:
        if _trusted(s, c, inst, channel, now, result):
            assert c.report is not None
            good.append(c.report)
            inst = result.instance
    if inst is None or not good:
        result.instance = inst
        return result
    result.instance = inst
    fresh, lics = _store(s, inst, good, channel, now)
    result.duplicates = len(good) - len(fresh)
    result.acknowledged = sorted(r.report_id for r in good)
    if fresh:  # duplicates only: nothing to count (and no statement to run)
        _apply(s, inst, fresh, lics)
    inst.last_report_at = inst.last_contact_at = now
    return result


def _trusted(
    s: Session,
    c: Checked,
    inst: ProductInstance | None,
    channel: Channel,
    now: datetime,
    result: DeviceResult,
) -> bool:
    error = c.error
    if error is None:
        assert c.report is not None and c.key is not None
        try:
            _trusted_instance(s, c.report, c.key_id, c.key, inst, channel, now, result)
            return True
        except SmartlicError as exc:
            error = exc
    result.reject(c.report_id, error)
    return False


class _KeyCache:
    """``claimed_key`` per distinct (key_id, public_key) of one device's batch: its reports all
    carry the same key, which is then parsed and hashed once instead of once per report."""

    def __init__(self) -> None:
        self._seen: dict[tuple[Any, Any], tuple[str, Ed25519PublicKey]] = {}

    def claimed(self, env: dict[str, Any]) -> tuple[str, Ed25519PublicKey]:
        sig = env.get("signature")
        if not isinstance(sig, dict):
            return claimed_key(env)  # raises with the usual message
        k = (sig.get("key_id"), sig.get("public_key"))
        if not all(isinstance(part, str) for part in k):
            return claimed_key(env)
        found = self._seen.get(k)
        if found is None:
            found = self._seen[k] = claimed_key(env)  # only a key that passed every check
        return found


def _trusted_instance(
    s: Session,
    report: RumReport,
    key_id: str,
    key: Ed25519PublicKey,
    inst: ProductInstance | None,
    channel: Channel,
    now: datetime,
    result: DeviceResult,
) -> None:
    """The instance this report may count for, keyed if it is new (ownership rules 3 and 4)."""
    if inst is not None:
        _check_account(s, inst, channel)  # first: another account's device is not its business
        if ownership.require_pinned(inst, key_id):
            result.instance = inst
            return
    va = channel.virtual_account
    if va is None:
        raise Forbidden("the device has no trust code; establish trust or upload its usage")
    if inst is not None:
        ownership.require_unkeyed_in(s, inst, va)
    found = inst
    inst = ownership.pin_key(
        s,
        lambda: found or _new_instance(report, channel, now),
        key_id,
        public_key_b64(key),
        now,
    )
    result.instance, result.new_trust = inst, True


def _check_account(s: Session, inst: ProductInstance, channel: Channel) -> None:
    if channel.smart_account is None:
        return
    va = s.get_one(VirtualAccount, inst.virtual_account_id)
    if va.smart_account_id != channel.smart_account.id:
        raise OwnershipNotProven(
            "the device belongs to another smart account", holder=va.smart_account.domain
        )


def _new_instance(report: RumReport, channel: Channel, now: datetime) -> ProductInstance:
    assert channel.virtual_account is not None and channel.smart_account is not None
    return ProductInstance(
        virtual_account_id=channel.virtual_account.id,
        udi_pid=report.udi.pid,
        udi_sn=report.udi.sn,
        hostname=(report.hostname or "")[:255],
        software_tag=report.software_tag[:255],
        registered_at=now,
        last_contact_at=now,
        status=InstanceStatus.IN_COMPLIANCE,
        export_controlled_allowed=channel.smart_account.export_controlled_allowed,
    )


def _store(
    s: Session, inst: ProductInstance, reports: list[RumReport], channel: Channel, now: datetime
) -> tuple[list[RumReport], dict[str, License]]:
    """Insert the reports not seen before (one query to find them, one bulk insert); returns
    them with their licenses by tag."""
    ids = [r.report_id for r in reports]
    # the instance row is the lock that makes a report exactly-once: on PostgreSQL rum_reports
    # is partitioned by received_at, so its unique key cannot alone refuse the same report
    # stored twice at once by two processes (the twins differ in received_at; 0010_scale)
    s.execute(select(ProductInstance.id).where(ProductInstance.id == inst.id).with_for_update())
    seen = set(
        s.scalars(
            select(RumReportRow.report_id).where(
                RumReportRow.instance_id == inst.id, RumReportRow.report_id.in_(ids)
            )
        )
    )
    fresh = list({r.report_id: r for r in reports if r.report_id not in seen}.values())
    if not fresh:
        return [], {}
    lics = _licenses(s, {r.entitlement_tag for r in fresh})
    # A Core insert of the table: plain executemany, without the ORM's per-row bulk bookkeeping
    # (nothing is read back; the rows never enter the session).
    s.execute(insert(_RUM_TABLE), [_row(inst, r, lics, channel, now) for r in fresh])
    return fresh, lics


def _row(
    inst: ProductInstance, r: RumReport, lics: dict[str, License], channel: Channel, now: datetime
) -> dict[str, Any]:
    ms = list(r.measurements)
    lic = lics.get(r.entitlement_tag)
    return {
        "instance_id": inst.id,
        "report_id": r.report_id,
        "license_id": lic.id if lic else None,
        "entitlement_tag": r.entitlement_tag,
        "start_time": min((m.start_time for m in ms), default=0),
        "end_time": max((m.end_time for m in ms), default=0),
        "last_value": _last(r),
        "max_value": max((m.value for m in ms), default=0),
        "measurements": [m.to_json() for m in ms],
        "received_at": now,
        "usage_file_id": channel.usage_file_id,
    }


def _last(r: RumReport) -> int:
    ms = sorted(r.measurements, key=lambda m: m.end_time)
    return ms[-1].value if ms else 0


def _licenses(s: Session, tags: set[str]) -> dict[str, License]:
    return {lic.tag: lic for lic in s.scalars(select(License).where(License.tag.in_(tags)))}


def _apply(
    s: Session, inst: ProductInstance, fresh: list[RumReport], lics: dict[str, License]
) -> None:
    """Set the instance's usage from its newest reports and move the pool counters
    (``lics``: the licenses of ``fresh`` by tag, as ``_store`` loaded them)."""
    newest: dict[str, RumReport] = {}
    newest_end: dict[str, int] = {}
    for r in fresh:
        end = max((m.end_time for m in r.measurements), default=0)
        tag = r.entitlement_tag
        if tag not in newest or end >= newest_end[tag]:
            newest[tag], newest_end[tag] = r, end
    held = {
        u.license_id: u
        for u in s.scalars(select(InstanceUsage).where(InstanceUsage.instance_id == inst.id))
    }
    deltas: dict[str, int] = {}
    for tag, r in newest.items():
        lic = lics.get(tag)
        if lic is not None and lic.enforcement is Enforcement.UNENFORCED:
            _set_usage(s, inst, lic, r, held.get(lic.id), deltas)
    _pool.add_in_use(s, inst.virtual_account_id, deltas)


def _set_usage(
    s: Session,
    inst: ProductInstance,
    lic: License,
    r: RumReport,
    usage: InstanceUsage | None,
    deltas: dict[str, int],
) -> None:
    end = max((m.end_time for m in r.measurements), default=0)
    if usage is not None and (usage.reported_until or 0) > end:
        return  # an older report arriving late
    count = _last(r)
    old = usage.count if usage else 0
    deltas[lic.id] = count - old
    if usage is None:
        s.add(
            InstanceUsage(
                instance_id=inst.id,
                license_id=lic.id,
                count=count,
                status="IN USE",
                reported_until=end,
            )
        )
    else:
        usage.count, usage.reported_until, usage.status = count, end, "IN USE"
