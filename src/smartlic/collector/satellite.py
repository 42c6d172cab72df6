"""Satellite for classic devices: a local license authority for one virtual account.

The satellite reuses the authority whole: its own authority database (the authority schema,
``smartlic.storage.upgrade``, on ``<data_dir>/satellite/authority.sqlite3``), its own key
material (``AuthorityKeys``: classic devices pin the satellite's CA through the registration
tokens it issues) and the authority's own services (``build_services``) for one smart/virtual
account. ``serve`` mounts that authority app next to ``/cslu/v1/pi``, so the agent's ``smart``
transport pointed at the collector's product instance URL registers and authorizes there.

Synchronisation with the authority (``sync``), online or by files:

* down: the virtual account's license list (``GET .../virtual-accounts/{va}/licenses``, or that
  JSON saved to a file) replaces the local holdings: the satellite mirrors the purchased
  quantities, so it never grants more than the VA held at the last synchronisation;
* up: each local product instance's usage becomes signed RUM reports in the collector's store
  (one trust key per instance, derived from the satellite's signing key), so the authority
  learns the instances and their usage through the ordinary forwarding or export path;
* conflicts (the pool shrank below what the satellite has in use) are recorded and shown.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.services import Services, build_services
from smartlic.authority.services.scope import SYSTEM, system
from smartlic.clock import Clock
from smartlic.collector.models import Device, Preference, Report
from smartlic.collector.prefs import Preferences
from smartlic.collector.services import CollectorServices
from smartlic.crypto import Udi
from smartlic.domain.compliance import MAX_QUANTITY
from smartlic.domain.enums import Enforcement, HoldingKind
from smartlic.errors import InvalidInput, NotFound
from smartlic.formats import jsonsafe
from smartlic.formats.bounds import check_id, check_text
from smartlic.formats.rum import Measurement, RumReport, sign_report
from smartlic.storage import make_engine, upgrade
from smartlic.storage.models import Holding, InstanceUsage, License, ProductInstance

__all__ = ["Satellite", "SatelliteStatus"]

ACTOR = "satellite"
STATE = "satellite"  # Preference key in the collector store
REPORT_IDS = "satellite.report_ids"  # Preference key: the last report id used


@dataclass
class SatelliteStatus:
    last_sync: str | None = None
    holdings: dict[str, int] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)
    pushed: dict[str, list[str]] = field(default_factory=dict)  # _state_key -> tags reported


def _state_key(udi: Udi) -> str:
    """``<pid>:<sn>``: how the saved state (``SatelliteStatus.pushed``) names an instance, as
    every satellite's saved state already holds it.

    A storage key, not text a person typed: it is read back by ``_udi_of_key`` exactly, never
    by ``Udi.parse``, which trims blanks and reads a text starting ``PID:`` as the long form, so
    it would turn a device's own PID or serial into another's. A PID holding a colon would
    come back split at it (no real PID does; the key is kept for the files that exist)."""
    return f"{udi.pid}:{udi.sn}"


def _udi_of_key(key: str) -> Udi:
    """``_state_key``'s ``Udi`` back."""
    pid, _, sn = key.partition(":")
    return Udi(pid, sn)


class Satellite:
    """The local authority of a satellite collector.

    Usage::

        sat = Satellite(settings.satellite_dir, clock)
        sat.init(prefs)                                      # once: database, keys, accounts
        text = sat.token(prefs, days=30)                     # for `license smart register`
        sat.sync(collector_services, prefs, license_list)    # mirror holdings, push usage up
    """

    def __init__(self, directory: Path, clock: Clock) -> None:
        self.directory = directory
        self.clock = clock
        self.url = f"sqlite:///{directory / 'authority.sqlite3'}"
        self._engine: Engine | None = None
        self._services: Services | None = None
        self._keys: AuthorityKeys | None = None

    # ------------------------------------------------------------ set-up

    def init(self, prefs: Preferences) -> None:
        domain, va = _account(prefs)
        self.directory.mkdir(parents=True, exist_ok=True)
        upgrade(self.url, sealing_key=self.keys().sealing_key)
        s = self.services()
        if domain not in {a.domain for a in s.accounts.list_smart_accounts(scope=SYSTEM)}:
            name = prefs.smart_account_name or domain
            s.accounts.create_smart_account(name=name, domain=domain, scope=system(ACTOR))
        if va not in {v.name for v in s.accounts.list_virtual_accounts(domain, scope=SYSTEM)}:
            s.accounts.create_virtual_account(domain, name=va, scope=system(ACTOR))

    def exists(self) -> bool:
        return (self.directory / "authority.sqlite3").exists()

    def keys(self) -> AuthorityKeys:
        if self._keys is None:
            self._keys = AuthorityKeys.load_or_create(self.directory / "keys", self.clock.now())
        return self._keys

    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.url)
        return self._engine

    def services(self) -> Services:
        if self._services is None:
            self._services = build_services(self.engine(), self.clock, self.keys())
        return self._services

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    def token(self, prefs: Preferences, *, days: int = 30, max_uses: int | None = None) -> str:
        domain, va = _account(prefs)
        created = self.services().tokens.create_token(
            domain, va, days=days, max_uses=max_uses, description="satellite", scope=system(ACTOR)
        )
        return created.text

    # ------------------------------------------------------------ synchronisation

    def sync(
        self, collector: CollectorServices, prefs: Preferences, licenses: dict[str, Any] | None
    ) -> SatelliteStatus:
        """Mirror ``licenses`` (the VA's license list) when given; push usage up; conflicts."""
        state = self.load_status(collector)
        if licenses is not None:
            state.holdings = self.mirror(prefs, licenses)
            state.last_sync = self.clock.now().isoformat()
        state.pushed = self.push_usage(collector, prefs, state.pushed)
        state.conflicts = self.conflicts(prefs)
        self.save_status(collector, state)
        return state

    def mirror(self, prefs: Preferences, licenses: dict[str, Any]) -> dict[str, int]:
        """Replace the local holdings by the VA's purchased quantities (every line checked
        before anything changes)."""
        domain, va_name = _account(prefs)
        lines = license_lines(licenses)
        s = self.services()
        self._define_missing(s, lines)
        va = next(
            v for v in s.accounts.list_virtual_accounts(domain, scope=SYSTEM) if v.name == va_name
        )
        with self.engine().begin() as conn:
            conn.execute(delete(Holding).where(Holding.virtual_account_id == va.id))
        out = {}
        for line in lines:
            if line.purchased > 0:
                s.licenses.add_holding(
                    domain, va_name, tag=line.tag, quantity=line.purchased,
                    kind=HoldingKind.PERPETUAL, scope=system(ACTOR),
                )  # fmt: skip
                out[line.tag] = line.purchased
        return out

    @staticmethod
    def _define_missing(s: Services, lines: list[LicenseLine]) -> None:
        known = {lic.tag for lic in s.licenses.list_catalogue()}
        for line in lines:
            if line.tag in known:
                continue
            s.licenses.define_license(
                tag=line.tag,
                name=line.name,
                display_name=line.display_name,
                enforcement=line.enforcement,
                scope=system(ACTOR),
            )

    def conflicts(self, prefs: Preferences) -> list[str]:
        domain, va = _account(prefs)
        view = self.services().licenses.compliance(domain, va, scope=SYSTEM)
        return [
            f"CONFLICT {ln.display_name}: {ln.in_use + ln.reserved} in use at the satellite, "
            f"the virtual account holds {ln.purchased}"
            for ln in view.lines
            if ln.in_use + ln.reserved > ln.purchased
        ]

    # ------------------------------------------------------------ usage up

    def push_usage(
        self, collector: CollectorServices, prefs: Preferences, pushed: dict[str, list[str]]
    ) -> dict[str, list[str]]:
        now = self.clock.now()
        usage = self._usage()
        for name, before in pushed.items():  # instances gone, or tags no longer used: report 0
            entry = usage.setdefault(name, ({}, ""))
            for tag in before:
                entry[0].setdefault(tag, 0)
        intake = collector.intake
        with intake.transaction() as s:
            ids = ReportIds(s, now)
            for name, (tags, software_tag) in sorted(usage.items()):
                udi = _udi_of_key(name)
                device = intake.admit(s, udi, Preferences(), None)
                device.mode, device.known = "satellite", True
                envs = self._reports(udi, software_tag, tags, now, ids)
                intake.store_reports(s, device, envs)
            ids.save()
        in_use = {
            name: sorted(t for t, c in tags.items() if c) for name, (tags, _) in usage.items()
        }
        return {name: tags for name, tags in in_use.items() if tags}

    def _usage(self) -> dict[str, tuple[dict[str, int], str]]:
        q = (
            select(ProductInstance, License.tag, InstanceUsage.count)
            .join(InstanceUsage, InstanceUsage.instance_id == ProductInstance.id, isouter=True)
            .join(License, License.id == InstanceUsage.license_id, isouter=True)
        )
        out: dict[str, tuple[dict[str, int], str]] = {}
        with self.engine().connect() as conn, Session(bind=conn) as s:
            for inst, tag, count in s.execute(q):
                key = _state_key(Udi(inst.udi_pid, inst.udi_sn))
                entry = out.setdefault(key, ({}, inst.software_tag))
                if tag is not None:
                    entry[0][tag] = int(count or 0)
        return out

    def _reports(
        self, udi: Udi, software_tag: str, tags: dict[str, int], now: datetime, ids: ReportIds
    ) -> list[dict[str, Any]]:
        key = self.instance_key(udi)
        stamp = int(now.timestamp())
        reports = [
            RumReport(ids.next(), udi, software_tag, tag, [Measurement(stamp - 1, stamp, c)])
            for tag, c in sorted(tags.items())
        ]
        return [sign_report(r, key) for r in reports]

    def instance_key(self, udi: Udi) -> Ed25519PrivateKey:
        """The trust key the satellite reports an instance's usage with (stable per UDI)."""
        raw = self.keys().signer.key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        seed = hashlib.sha256(b"smartlic-satellite-trust:" + raw + str(udi).encode()).digest()
        return Ed25519PrivateKey.from_private_bytes(seed)

    # ------------------------------------------------------------ state

    @staticmethod
    def load_status(collector: CollectorServices) -> SatelliteStatus:
        with collector.status.transaction() as s:
            row = s.get(Preference, STATE)
            return SatelliteStatus(**row.value) if row else SatelliteStatus()

    @staticmethod
    def save_status(collector: CollectorServices, state: SatelliteStatus) -> None:
        value = json.loads(json.dumps(state.__dict__))
        with collector.status.transaction() as s:
            row = s.get(Preference, STATE)
            if row is None:
                s.add(Preference(key=STATE, value=value))
            else:
                row.value = value
        if state.conflicts:
            with collector.status.transaction() as s:
                for text in state.conflicts:
                    collector.status.alert(s, None, text)


class ReportIds:
    """Report ids for the satellite's reports: unique at any sync rate.

    A report id is the millisecond of the sync, or one more than the last id used when that is
    not larger (several reports per millisecond, a clock set back): strictly increasing. The
    last id is kept in the collector's store, in the transaction that stores the reports, so an
    id is never used twice - not even across restarts - and a rolled-back sync reuses nothing
    that was kept. (Ids of one second, as before, made two syncs in one second share ids:
    the second sync's reports were taken for the first's and dropped.)

    Usage::

        ids = ReportIds(session, now)
        report_id = ids.next()
        ids.save()   # before the transaction commits
    """

    def __init__(self, s: Session, now: datetime) -> None:
        self._s = s
        self._row = s.get(Preference, REPORT_IDS, with_for_update=True)
        last = int(self._row.value.get("last", 0)) if self._row is not None else self._legacy()
        self._last = max(int(now.timestamp() * 1000) - 1, last)

    def _legacy(self) -> int:
        """Before ids were kept: the largest id the satellite's devices already used."""
        found = self._s.scalar(
            select(func.max(Report.report_id))
            .join(Device, Device.id == Report.device_id)
            .where(Device.mode == "satellite")
        )
        return int(found or 0)

    def next(self) -> int:
        self._last += 1
        return self._last

    def save(self) -> None:
        if self._row is None:
            self._row = Preference(key=REPORT_IDS, value={"last": self._last})
            self._s.add(self._row)
        else:
            self._row.value = {"last": self._last}


def _account(prefs: Preferences) -> tuple[str, str]:
    if not prefs.smart_account or not prefs.virtual_account:
        raise NotFound("set the smart and virtual account first (smartlic collector init)")
    return prefs.smart_account, prefs.virtual_account


def licenses_path(prefs: Preferences) -> str:
    domain, va = _account(prefs)
    return f"/api/v1/accounts/{domain}/virtual-accounts/{va}/licenses"


def sync_online(sat: Satellite, collector: CollectorServices) -> SatelliteStatus:
    """Pull the VA's license list, mirror it, push usage up and forward it now."""
    from smartlic.collector.services.client import AuthorityClient

    prefs = collector.forwarder.prefs()
    with AuthorityClient(prefs, timeout_s=collector.forwarder.settings.http_timeout_s) as client:
        licenses = client.get(licenses_path(prefs))
    state = sat.sync(collector, prefs, licenses)
    collector.forwarder.sync()
    return state


def satellite_app(sat: Satellite) -> Any:
    """The authority app over the satellite's database, keys and services."""
    from smartlic.authority.app import create_app
    from smartlic.authority.settings import AuthoritySettings

    settings = AuthoritySettings(
        data_dir=sat.directory, database_url=sat.url, key_dir=sat.directory / "keys"
    )
    return create_app(settings, clock=sat.clock, services=sat.services())


@dataclass(frozen=True)
class LicenseLine:
    """One line of a VA's license list, as the satellite mirrors it."""

    tag: str
    purchased: int
    name: str
    display_name: str
    enforcement: Enforcement


def read_license_list(data: bytes) -> dict[str, Any]:
    """A license list saved from the authority (``GET .../licenses``): a JSON object."""
    try:
        listed = jsonsafe.loads(data.decode())
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise InvalidInput(f"the license list is not JSON: {exc}", code="malformed-json") from exc
    if not isinstance(listed, dict):
        raise InvalidInput("a license list is a JSON object with lines [{tag, purchased}]")
    return listed


def license_lines(licenses: dict[str, Any]) -> list[LicenseLine]:
    """Every line checked (a tag, a count 0-2**63-1, a known enforcement), or InvalidInput."""
    lines = licenses.get("lines")
    if not isinstance(lines, list):
        raise InvalidInput("a license list has lines [{tag, purchased, ...}]")
    return [_line(line, f"/lines/{i}") for i, line in enumerate(lines)]


def _line(line: Any, ptr: str) -> LicenseLine:
    if not isinstance(line, dict):
        raise InvalidInput("a license line is {tag, purchased, ...}", pointer=ptr)
    tag = check_text(line.get("tag"), f"{ptr}/tag", "tag", max_len=255)
    purchased = check_id(line.get("purchased", 0), f"{ptr}/purchased", "purchased", minimum=0)
    if purchased > MAX_QUANTITY:  # add_holding's bound, checked before any holding goes
        raise InvalidInput(f"purchased must be 0-{MAX_QUANTITY}", pointer=f"{ptr}/purchased")
    enforcement = line.get("enforcement", "unenforced")
    if enforcement not in set(Enforcement):
        raise InvalidInput(f"enforcement: one of {', '.join(Enforcement)}", pointer=ptr)
    name = str(line.get("name") or tag)[:100]
    display_name = str(line.get("display_name") or tag)[:200]
    return LicenseLine(tag, purchased, name, display_name, Enforcement(enforcement))
