"""RUM report ingest for the devices of a request: verify, de-duplicate, store, count,
acknowledge; every row lock taken in one order (``ingest``).

Reports are idempotent by (instance, report id): a report seen before is acknowledged again and
never counted twice. A device's usage per license is the last measurement of its newest report;
a report older than what was already applied never overwrites newer usage. Enforced and
export-controlled licenses are counted through their authorization codes (``reserved``), not
through reports, so they are not counted twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    CompoundSelect,
    Table,
    any_,
    bindparam,
    insert,
    null,
    select,
    tuple_,
    union_all,
    update,
)
from sqlalchemy import cast as sa_cast
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from smartlic.authority.services import ownership
from smartlic.authority.services._compliance import bump_noted
from smartlic.authority.services._files import policy_doc, policy_for, policy_in_force, udi_of
from smartlic.authority.services._usage import ADD_USAGE
from smartlic.authority.services.scope import Principal, may_write
from smartlic.crypto import Udi
from smartlic.domain.enums import Enforcement, InstanceStatus
from smartlic.domain.policy import Policy as PolicyDoc
from smartlic.errors import Forbidden, OwnershipNotProven, SmartlicError
from smartlic.formats.rum import RumReport, claimed_key, public_key_b64, read_report
from smartlic.formats.signed import verify_signature
from smartlic.storage.engine import on_postgresql
from smartlic.storage.models import (
    InstanceUsage,
    License,
    ProductInstance,
    RumReportRow,
    SmartAccount,
    VirtualAccount,
)
from smartlic.storage.prepared import Prepared

# Statements built once (every reportusage runs them; bench/ingest_cpu.py, issue 14): the
# write path reads columns and writes with Core statements, so no ORM object but the instance
# is loaded, and nothing is flushed.
_RUM = cast(Table, RumReportRow.__table__)
_INSTANCES = cast(Table, ProductInstance.__table__)
_USAGE = cast(Table, InstanceUsage.__table__)
# the request's known devices with their accounts and the document of the policy in force
# (what an ACK names), in one statement; on PostgreSQL it takes the instances' row locks,
# which make a report exactly-once (see ``_store``), in one order: by id (see ``ingest``)
_BY_UDIS = (
    select(
        ProductInstance,
        VirtualAccount,
        SmartAccount,
        policy_in_force(VirtualAccount.smart_account_id, VirtualAccount.id).scalar_subquery(),
    )
    .join(VirtualAccount, ProductInstance.virtual_account_id == VirtualAccount.id)
    .join(SmartAccount, VirtualAccount.smart_account_id == SmartAccount.id)
    .where(
        tuple_(ProductInstance.udi_pid, ProductInstance.udi_sn).in_(
            bindparam("udis", expanding=True)
        )
    )
    .order_by(ProductInstance.id)  # PostgreSQL locks the rows as they leave the sort
    .with_for_update(of=ProductInstance)
)
_ACCOUNTS = (
    select(VirtualAccount, SmartAccount)
    .join(SmartAccount, VirtualAccount.smart_account_id == SmartAccount.id)
    .where(VirtualAccount.id == bindparam("va_id"))
)
_ACCOUNTS_KEY = "smartlic.usage_accounts"  # Session.info: see ``accounts``
# The statements of ``_store`` and ``_apply`` run at the driver's cost (``storage.prepared``):
# Core statements on the session's connection, which never autoflush (as ``Session.execute``
# of a Core statement does not).
_CONTACT = (
    update(_INSTANCES)
    .where(_INSTANCES.c.id == bindparam("iid"))
    .values(last_report_at=bindparam("at"), last_contact_at=bindparam("at"))
)
_INSERT_REPORTS = Prepared(  # every column but the id (the server's)
    insert(_RUM).values({c.name: bindparam(c.name) for c in _RUM.c if c.name != "id"})
)


def _licenses_held_seen(tags: list[Any], batch: ColumnElement[bool]) -> CompoundSelect[Any]:
    """The licenses of the reports' tags, with what the instance holds of each (count None:
    none), and which reports of the batch (``batch``: a report id is one of it) are already
    stored (rows with a ``seen`` report id and nothing else), in one round trip."""
    return union_all(
        select(
            License.id,
            License.tag,
            License.enforcement,
            _USAGE.c.count,
            _USAGE.c.reported_until,
            sa_cast(null(), BigInteger).label("seen"),
        )
        .outerjoin(
            _USAGE, (_USAGE.c.license_id == License.id) & (_USAGE.c.instance_id == bindparam("iid"))
        )
        .where(License.tag.in_(tags)),
        select(null(), null(), null(), null(), null(), _RUM.c.report_id).where(
            _RUM.c.instance_id == bindparam("iid"), batch
        ),
    )


# By dialect (PostgreSQL?): the contact times and that read. On PostgreSQL in one statement
# (a data-modifying WITH), the batch's report ids as one array parameter (psycopg re-parses a
# statement of more than 50 parameters each time); on SQLite the UPDATE, then the read.
_IN_BATCH = _RUM.c.report_id == any_(bindparam("ids", type_=ARRAY(BigInteger())))
_STORE_READS = {
    True: (
        None,
        Prepared.listed(
            "tags",
            lambda tags: _licenses_held_seen(tags, _IN_BATCH).add_cte(_CONTACT.cte("contact")),
        ),
    ),
    False: (
        Prepared(_CONTACT),
        Prepared.listed(
            ("tags", "ids"), lambda tags, ids: _licenses_held_seen(tags, _RUM.c.report_id.in_(ids))
        ),
    ),
}
_SET_USAGE = Prepared(
    update(_USAGE)
    .where(_USAGE.c.instance_id == bindparam("iid"), _USAGE.c.license_id == bindparam("lid"))
    .values(count=bindparam("n"), reported_until=bindparam("until"), status="IN USE")
)


@dataclass(frozen=True)
class Channel:
    """Who hands reports over. An authenticated channel (an account user uploading a file, a
    collector with an API key) may introduce devices the authority has never seen into
    ``virtual_account``; a device talking directly must already hold a trust code."""

    actor: str
    smart_account: SmartAccount | None = None
    virtual_account: VirtualAccount | None = None
    usage_file_id: str | None = None
    # the authenticated caller (None: a device on its own), allowed to carry reports only
    # for devices of virtual accounts it may change (``require_scope``)
    caller: Principal | None = None


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


Moves = dict[str, dict[str, int]]  # in-use deltas: virtual account id -> license id -> delta


def ingest(
    s: Session,
    by_device: Sequence[tuple[Udi, Sequence[dict[str, Any]]]],
    channel: Channel,
    now: datetime,
    checked: Sequence[list[Checked]],
) -> list[DeviceResult]:
    """Ingest the reports of a request's devices (``by_device``); their results in the same
    order. ``checked`` is ``precheck`` of each device, run before the transaction opened.

    The locks are taken in one order for every request, never the request's: two requests
    naming the same devices in opposite orders (or other devices moving the same pools in
    opposite orders) would each hold a row the other waits for, a cycle PostgreSQL breaks by
    failing one with ``DeadlockDetected``. First every known instance row, in one statement
    sorted by id (``_find_all``); then the devices new to the authority are keyed in UDI
    order (their unique keys wait on a twin's uncommitted insert); the pool counters last,
    all moves of the request at once, sorted by (virtual account, license) as
    ``_pool.lock_counters`` sorts them. On SQLite the transaction holds the database's write
    lock from BEGIN IMMEDIATE: one writer at a time.
    """
    found = _find_all(s, [udi for udi, _ in by_device])
    require_scope(s, found.values(), channel)
    results = [DeviceResult(udi) for udi, _ in by_device]
    moves: Moves = {}
    for i in sorted(range(len(by_device)), key=lambda i: _udi_key(by_device[i][0])):
        udi, _ = by_device[i]
        _ingest_device(s, results[i], found.get(_udi_key(udi)), checked[i], channel, now, moves)
    for va_id in sorted(moves):
        bump_noted(s, va_id, moves[va_id], now)
    return results


def _ingest_device(
    s: Session,
    result: DeviceResult,
    inst: ProductInstance | None,
    checked: list[Checked],
    channel: Channel,
    now: datetime,
    moves: Moves,
) -> None:
    """Ingest one device's reports (``inst``: its instance, locked, or None when unknown);
    its pool moves are added to ``moves``, made by ``ingest`` once every device is done."""
    good: list[RumReport] = []
    for c in checked:
        if _trusted(s, c, inst, channel, now, result):
            assert c.report is not None
            good.append(c.report)
            inst = result.instance
    result.instance = inst
    if inst is None or not good:
        return
    fresh, lics = _store(s, inst, good, channel, now)
    result.duplicates = len(good) - len(fresh)
    result.acknowledged = sorted(r.report_id for r in good)
    if fresh:  # duplicates only: nothing to count (and no statement to run)
        deltas = _apply(s, inst, fresh, lics)
        pool = moves.setdefault(inst.virtual_account_id, {})
        for lid, delta in deltas.items():
            pool[lid] = pool.get(lid, 0) + delta


def require_scope(s: Session, found: Iterable[ProductInstance], channel: Channel) -> None:
    """An authenticated caller carries reports only for devices of virtual accounts it may
    change: the rule of the ``/api/v1`` usage-file upload (``scope_in(...).require_write``),
    whichever way the reports come (a file, ``reportusage``), so a read-only key, or one of
    another virtual account, cannot report for a device by sending its signed reports (and
    with the authenticated caller's relaxed freshness). Refused as a whole, before anything
    is stored, without naming the account. A device of another smart account than the
    channel's is not this rule's: it is refused on its own (``_check_account``)."""
    if channel.caller is None:
        return  # a device on its own: its trust code is what counts
    for inst in found:
        va, sa, _ = accounts(s, inst.virtual_account_id)
        if channel.smart_account is not None and sa.id != channel.smart_account.id:
            continue
        if not may_write(channel.caller, sa.domain, va.name):
            raise Forbidden(
                f"{channel.caller.noun} may not report usage for the virtual account of "
                f"device {udi_of(inst)}"
            )


def _udi_key(udi: Udi) -> tuple[str, str]:
    return udi.pid, udi.sn


def _find_all(s: Session, udis: list[Udi]) -> dict[tuple[str, str], ProductInstance]:
    """The known instances of ``udis`` by (pid, sn), locked (PostgreSQL) in id order."""
    found: dict[tuple[str, str], ProductInstance] = {}
    cache = s.info.setdefault(_ACCOUNTS_KEY, {})
    for inst, va, sa, policy in s.execute(_BY_UDIS, {"udis": [_udi_key(u) for u in udis]}):
        cache[va.id] = (va, sa, policy_doc(policy))
        found[(inst.udi_pid, inst.udi_sn)] = inst
    return found


def accounts(s: Session, va_id: str) -> tuple[VirtualAccount, SmartAccount, PolicyDoc]:
    """A virtual account, its smart account and the policy in force, loaded once per
    transaction (``s.info``; ``ingest`` reads them with the devices): the ACK and the
    event of every device of a request need them, and the session's identity map is weak, so
    without a strong reference they would be selected again for each use."""
    cache: dict[str, tuple[VirtualAccount, SmartAccount, PolicyDoc]]
    cache = s.info.setdefault(_ACCOUNTS_KEY, {})
    found = cache.get(va_id)
    if found is None:
        va, sa = s.execute(_ACCOUNTS, {"va_id": va_id}).one()
        found = cache[va_id] = (va, sa, policy_for(s, va))
    return found


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
) -> tuple[list[RumReport], dict[str, Any]]:
    """Note the contact, then insert the reports not seen before (one query finds them and
    the licenses of the batch's tags, one bulk insert); returns them with their licenses by
    tag (``_licenses_held_seen``'s rows)."""
    # Exactly once: on PostgreSQL ``_find_all`` locked the instance row (FOR UPDATE), held until
    # commit, so the read below (a statement after the lock: a snapshot after the lock) sees
    # every report a concurrent twin of this request stored and committed (rum_reports is
    # partitioned by received_at, so its unique key cannot alone refuse the same report
    # stored twice at once by two processes: the twins differ in received_at; 0010_scale).
    # On SQLite the transaction holds the database's write lock from BEGIN IMMEDIATE.
    contact, read = _STORE_READS[on_postgresql(s)]
    params = {"iid": inst.id, "at": now}
    if contact is not None:
        contact.run(s, params)
    set_committed_value(inst, "last_report_at", now)
    set_committed_value(inst, "last_contact_at", now)
    ids = [r.report_id for r in reports]
    tags = list({r.entitlement_tag: None for r in reports})
    lics: dict[str, Any] = {}
    seen: set[int] = set()
    for row in read.run(s, {**params, "tags": tags, "ids": ids}).rows:
        if row.tag is None:
            seen.add(row.seen)
        else:
            lics[row.tag] = row
    fresh = list({r.report_id: r for r in reports if r.report_id not in seen}.values())
    if not fresh:
        return [], {}
    # A Core insert of the table: plain executemany, without the ORM's per-row bulk bookkeeping
    # (nothing is read back; the rows never enter the session).
    _INSERT_REPORTS.run(s, [_row(inst.id, r, lics, channel, now) for r in fresh])
    return fresh, lics


def _row(
    inst_id: str, r: RumReport, lics: dict[str, Any], channel: Channel, now: datetime
) -> dict[str, Any]:
    ms = r.measurements
    lic = lics.get(r.entitlement_tag)
    return {
        "instance_id": inst_id,
        "report_id": r.report_id,
        "license_id": lic.id if lic else None,
        "entitlement_tag": r.entitlement_tag,
        "start_time": min((m.start_time for m in ms), default=0),
        "end_time": _end(r),
        "last_value": _last(r),
        "max_value": max((m.value for m in ms), default=0),
        "measurements": [m.to_json() for m in ms],
        "received_at": now,
        "usage_file_id": channel.usage_file_id,
    }


def _end(r: RumReport) -> int:
    return max((m.end_time for m in r.measurements), default=0)


def _last(r: RumReport) -> int:
    """The value of the measurement that ends last (the last sent of those that end last)."""
    last = None
    for m in r.measurements:
        if last is None or m.end_time >= last.end_time:
            last = m
    return last.value if last is not None else 0


def _apply(
    s: Session, inst: ProductInstance, fresh: list[RumReport], lics: dict[str, Any]
) -> dict[str, int]:
    """Set the instance's usage from its newest reports (``lics``: the licenses of ``fresh``
    by tag with the instance's usage, as ``_store`` read them); the in-use deltas of its
    pools by license id, for ``ingest`` to move (``bump_noted``: the pools moved are judged
    from their new counts before commit)."""
    newest: dict[str, tuple[int, RumReport]] = {}
    for r in fresh:
        end, tag = _end(r), r.entitlement_tag
        if tag not in newest or end >= newest[tag][0]:
            newest[tag] = (end, r)
    deltas: dict[str, int] = {}
    changed: list[dict[str, Any]] = []
    added: list[dict[str, Any]] = []
    for tag, (end, r) in newest.items():
        lic = lics.get(tag)
        if lic is None or lic.enforcement is not Enforcement.UNENFORCED:
            continue
        held = lic.count is not None
        if held and (lic.reported_until or 0) > end:
            continue  # an older report arriving late
        count = _last(r)
        deltas[lic.id] = count - (lic.count if held else 0)
        row = {"iid": inst.id, "lid": lic.id, "n": count, "st": "IN USE", "until": end}
        (changed if held else added).append(row)
    if changed:
        _SET_USAGE.run(s, changed)
    if added:
        ADD_USAGE.run(s, added)
    return deltas
