"""Disconnected mode: "Download All for Cisco" and "Upload from Cisco" as files.

Export: one ``.tar.gz`` in the vendor's bulk layout (domain-notes 3.4)::

    UD_SA_<ts>.tar.gz
      manifest.mf                       Smart-Account / Specification-VA of this collector
      UD_VA_<ts>.tar.gz
        dev_<pid>_<sn>_<ts>.txt         <smartLicense><RUMReport>... one file per device

The authority takes it as a usage data file and answers an ACK archive of ``ACK_dev_...``
files. Exports are repeatable: every report not yet acknowledged goes again, until an import
acknowledges it. Imports are read completely and checked before anything is written: every
file's signature must chain to the authority CA pinned at ``init`` (a forged, truncated or
foreign archive changes nothing), and are idempotent (files are recorded by digest).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from smartlic.clock import Clock
from smartlic.collector.models import Device, Report
from smartlic.collector.prefs import Preferences, load, save
from smartlic.collector.services import _base
from smartlic.collector.services._base import ServiceBase, find_device
from smartlic.collector.services.deliveries import FileFacts, add_delivery, file_facts
from smartlic.collector.services.slac_files import apply_code, is_code_file, request_files
from smartlic.collector.services.trusted import CollectorVerifier
from smartlic.crypto import Udi
from smartlic.errors import Forbidden, InvalidInput, SmartlicError
from smartlic.formats.archive import DEFAULT_LIMITS, ArchiveLimits, is_archive, read_members, tar_gz
from smartlic.formats.rum import sudi_json, usage_file

__all__ = ["ExportResult", "ImportResult", "Transfer"]


@dataclass
class ExportResult:
    name: str
    content: bytes
    devices: int
    reports: int


@dataclass
class ImportResult:
    files: int
    new_files: int
    acknowledged: int


class Transfer(ServiceBase):
    def __init__(
        self, engine: Engine, clock: Clock, archive_limits: ArchiveLimits = DEFAULT_LIMITS
    ) -> None:
        super().__init__(engine, clock)
        self.archive_limits = archive_limits

    def export(self, virtual_account: str | None = None) -> ExportResult:
        """Everything not yet acknowledged (nor rejected) of one virtual account (default: the
        collector's), one usage file per device: upload it to that virtual account."""
        prefs = self.prefs()
        va = virtual_account or prefs.virtual_account
        stamp = int(self.now().timestamp())
        with self.transaction() as s:
            per_device = [
                (d, envs)
                for d, envs in _unacknowledged(s)
                if (d.virtual_account or prefs.virtual_account) == va
            ]
            files = [
                (f"dev_{d.udi_pid}_{d.udi_sn}_{stamp}.txt", usage_file(envs))
                for d, envs in per_device
            ]
            for device, _ in per_device:
                self.alert(s, device, _base.EXPORTED)
        inner = tar_gz(files)
        manifest = _manifest(prefs, va, stamp)
        outer = tar_gz([("manifest.mf", manifest), (f"UD_VA_{stamp}.tar.gz", inner)])
        count = sum(len(envs) for _, envs in per_device)
        return ExportResult(f"UD_SA_{stamp}.tar.gz", outer, len(per_device), count)

    def import_acks(self, content: bytes, name: str = "ack") -> ImportResult:
        """An ACK archive, one ACK file, or authorization code files; all or nothing."""
        members = _members(content, self.archive_limits)
        with self.transaction() as s:  # every file verified before anything is written
            verifier = CollectorVerifier.open(s, self.clock)
            codes = [(n, d) for n, d in members if is_code_file(d)]
            files = [
                (n, file_facts_named(n, d, verifier)) for n, d in members if not is_code_file(d)
            ]
            if not files and not codes:
                raise InvalidInput("the file holds no acknowledgements", code="empty-file")
            prefs = load(s)
            _check_account(files, prefs, _served(s, prefs))
            new, acked = self._acks(s, files)
            new += self._codes(s, codes, verifier)
            if files:
                prefs.smart_account_name = prefs.smart_account_name or files[0][1].smart_account
            save(s, prefs)
        return ImportResult(len(files) + len(codes), new, acked)

    def virtual_accounts(self) -> list[str]:
        """The virtual accounts an export can be for: the default one first, then those named
        in device URLs (``/cslu/v1/pi/<va>-1``)."""
        with self.transaction() as s:
            prefs = load(s)
            named = sorted(str(va) for va in _served(s, prefs) - {prefs.virtual_account} if va)
        return ([prefs.virtual_account] if prefs.virtual_account else []) + named

    def export_requests(self) -> list[tuple[str, bytes]]:
        """Authorization requests waiting for a code, one request file each (slac_files)."""
        with self.transaction() as s:
            return request_files(s)

    def _acks(self, s: Session, files: list[tuple[str, _NamedFacts]]) -> tuple[int, int]:
        devices = [_known(s, n, facts) for n, facts in files]
        new = acked = 0
        for (_, facts), (device, data) in zip(files, devices, strict=True):
            if add_delivery(s, device, _item(device.udi, facts, data), facts, self.now()):
                new += 1
                acked += len(facts.acknowledged)
                self.alert(s, device, _base.ACK_RECEIVED)
        return new, acked

    def _codes(
        self, s: Session, codes: list[tuple[str, bytes]], verifier: CollectorVerifier
    ) -> int:
        new = 0
        for name, data in codes:
            device, fresh = apply_code(s, name, data, self.now(), verifier)
            if fresh:
                new += 1
                self.alert(s, device, _base.AUTH_RECEIVED)
        return new


class _NamedFacts(FileFacts):
    data: bytes = b""


def file_facts_named(name: str, data: bytes, verifier: CollectorVerifier) -> _NamedFacts:
    try:
        facts = file_facts(data, verifier)
    except InvalidInput as exc:
        raise InvalidInput(f"{name}: {exc.detail}", code="bad-file") from exc
    except SmartlicError as exc:
        # A forged or foreign file keeps its reason and code (bad-signature, wrong-device...).
        raise type(exc)(f"{name}: {exc.detail}", code=exc.code) from exc
    named = _NamedFacts()
    named.__dict__.update(facts.__dict__)
    named.data = data
    return named


def _unacknowledged(s: Session) -> list[tuple[Device, list[dict[str, Any]]]]:
    q = (
        select(Report, Device)
        .join(Device)
        .where(Report.acked_at.is_(None), Report.rejected.is_(None))
        .order_by(Report.device_id, Report.id)
    )
    out: dict[int, tuple[Device, list[dict[str, Any]]]] = {}
    for report, device in s.execute(q):
        out.setdefault(device.id, (device, []))[1].append(json.loads(report.envelope))
    return list(out.values())


def _manifest(prefs: Preferences, va: str | None, stamp: int) -> bytes:
    lines = [
        "Manifest-Version: 1.0",
        'Created-By: "smartlic collector"',
        f"Smart-Account: {prefs.smart_account_name or ''}",
        f"Smart-Account-ID: {prefs.smart_account or ''}",
        "",
        f"Name: /UD_VA_{stamp}.tar.gz",
        f"Specification-VA: {va or ''}",
        f"Specification-VA-ID: {va or ''}",
        "",
    ]
    return "\n".join(lines).encode()


def _members(content: bytes, limits: ArchiveLimits) -> list[tuple[str, bytes]]:
    """Plain files of an archive (nested archives opened), or the content itself when XML.
    All are read before anything is written (an import is all or nothing); ACK files are
    small and ``limits`` bound what they may add up to."""
    if not is_archive(content):
        return [("file", content)]
    return list(read_members(content, limits))


def _served(s: Session, prefs: Preferences) -> set[str | None]:
    """The virtual accounts this collector serves: its own and those named in device URLs."""
    named = set(
        s.scalars(select(Device.virtual_account).where(Device.virtual_account.is_not(None)))
    )
    return {prefs.virtual_account, *named}


def _check_account(
    files: list[tuple[str, _NamedFacts]], prefs: Preferences, served: set[str | None]
) -> None:
    for name, facts in files:
        va_ok = prefs.virtual_account is None or facts.virtual_account in served
        sa_ok = prefs.smart_account_name is None or facts.smart_account == prefs.smart_account_name
        if not (va_ok and sa_ok):
            raise Forbidden(
                f"{name} is for {facts.smart_account} / {facts.virtual_account}, not this "
                f"collector's {prefs.smart_account_name or prefs.smart_account} / "
                f"{prefs.virtual_account}",
                code="wrong-account",
            )


def _known(s: Session, name: str, facts: _NamedFacts) -> tuple[Device, bytes]:
    udi = facts.udi
    assert udi is not None  # file_facts refuses a file that acknowledges no device
    device = find_device(s, udi)
    if device is None:
        raise Forbidden(
            f"{name} acknowledges {udi.pid}:{udi.sn}, a device this collector never reported",
            code="unknown-device",
        )
    return device, facts.data


def _item(udi: Udi, facts: FileFacts, data: bytes) -> dict[str, Any]:
    return {
        "sudi": sudi_json(udi),
        "smart_license": base64.b64encode(data).decode(),
        "acknowledged": facts.acknowledged,
        "rejected": facts.rejected,
    }
