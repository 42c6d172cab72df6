"""Classic license reservations (SLR / PLR) and node-locked license files.

"Reserve Licenses" turns a device's request code (``formats.reservation.RequestCode``) into an
authorization code the authority signs, bound to the device's UDI and to that request code:

* ``SPECIFIC`` (SLR) names licenses and counts; each count is held as ``reserved`` in the
  virtual account's pool (compliance shows it) and refused when the pool cannot cover it;
* ``UNIVERSAL`` (PLR) authorizes every license of the device and holds no count.

Refused: a request code reserved before (``reservation-code-used``), a device that already holds
a reservation or belongs to another virtual account (``device-elsewhere``), more than the pool
holds. The device becomes a product instance of the virtual account. Removing it needs the
return code of its reservation (``returned_reservation``): the device signed it with the
key its request code carried, so only the device that installed the reservation can release it
(docs/reservations.md).

A node-locked license file (``formats.license_file``) is signed for one UDI and one feature,
either from a virtual account's holdings (its count held as ``reserved``) or standalone.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from smartlic.authority.services import _pool, ownership
from smartlic.authority.services._base import SigningServiceBase, logs_refusals
from smartlic.authority.services._files import udi_of
from smartlic.authority.services._usage import active_reservation
from smartlic.authority.services.scope import Principal, scope_in
from smartlic.crypto import Udi
from smartlic.domain.enums import InstanceStatus
from smartlic.errors import Conflict, InvalidInput, SignatureInvalid, UnknownTag
from smartlic.formats.device_v1 import MAX_COUNT, Entitlement
from smartlic.formats.license_file import license_payload, new_serial, write_license_file
from smartlic.formats.reservation import (
    SPECIFIC,
    UNIVERSAL,
    RequestCode,
    authorization_payload,
    authorization_text,
    check_return_code,
)
from smartlic.storage.models import (
    License,
    LicenseFileRow,
    LicenseReservation,
    LicenseReservationLine,
    ProductInstance,
    VirtualAccount,
)

__all__ = [
    "IssuedFile",
    "ReservationOut",
    "SqlReservationsService",
    "active_reservation",
    "reservation_pools",
    "return_reservation",
    "returned_reservation",
]


@dataclass(frozen=True)
class ReservationOut:
    id: str
    udi: str
    virtual_account: str
    reservation_type: str
    request_code: str
    authorization_code: str
    confirmation_code: str
    licenses: dict[str, int]  # tag -> count (empty for UNIVERSAL)
    issued_at: datetime
    returned_at: datetime | None


@dataclass(frozen=True)
class IssuedFile:
    serial: str
    udi: str
    feature: str
    data: bytes


class SqlReservationsService(SigningServiceBase):
    @logs_refusals("license.reservation.refused")
    def reserve(
        self,
        domain: str,
        virtual_account: str,
        request_code: str,
        *,
        licenses: Mapping[str, int] | None = None,
        universal: bool = False,
        scope: Principal,
    ) -> ReservationOut:
        """Reserve licenses for the device of ``request_code``: ``licenses`` (tag or name ->
        count) for a specific reservation, or ``universal``."""
        scope_in(scope, domain).require_write(virtual_account)
        req = RequestCode.parse(request_code)
        wanted = _wanted(licenses, universal)
        now = self.now()
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            va = self.virtual_account(s, sa, virtual_account)
            _require_unused(s, req)
            inst = self._instance_for(s, va, req.udi, now)
            row = self._new_row(s, va, inst, req, universal, scope.label(), now)
            held = [(_license(s, name), count) for name, count in wanted.items()]
            _pool.lock_counters(s, ((va.id, lic.id) for lic, _ in held))  # in one order
            for lic, count in held:
                _pool.hold(s, va.id, lic, count, now)
                row.lines.append(LicenseReservationLine(license_id=lic.id, count=count))
            self._sign(s, row, req, now)
            self.record(s, "license.reservation.issued", actor=scope.label(), smart_account=sa,
                        virtual_account=va.name, subject=str(req.udi),
                        reservation_type=row.reservation_type, licenses=_tags(s, row))  # fmt: skip
            return _out(s, row, va.name)

    def list_reservations(
        self, domain: str, virtual_account: str | None = None, *, scope: Principal
    ) -> list[ReservationOut]:
        visible = scope_in(scope, domain)
        if virtual_account is not None:
            visible.require_read(virtual_account)
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            q = (
                select(LicenseReservation, VirtualAccount)
                .join(VirtualAccount)
                .where(VirtualAccount.smart_account_id == sa.id, visible.where(VirtualAccount.name))
            )
            if virtual_account is not None:
                q = q.where(VirtualAccount.name == virtual_account)
            rows = s.execute(q.order_by(LicenseReservation.issued_at))
            return [_out(s, r, va.name) for r, va in rows]

    # ------------------------------------------------------------ helpers

    @staticmethod
    def _instance_for(s: Session, va: VirtualAccount, udi: Udi, now: datetime) -> ProductInstance:
        """The device as an instance of ``va``: new, or already there without a reservation."""
        inst = ownership.find_instance(s, udi)
        if inst is not None and inst.virtual_account_id != va.id:
            raise Conflict(
                f"{udi} is a product instance of another virtual account; transfer or remove "
                "it there first",
                code="device-elsewhere",
            )
        if inst is not None and active_reservation(s, inst) is not None:
            raise Conflict(
                f"{udi} already holds a license reservation; it must be returned first",
                code="already-reserved",
            )
        if inst is None:
            inst = ProductInstance(virtual_account_id=va.id, udi_pid=udi.pid, udi_sn=udi.sn,
                                   registered_at=now, last_contact_at=now,
                                   status=InstanceStatus.IN_COMPLIANCE)  # fmt: skip
            s.add(inst)
            s.flush()
        return inst

    @staticmethod
    def _new_row(
        s: Session,
        va: VirtualAccount,
        inst: ProductInstance,
        req: RequestCode,
        universal: bool,
        actor: str,
        now: datetime,
    ) -> LicenseReservation:
        row = LicenseReservation(
            virtual_account_id=va.id, instance_id=inst.id, udi_pid=req.udi.pid,
            udi_sn=req.udi.sn, request_code=req.text,
            reservation_type=UNIVERSAL if universal else SPECIFIC,
            public_key=base64.b64encode(req.public_key).decode(), code_id=str(uuid.uuid4()),
            confirmation_code=secrets.token_hex(4), authorization_code="", issued_at=now,
            created_by=actor[:200],
        )  # fmt: skip
        s.add(row)
        return row

    def _sign(self, s: Session, row: LicenseReservation, req: RequestCode, now: datetime) -> None:
        tags = {lic.id: lic.tag for lic in s.scalars(select(License))}
        ents = [Entitlement(tags[ln.license_id], ln.count) for ln in row.lines]
        payload = authorization_payload(req.udi, req.text, row.reservation_type, ents,
                                        code_id=row.code_id,
                                        confirmation_code=row.confirmation_code)  # fmt: skip
        env = self.files.section(payload, now)
        row.authorization_code = authorization_text(env, req.udi, row.reservation_type)
        s.flush()

    # ------------------------------------------------------------ license files

    @logs_refusals("license.file.refused")
    def issue_file(
        self,
        domain: str,
        virtual_account: str | None,
        udi: Udi,
        feature: str,
        *,
        count: int | None = None,
        eval_days: int | None = None,
        from_holdings: bool = True,
        scope: Principal,
    ) -> IssuedFile:
        """A signed node-locked license file for ``udi``. With ``from_holdings`` the feature is
        a license (tag or name) of the virtual account, and ``count`` (1 when uncounted) is held
        from its pool; otherwise the file is a standalone traditional entitlement."""
        allowed = scope_in(scope, domain)
        if virtual_account is not None:
            allowed.require_write(virtual_account)
        else:
            allowed.require_manage()
        now = self.now()
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            va = self.virtual_account(s, sa, virtual_account) if virtual_account else None
            lic = None
            if from_holdings:
                if va is None:
                    raise InvalidInput("a file from holdings names its virtual account")
                lic = _license(s, feature)
                feature = lic.name
            serial = new_serial()
            payload = license_payload(udi, feature, count=count, eval_days=eval_days,
                                      serial=serial, now=now)  # fmt: skip
            if lic is not None and va is not None:
                _pool.hold(s, va.id, lic, count or 1, now)
            data = write_license_file(self.files.section(payload, now))
            s.add(LicenseFileRow(serial=serial, smart_account_id=sa.id,
                                 virtual_account_id=va.id if va else None,
                                 license_id=lic.id if lic else None, udi_pid=udi.pid,
                                 udi_sn=udi.sn, feature=feature, count=count,
                                 eval_days=eval_days, issued_at=now, document=data.decode(),
                                 created_by=scope.label()[:200]))  # fmt: skip
            self.record(s, "license.file.issued", actor=scope.label(), smart_account=sa,
                        virtual_account=va.name if va else None, subject=str(udi),
                        feature=feature, serial=serial)  # fmt: skip
            return IssuedFile(serial, str(udi), feature, data)


# ---------------------------------------------------------------- used by instance removal


def returned_reservation(
    s: Session, inst: ProductInstance, return_code: str | None
) -> LicenseReservation | None:
    """Before ``inst`` is removed: its active reservation, once its return code is found
    genuine (``None`` when the device holds none); changes nothing, so a caller removing
    several devices checks them all first. ``return_reservation`` then frees it."""
    row = active_reservation(s, inst)
    if row is None:
        if return_code:
            raise InvalidInput(
                "this product instance holds no license reservation to return",
                code="no-reservation", pointer="/returnCode",
            )  # fmt: skip
        return None
    if not return_code:
        raise Conflict(
            "this product instance holds a license reservation: enter its reservation "
            "return code to remove it",
            code="return-code-required",
        )
    try:
        check_return_code(return_code.strip(), base64.b64decode(row.public_key), row.code_id,
                          udi_of(row))  # fmt: skip
    except SignatureInvalid as exc:  # a wrong code typed in, not a failed authentication
        raise InvalidInput(exc.detail, code="wrong-return-code", pointer="/returnCode") from exc
    return row


def reservation_pools(row: LicenseReservation | None) -> list[tuple[str, str]]:
    """The pool counters ((virtual account id, license id)) ``return_reservation`` changes."""
    return [(row.virtual_account_id, line.license_id) for line in row.lines] if row else []


def return_reservation(s: Session, row: LicenseReservation, now: datetime) -> None:
    """Give a checked reservation's counts back to its pool (its counters locked first)."""
    _pool.lock_counters(s, reservation_pools(row))
    for line in row.lines:
        _pool.unhold(s, row.virtual_account_id, line.license_id, line.count)
    row.returned_at = now


# ---------------------------------------------------------------- helpers


def _wanted(licenses: Mapping[str, int] | None, universal: bool) -> dict[str, int]:
    if universal:
        if licenses:
            raise InvalidInput("a universal reservation names no licenses", pointer="/licenses")
        return {}
    if not licenses:
        raise InvalidInput("name the licenses to reserve, or ask for a universal reservation",
                           pointer="/licenses")  # fmt: skip
    for name, count in licenses.items():
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
            raise InvalidInput(f"the count of {name} is 1-{MAX_COUNT}", pointer="/licenses")
    return dict(licenses)


def _require_unused(s: Session, req: RequestCode) -> None:
    used = s.scalar(
        select(LicenseReservation.id).where(LicenseReservation.request_code == req.text)
    )
    if used is not None:
        raise Conflict(
            "this reservation request code was already used; generate a new one on the device",
            code="reservation-code-used",
        )


def _license(s: Session, name: str) -> License:
    """A license by entitlement tag, else by its (unique) name."""
    found = list(s.scalars(select(License).where(or_(License.tag == name, License.name == name))))
    exact = [lic for lic in found if lic.tag == name] or found
    if len(exact) != 1:
        raise UnknownTag(f"no license {name!r}" if not exact else f"{name!r} is ambiguous")
    return exact[0]


def _tags(s: Session, row: LicenseReservation) -> dict[str, int]:
    return {s.get_one(License, ln.license_id).tag: ln.count for ln in row.lines}


def _out(s: Session, row: LicenseReservation, va: str) -> ReservationOut:
    return ReservationOut(
        id=row.id, udi=str(udi_of(row)), virtual_account=va,
        reservation_type=row.reservation_type, request_code=row.request_code,
        authorization_code=row.authorization_code, confirmation_code=row.confirmation_code,
        licenses=_tags(s, row), issued_at=row.issued_at, returned_at=row.returned_at,
    )  # fmt: skip
