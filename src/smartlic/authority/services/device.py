"""Device protocol v1 (docs/device-protocol.md): registration, identity renewal, authorization
and deregistration. Requests other than ``register`` are signed with the device's identity key;
every response is signed by the authority."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, Engine, Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.services import ownership
from smartlic.authority.services._base import (
    WATCH_ACTOR,
    ServiceBase,
    device_actor,
    logs_refusals,
)
from smartlic.authority.services._compliance import judge
from smartlic.authority.services._files import udi_of
from smartlic.authority.services._guard import RequestGuard
from smartlic.authority.services._usage import apply_usage, release_all
from smartlic.authority.services.conversion import convert_files
from smartlic.authority.services.tokens import (
    GRANT_BY_HASH,
    TokenGrant,
    check_grant,
    take_use,
)
from smartlic.clock import Clock
from smartlic.crypto import (
    DeviceCsr,
    Udi,
    certificate_pem,
    fingerprint,
    load_certificate,
    load_csr,
)
from smartlic.domain.enums import EntitlementStatus, InstanceStatus
from smartlic.errors import AlreadyRegistered, InvalidInput, SignatureInvalid
from smartlic.formats.device_v1 import (
    REGISTER_PROOF,
    parse_entitlements,
    parse_udi,
    register_binding,
    require_str,
    require_type,
    udi_json,
)
from smartlic.formats.envelope import (
    envelope_key_id,
    iso,
    make_nonce,
    seal,
    timestamp_ms,
)
from smartlic.formats.signed import check_fresh, open_sealed
from smartlic.storage.base import new_id
from smartlic.storage.models import ProductInstance, SmartAccount, VirtualAccount
from smartlic.storage.prepared import Prepared

_INSTANCE_INSERT = insert(cast(Table, ProductInstance.__table__))
# The token with its accounts, and the instance already holding the UDI: one round trip.
_GRANT_AND_UDI = GRANT_BY_HASH.add_columns(ownership.INSTANCE_ID_BY_UDI.label("existing"))
_BODY_COLUMNS = (
    "id", "cert_pem", "cert_expires_at", "export_controlled_allowed", "registered_at",
)  # fmt: skip


_INSTANCES = cast(Table, ProductInstance.__table__)
_TOUCH = Prepared(  # run at the driver's cost (``storage.prepared``), as _SIGNER_ROW
    update(_INSTANCES)
    .where(_INSTANCES.c.id == bindparam("iid"))
    .values(
        hostname=bindparam("host"),
        status=bindparam("st", type_=_INSTANCES.c.status.type),
        last_contact_at=bindparam("at", type_=_INSTANCES.c.last_contact_at.type),
    )
)
_VAS = cast(Table, VirtualAccount.__table__)
_SAS = cast(Table, SmartAccount.__table__)
# An authorization's signer as columns, with its accounts' ids and names (built once). Its
# instance row is locked (PostgreSQL) before its usage and pools, the one order of every write
# of an instance's usage (``_usage.lock_instances``): touched last, a removal or transfer
# holding the row waited on a pool the authorization held (a deadlock), or freed usage read
# before the authorization changed it.
_SIGNER_ROW = Prepared(
    select(
        _INSTANCES.c.id,
        _INSTANCES.c.virtual_account_id,
        _INSTANCES.c.udi_pid,
        _INSTANCES.c.udi_sn,
        _INSTANCES.c.hostname,
        _INSTANCES.c.cert_fingerprint,
        _INSTANCES.c.cert_pem,
        _INSTANCES.c.cert_expires_at,
        _INSTANCES.c.export_controlled_allowed,
        _VAS.c.name.label("va_name"),
        _SAS.c.id.label("sa_id"),
        _SAS.c.name.label("sa_name"),
    )
    .join_from(_INSTANCES, _VAS, _VAS.c.id == _INSTANCES.c.virtual_account_id)
    .join(_SAS, _SAS.c.id == _VAS.c.smart_account_id)
    .where(_INSTANCES.c.cert_fingerprint == bindparam("key_id"))
    .with_for_update(of=_INSTANCES)
)
# The signer of the other signed requests with its accounts, as objects (built once).
_SIGNER = (
    select(ProductInstance, SmartAccount, VirtualAccount.name)
    .join(VirtualAccount, VirtualAccount.id == ProductInstance.virtual_account_id)
    .join(SmartAccount, SmartAccount.id == VirtualAccount.smart_account_id)
    .where(ProductInstance.cert_fingerprint == bindparam("key_id"))
)


@dataclass(frozen=True)
class AuthorityTimers:
    """Classic timers as real devices see them (domain-notes 1.3)."""

    certificate_days: int = 365
    renew_after_days: int = 180
    next_communication_days: int = 30
    deadline_days: int = 90


class SqlDeviceService(ServiceBase):
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        keys: AuthorityKeys,
        *,
        replay_window_s: float = 300.0,
        timers: AuthorityTimers | None = None,
    ) -> None:
        super().__init__(engine, clock)
        self.keys = keys
        self.window = replay_window_s
        self.timers = timers or AuthorityTimers()
        self.guard = RequestGuard(replay_window_s)

    # ------------------------------------------------------------ register

    def authority_ca(self) -> str:
        return self.keys.ca_pem

    @logs_refusals("instance.registration.refused")
    def register(self, request: dict[str, Any]) -> dict[str, Any]:
        now = self.now()
        udi, csr = self._check_register(request, now)
        # Issue the certificate before the transaction (pure CPU), and take the token's use
        # last: its row lock is then held for one statement, not the whole registration.
        cert = self.keys.ca.issue(csr, not_before=now, days=self.timers.certificate_days, udi=udi)
        row = _instance_row(request, udi, cert, now)
        try:
            # A bare connection: statements built once, no ORM object loaded or flushed; only
            # a device already known (``force``) opens a Session for the ownership rules.
            with self.core_transaction() as c:
                grant, found = check_grant(
                    c, request["token"], now, _GRANT_AND_UDI, pid=udi.pid, sn=udi.sn
                )
                if (old := found.existing) is not None:
                    with self.session_on(c) as s:
                        self._replace_existing(s, request, udi, s.get_one(ProductInstance, old),
                                               grant, now)  # fmt: skip
                row.update(
                    virtual_account_id=grant.va_id,
                    export_controlled_allowed=grant.export_controlled_allowed,
                    token_id=grant.token_id,
                )
                c.execute(_INSTANCE_INSERT, row)
                self.record_now(
                    c,
                    "instance.registered",
                    actor=device_actor(udi),
                    smart_account_id=grant.sa_id,
                    virtual_account=grant.va_name,
                    subject=str(udi),
                    token=grant.token_id,
                    force=request.get("force") is True,
                )
                take_use(c, grant.token_id)
        except IntegrityError as exc:  # the same UDI registering twice at once
            raise AlreadyRegistered(f"{udi} is already registered") from exc
        return self._reply(self._registration_body(udi, row, grant.sa_name, grant.va_name), request)

    def _check_register(self, request: dict[str, Any], now: datetime) -> tuple[Udi, DeviceCsr]:
        if not isinstance(request, dict):
            raise InvalidInput("request must be a JSON object")
        require_str(request, "token", max_len=255)
        require_str(request, "nonce", max_len=64)
        udi = parse_udi(request.get("udi"))
        pem = require_str(request, "csr")
        for key in ("hostname", "software_tag"):
            if not isinstance(request.get(key, ""), str) or len(request.get(key, "")) > 255:
                raise InvalidInput(
                    f"{key} must be a string of at most 255 characters", pointer=f"/{key}"
                )
        if not isinstance(request.get("force", False), bool):
            raise InvalidInput("force must be a boolean", pointer="/force")
        if not isinstance(request.get("proof") or {}, dict):
            raise InvalidInput("proof must be a signed envelope object", pointer="/proof")
        check_fresh(request.get("timestamp"), now, self.window)  # the shape first, then its time
        csr = load_csr(pem)  # loaded and its signature checked once per registration
        if csr.udi != udi:
            raise InvalidInput("the CSR names another device than the request", pointer="/csr")
        return udi, csr

    def _replace_existing(
        self,
        s: Session,
        request: dict[str, Any],
        udi: Udi,
        old: ProductInstance,
        grant: TokenGrant,
        now: datetime,
    ) -> None:
        """A device registering again: only with ``force``, and only by its owner (ownership
        rule 2): the token is of the smart account holding it, or ``proof`` is signed by the
        device's current identity."""
        if request.get("force") is not True:
            raise AlreadyRegistered(f"{udi} is already registered; use force to re-register")
        claimant = s.get_one(SmartAccount, grant.sa_id)
        # the holder's own token needs no proof (a wiped device); a proof is judged only when
        # it is what the move rests on, so a stale one never blocks the owner's re-registration
        own = ownership.holder_of(s, old)[1].id == claimant.id
        proven = not own and self._proven(s, request, old, request["csr"], now)
        ownership.require_owner(s, old, claimant, proven=proven)
        ownership.record_move(self, s, old, claimant)
        release_all(s, old)
        s.delete(old)
        s.flush()

    def _proven(
        self, s: Session, request: dict[str, Any], old: ProductInstance, csr: str, now: datetime
    ) -> bool:
        """True when ``proof`` is signed by ``old``'s current identity and binds this
        request's token and CSR (``formats.device_v1.register_binding``)."""
        proof = request.get("proof")
        if proof is None:
            return False
        inst, _, _, payload = self._open(s, proof, REGISTER_PROOF, now)
        if inst.id != old.id:
            raise SignatureInvalid("the proof is signed by another device", code="bad-proof")
        binding = register_binding(request["token"], csr)
        if any(payload.get(k) != v for k, v in binding.items()):
            raise SignatureInvalid(
                "the proof does not sign this request's token and CSR", code="bad-proof"
            )
        return True

    def _registration_body(
        self, udi: Udi, inst: Mapping[str, Any], sa_name: str, va_name: str
    ) -> dict[str, Any]:
        """The answer to a registration or renewal of ``udi``; ``inst`` its other columns."""
        expires = inst["cert_expires_at"]
        renew = expires - timedelta(
            days=self.timers.certificate_days - self.timers.renew_after_days
        )
        return {
            "type": "registration",
            "instance_id": inst["id"],
            "udi": udi_json(udi),
            "certificate": inst["cert_pem"],
            "ca_certificate": self.keys.ca_pem,
            "smart_account": sa_name,
            "virtual_account": va_name,
            "export_controlled_allowed": inst["export_controlled_allowed"],
            "registered_at": iso(inst["registered_at"]),
            "certificate_expires": iso(expires),
            "renew_after": iso(renew),
        }

    # ------------------------------------------------------------ signed requests

    @logs_refusals("instance.identity.refused")
    def renew_id(self, envelope: dict[str, Any]) -> dict[str, Any]:
        now = self.now()
        with self.transaction() as s:
            inst, sa, va, payload = self._open(s, envelope, "renew-id", now)
            csr = require_str(payload, "csr")
            udi = udi_of(inst)
            cert = self.keys.ca.issue(
                csr, not_before=now, days=self.timers.certificate_days, udi=udi
            )
            inst.cert_fingerprint, inst.cert_pem = fingerprint(cert), certificate_pem(cert)
            inst.cert_expires_at, inst.last_contact_at = cert.not_valid_after_utc, now
            self.record(
                s,
                "instance.identity.renewed",
                actor=self._actor(inst),
                smart_account=sa,
                virtual_account=va,
                subject=str(udi),
            )
            body = self._registration_body(
                udi, {c: getattr(inst, c) for c in _BODY_COLUMNS}, sa.name, va
            )
        return self._reply(body, payload)

    @logs_refusals("instance.authorization.refused")
    def authorize(self, envelope: dict[str, Any]) -> dict[str, Any]:
        """The hottest call: one transaction on a Core connection (no ORM session, object,
        load or flush; every statement built once), the signer read as columns, the pools it
        moves judged from the counts it read (``_compliance.judge``)."""
        now = self.now()
        with self.core_transaction() as conn:
            key_id = _key_id(envelope)
            me = _SIGNER_ROW.run(conn, {"key_id": key_id}).first()
            if me is None:
                raise _unknown_identity()
            udi = udi_of(me)
            cert = _cert(me.cert_fingerprint, me.cert_pem, me.cert_expires_at)
            payload = self._check_signed(conn, envelope, key_id, cert, udi, "authorize", now)
            wanted = parse_entitlements(payload.get("entitlements"))
            host = payload.get("hostname")
            va_id = me.virtual_account_id
            applied = apply_usage(conn, me.id, va_id, me.export_controlled_allowed, wanted, now)
            answers = applied.answers
            ok = all(st is EntitlementStatus.AUTHORIZED for _, st in answers)
            status = InstanceStatus.IN_COMPLIANCE if ok else InstanceStatus.OUT_OF_COMPLIANCE
            _TOUCH.run(
                conn,
                {
                    "iid": me.id,
                    "host": host[:255] if isinstance(host, str) else me.hostname,
                    "st": status,
                    "at": now,
                },
            )
            subject = str(udi)
            self.record_now(
                conn,
                "instance.authorization.succeeded"
                if ok
                else "instance.authorization.out_of_compliance",
                actor=device_actor(subject),
                smart_account_id=me.sa_id,
                virtual_account=me.va_name,
                subject=subject,
                entitlements={e.tag: e.count for e, _ in answers},
            )
            judge(conn, now, self.record, WATCH_ACTOR, va_id, applied.pools)
        t = self.timers
        body = {
            "type": "authorization",
            "udi": udi_json(udi),
            "status": (
                EntitlementStatus.AUTHORIZED if ok else EntitlementStatus.OUT_OF_COMPLIANCE
            ).value,
            "entitlements": [
                {"tag": e.tag, "count": e.count, "status": st.value} for e, st in answers
            ],
            "smart_account": me.sa_name,
            "virtual_account": me.va_name,
            "export_controlled_allowed": me.export_controlled_allowed,
            "authorized_at": iso(now),
            "next_communication": iso(now + timedelta(days=t.next_communication_days)),
            "deadline": iso(now + timedelta(days=t.deadline_days)),
        }
        return self._reply(body, payload)

    @logs_refusals("instance.deregistration.refused")
    def deregister(self, envelope: dict[str, Any]) -> dict[str, Any]:
        now = self.now()
        with self.transaction() as s:
            inst, sa, va, payload = self._open(s, envelope, "deregister", now)
            udi = udi_json(udi_of(inst))
            release_all(s, inst)
            s.delete(inst)
            self.guard.forget(inst.cert_fingerprint)
            self.record(
                s,
                "instance.deregistered",
                actor=self._actor(inst),
                smart_account=sa,
                virtual_account=va,
                subject=str(udi_of(inst)),
            )
        return self._reply({"type": "deregistered", "udi": udi}, payload)

    def convert(self, envelope: dict[str, Any]) -> dict[str, Any]:
        """Device-led conversion (``license smart conversion start``): the node-locked license
        files the device sends, each verified as ours and for this device, become smart
        licenses in its virtual account - once each (``conversion.convert_files``)."""
        now = self.now()
        with self.transaction() as s:
            inst, sa, va, payload = self._open(s, envelope, "convert", now)
            udi = udi_of(inst)
            trust = load_certificate(self.keys.ca_pem), udi
            converted = convert_files(s, inst, payload.get("licenses"), trust, self.clock)
            self.record(
                s,
                "instance.converted",
                actor=self._actor(inst),
                smart_account=sa,
                virtual_account=va,
                subject=str(udi_of(inst)),
                serials=[c["serial"] for c in converted],
            )
        body = {"type": "converted", "udi": udi_json(udi), "converted": converted}
        return self._reply(body, payload)

    # ------------------------------------------------------------ helpers

    def _open(
        self, s: Session, envelope: dict[str, Any], kind: str, now: datetime
    ) -> tuple[ProductInstance, SmartAccount, str, dict[str, Any]]:
        """Authenticate a signed request (``_check_signed``). Returns the instance with its
        smart account and virtual account name (one joined SELECT)."""
        key_id = _key_id(envelope)
        row = s.execute(_SIGNER, {"key_id": key_id}).first()
        if row is None:
            raise _unknown_identity()
        inst, sa, va_name = row
        cert = _cert(inst.cert_fingerprint, inst.cert_pem, inst.cert_expires_at)
        udi = udi_of(inst)
        payload = self._check_signed(s, envelope, key_id, cert, udi, kind, now)
        return inst, sa, va_name, payload

    def _check_signed(
        self,
        db: Session | Connection,
        envelope: dict[str, Any],
        key_id: str,
        cert: tuple[str, str, datetime],
        udi: Udi,
        kind: str,
        now: datetime,
    ) -> dict[str, Any]:
        """The checks of a signed request whose signer (``key_id``: its certificate's
        fingerprint, PEM and expiry, its UDI) is known: valid signature, right type, right
        device, certificate in date, fresh timestamp, unseen nonce. Returns the payload."""
        fp, pem, expires = cert
        payload = open_sealed(envelope, self.guard.key(fp, lambda: _cert_key(pem)))
        require_type(payload, kind)
        if parse_udi(payload.get("udi")) != udi:
            raise SignatureInvalid("the request names another device than its signer")
        if now > expires:
            raise SignatureInvalid("the identity certificate has expired", code="cert-expired")
        self.guard.check(db, key_id, payload, now)
        return payload

    @staticmethod
    def _actor(inst: ProductInstance) -> str:
        return device_actor(udi_of(inst))

    def _reply(self, body: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
        body.update(
            timestamp=timestamp_ms(self.now()),
            nonce=make_nonce(),
            request_nonce=request.get("nonce"),
        )
        return seal(body, self.keys.signer, with_certificate=True)


def _instance_row(
    request: dict[str, Any], udi: Udi, cert: x509.Certificate, now: datetime
) -> dict[str, Any]:
    """A new instance's columns, but its account and token's (``register`` adds them)."""
    return {
        "id": new_id(),
        "udi_pid": udi.pid,
        "udi_sn": udi.sn,
        "hostname": request.get("hostname", ""),
        "software_tag": request.get("software_tag", ""),
        "registered_at": now,
        "last_contact_at": now,
        "status": InstanceStatus.IN_COMPLIANCE,
        "cert_fingerprint": fingerprint(cert),
        "cert_pem": certificate_pem(cert),
        "cert_expires_at": cert.not_valid_after_utc,
    }


def _cert(fp: str | None, pem: str | None, expires: datetime | None) -> tuple[str, str, datetime]:
    """(fingerprint, PEM, expiry) of a classic instance's identity certificate."""
    if fp is None or pem is None or expires is None:
        raise SignatureInvalid("this product instance has no identity certificate")
    return fp, pem, expires


def _key_id(envelope: Any) -> str:
    if not isinstance(envelope, dict):
        raise InvalidInput("request must be a signed envelope object")
    return envelope_key_id(envelope)


def _unknown_identity() -> SignatureInvalid:
    return SignatureInvalid(
        "no product instance holds this identity certificate", code="unknown-identity"
    )


def _cert_key(pem: str) -> Ed25519PublicKey:
    key = load_certificate(pem).public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise SignatureInvalid("identity certificate key is not Ed25519")
    return key


__all__ = ["AuthorityTimers", "SqlDeviceService"]
