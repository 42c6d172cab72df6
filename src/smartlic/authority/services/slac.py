"""Smart Licensing Authorization Codes (SLAC) for enforced and export-controlled licenses.

A request deducts from the pool (the count is held as ``reserved``) and is refused when the
pool cannot cover it or when export-controlled use is not allowed for the device; a return
frees it. Requests are signed by the device's trust key; returns carry a return code the
device signed (docs/usage-protocol.md).
"""

from __future__ import annotations

import base64
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from smartlic.authority.services import _pool, ownership
from smartlic.authority.services._base import SigningServiceBase, device_actor, logs_refusals
from smartlic.authority.services._files import file_bytes, policy_for, udi_of
from smartlic.authority.services._usage import lock_instances, outstanding_codes
from smartlic.authority.services.interfaces import AuthorizationCodeOut
from smartlic.authority.services.reporting import touch_collector
from smartlic.authority.services.scope import (
    AccountScope,
    Principal,
    poll_owner,
    scope_in,
    system,
)
from smartlic.crypto import Udi, verify_bytes
from smartlic.domain.enums import Enforcement, InstanceStatus, Role
from smartlic.errors import (
    Forbidden,
    InvalidInput,
    NotFound,
    SignatureInvalid,
    SmartlicError,
    UnknownTag,
)
from smartlic.formats.device_api import data_of, echo_nonce, ok_poll
from smartlic.formats.device_v1 import Entitlement, parse_entitlements, parse_udi, udi_json
from smartlic.formats.envelope import read_payload
from smartlic.formats.rum import parse_sudi, public_key_b64, sudi_json
from smartlic.formats.signed import open_carried
from smartlic.formats.slp import parse_return_code, read_file
from smartlic.storage.models import (
    AuthorizationCode,
    License,
    PollTask,
    ProductInstance,
    VirtualAccount,
)


@dataclass(frozen=True)
class IssuedCode:
    code_id: str
    file: bytes
    instance_id: str | None = None  # the product instance the code is for


def _answer(
    sudi: Any,
    code: IssuedCode | None = None,
    *,
    message: str | None = None,
    failed: SmartlicError | None = None,
    instance_id: str | None = None,
    correlation_id: str | None = None,
) -> dict[str, Any]:
    """One item of ``data.authorizations`` in the vendor's shape: a code issued, a return
    made (``message``), or a refusal (``failed``); ``product_instance_identifier`` and
    ``correlation_id`` (the code's id) name what was issued or returned."""
    return {
        "sudi": sudi,
        "smart_license": base64.b64encode(code.file).decode() if code else None,
        "status": "FAILED" if failed else "SUCCESS",
        "status_message": failed.detail if failed else message,
        "error_code": failed.code if failed else None,
        "product_instance_identifier": code.instance_id if code else instance_id,
        "correlation_id": code.code_id if code else correlation_id,
    }


def return_message(code_id: bytes, udi: Udi) -> bytes:
    """What a device signs to return a code."""
    return b"return:" + code_id + str(udi).encode()


_ACTING_FOR_DEVICES = (
    "data.licenses is for an authenticated caller acting for devices of a virtual account: "
    "send credentials and X-CSW-VIRTUAL-ACCOUNT-ID (or data.license_pool_id)"
)


class SqlAuthorizationService(SigningServiceBase):
    # ------------------------------------------------------------ online (vendor API)

    def authrequest(
        self,
        body: dict[str, Any],
        principal: Principal | None = None,
        virtual_account: str | None = None,
    ) -> dict[str, Any]:
        """``POST .../v2/devices/authrequest``: requests and returns; answers ``OK_POLL``."""
        data = data_of(body)
        now = self.now()
        items: list[dict[str, Any]] = []
        licenses = _list(data.get("licenses"))
        acting_for = None  # checked first: a refusal must leave nothing done
        if licenses:
            acting_for = self._acting_for_devices(data, principal, virtual_account, now)
        for env in _list(data.get("requests")):
            items.append(self._one_online(env, principal, virtual_account, now))
        for ret in _list(data.get("returns")):
            items.append(self._one_return(ret, principal))
        for item in licenses:
            items.append(self._one_for_device(item, principal, acting_for))
        if not items:
            raise InvalidInput("nothing to do: give requests or returns", pointer="/data")
        with self.transaction() as s:
            done = (i["product_instance_identifier"] for i in items if i["status"] == "SUCCESS")
            touch_collector(s, principal, done, now)  # a collector forwarding for devices
            owner = poll_owner(principal)
            task = PollTask(
                id=secrets.randbits(62) or 1,
                action="authorizations",
                owner=owner,
                created_at=now,
                ready_at=now,
                result={"authorizations": items},
            )
            s.add(task)
        return ok_poll(task.id, "authorizations", now, nonce=echo_nonce(data))

    def _one_online(
        self, env: Any, principal: Principal | None, va: str | None, now: datetime
    ) -> dict[str, Any]:
        try:
            # A device asking directly must be fresh; a collector (an API key) may forward a
            # request signed long ago, while it was cut off: its nonce still counts once.
            issued = self.request(
                env, principal=principal, virtual_account=va, fresh=principal is None
            )
            return _answer(_sudi_of(env), issued)
        except SmartlicError as exc:
            return _answer(_sudi_of(env), failed=exc)

    def _acting_for_devices(
        self, data: dict[str, Any], principal: Principal | None, va: str | None, now: datetime
    ) -> str:
        """``data.licenses`` (the vendor's form): an authenticated user acts for devices of
        the virtual account its headers (or ``data.license_pool_id``) name, and may change
        it; the nonce counts once. Returns that virtual account's name."""
        if principal is None or principal.smart_account is None:
            raise Forbidden(_ACTING_FOR_DEVICES)
        allowed = scope_in(principal, principal.smart_account)
        va = self._license_pool(data, allowed, va)
        if va is None:
            raise Forbidden(_ACTING_FOR_DEVICES)
        allowed.require_write(va)
        with self.transaction() as s:
            self.guard.once(s, f"authrequest:{principal.label()}", data, now)
        return va

    def _license_pool(
        self, data: dict[str, Any], allowed: AccountScope, va: str | None
    ) -> str | None:
        """The virtual account ``data.license_pool_id`` names (the vendor's: its numeric id
        from ``v2/accounts/search``, or its name, as the headers take it), or ``va`` (the
        headers') without one; refused when the two differ. A pool the caller cannot read is
        not found, whether it exists or not."""
        pool = data.get("license_pool_id")
        if pool is None or pool == "":
            return va
        if isinstance(pool, bool) or not isinstance(pool, int | str):
            raise InvalidInput(
                "license_pool_id is a virtual account's id", pointer="/data/license_pool_id"
            )
        ref = str(pool).strip()
        unseen = NotFound(f"no virtual account {ref} in {allowed.domain!r}")
        with self.transaction() as s:
            sa = self.smart_account(s, allowed.domain)
            try:
                named = self.virtual_account_by_ref(s, sa, ref).name
            except NotFound:  # one answer for both: a name's own refusal quoted it
                raise unseen from None
        if not allowed.can_read(named):
            raise unseen
        if va is not None and named != va:
            raise InvalidInput(
                f"license_pool_id names virtual account {named!r} but "
                f"X-CSW-VIRTUAL-ACCOUNT-ID names {va!r}",
                pointer="/data/license_pool_id",
            )
        return named

    def _one_for_device(
        self, item: Any, principal: Principal | None, va: str | None
    ) -> dict[str, Any]:
        assert principal is not None and principal.smart_account is not None and va is not None
        sudi = item.get("sudi") if isinstance(item, dict) else None
        try:
            if not isinstance(item, dict):
                raise InvalidInput("each license request is an object", pointer="/data/licenses")
            keys = _list(item.get("keys"))
            if not keys and isinstance(item.get("remove_code"), str):
                return self._one_return(item, principal)
            wanted = parse_entitlements(
                [{"tag": k.get("entitlement"), "count": k.get("count")} for k in keys]
                if all(isinstance(k, dict) for k in keys)
                else keys
            )
            issued = self.request_for_device(
                principal.smart_account, va, parse_sudi(sudi, "/data/licenses/sudi"),
                wanted, scope=principal,
            )  # fmt: skip
            return _answer(sudi, issued)
        except SmartlicError as exc:
            return _answer(sudi, failed=exc)

    @logs_refusals("license.authorization.refused")
    def request_for_device(
        self,
        domain: str,
        virtual_account: str,
        udi: Udi,
        wanted: list[Entitlement],
        *,
        scope: Principal,
    ) -> IssuedCode:
        """An authorization code for a device of ``virtual_account``, asked by a caller who
        may change it (no device signature: the caller answers for the request). The device
        must already be known there (it reported usage or asked for trust)."""
        allowed = scope_in(scope, domain)
        allowed.require_write(virtual_account)
        wanted = [e for e in wanted if e.count > 0]
        if not wanted:
            raise InvalidInput("ask for at least one license", pointer="/data/licenses/keys")
        now = self.now()
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            va = self.virtual_account(s, sa, virtual_account)
            inst = ownership.find_instance(s, udi)
            if inst is None or inst.virtual_account_id != va.id:
                raise NotFound(f"no device {udi} in virtual account {virtual_account!r}")
            self._lock_pools(s, inst, wanted, replacing=False)
            code_id = str(uuid.uuid4())
            lines = [self._reserve(s, inst, e, code_id, now) for e in wanted]
            s.flush()
            return IssuedCode(code_id, self._code_file(s, inst, code_id, lines, now), inst.id)

    def _one_return(self, ret: Any, principal: Principal | None) -> dict[str, Any]:
        sudi = ret.get("sudi") if isinstance(ret, dict) else None
        try:
            code = ret.get("remove_code") if isinstance(ret, dict) else None
            if not isinstance(code, str):
                raise InvalidInput("remove_code is required", pointer="/data/returns")
            domain = principal.smart_account if principal else None
            # the device's signature on the return code is the proof of ownership
            actor = system(principal.label() if principal else "device")
            returned = self.return_code(code, domain=domain, scope=actor)
            return _answer(
                sudi,
                message="returned",
                instance_id=returned[0].instance_id,
                correlation_id=returned[0].id,
            )
        except SmartlicError as exc:
            return _answer(sudi, failed=exc)

    # ------------------------------------------------------------ requests

    @logs_refusals("license.authorization.refused")
    def request(
        self,
        envelope: Any,
        *,
        principal: Principal | None = None,
        virtual_account: str | None = None,
        fresh: bool = True,
    ) -> IssuedCode:
        key_id, key, payload = open_carried(envelope, "authorization-request")
        udi = parse_udi(payload.get("udi"))
        wanted = [e for e in parse_entitlements(payload.get("entitlements")) if e.count > 0]
        if not wanted:
            raise InvalidInput("ask for at least one license", pointer="/entitlements")
        mode = payload.get("mode", "add")
        if mode not in ("add", "replace"):
            raise InvalidInput("mode is add or replace", pointer="/mode")
        now = self.now()
        with self.transaction() as s:
            if fresh:
                self.guard.check(s, key_id, payload, now)
            else:
                self.guard.once(s, key_id, payload, now)
            inst = self._instance(s, udi, key_id, key, payload, principal, virtual_account, now)
            self._lock_pools(s, inst, wanted, replacing=mode == "replace")
            if mode == "replace":
                self._return_all(s, inst, now)
            code_id = str(uuid.uuid4())
            lines = [self._reserve(s, inst, e, code_id, now) for e in wanted]
            s.flush()
            return IssuedCode(code_id, self._code_file(s, inst, code_id, lines, now), inst.id)

    def request_file(
        self, domain: str, virtual_account: str, *, content: bytes, scope: Principal
    ) -> bytes:
        """Offline: a request file saved on the device and uploaded by an account user."""
        scope_in(scope, domain).require_write(virtual_account)
        actor = scope.label()
        requests = [env for name, env in read_file(content) if name == "smartLicenseAuthRequest"]
        if len(requests) != 1:
            raise InvalidInput("the file must hold one authorization request", code="bad-file")
        principal = Principal(actor, Role.VIRTUAL_ACCOUNT_ADMIN, domain, virtual_account)
        return self.request(
            requests[0], principal=principal, virtual_account=virtual_account, fresh=False
        ).file

    def _instance(
        self,
        s: Session,
        udi: Udi,
        key_id: str,
        key: Any,
        payload: dict[str, Any],
        principal: Principal | None,
        va_name: str | None,
        now: datetime,
    ) -> ProductInstance:
        inst = ownership.find_instance(s, udi)
        if inst is not None and ownership.require_pinned(inst, key_id):
            return inst
        if principal is None or principal.smart_account is None or va_name is None:
            raise Forbidden("the device has no trust code; establish trust first")
        sa = self.smart_account(s, principal.smart_account)
        va = self.virtual_account(s, sa, va_name)
        if inst is not None:  # ownership rule 3: a channel keys only new devices of its own
            ownership.require_unkeyed_in(s, inst, va)
        found = inst
        return ownership.pin_key(
            s,
            lambda: (
                found
                or ProductInstance(
                    virtual_account_id=va.id,
                    udi_pid=udi.pid,
                    udi_sn=udi.sn,
                    hostname=str(payload.get("hostname", ""))[:255],
                    registered_at=now,
                    status=InstanceStatus.IN_COMPLIANCE,
                    export_controlled_allowed=sa.export_controlled_allowed,
                )
            ),
            key_id,
            public_key_b64(key),
            now,
        )

    def _reserve(
        self, s: Session, inst: ProductInstance, e: Entitlement, code_id: str, now: datetime
    ) -> tuple[AuthorizationCode, str]:
        lic = s.scalar(select(License).where(License.tag == e.tag))
        if lic is None:
            raise UnknownTag(f"no license with tag {e.tag!r}", pointer="/entitlements")
        if lic.enforcement is Enforcement.UNENFORCED:
            raise InvalidInput(
                f"{lic.name} is not enforced and needs no authorization code", code="not-enforced"
            )
        if lic.enforcement is Enforcement.EXPORT_CONTROLLED and not inst.export_controlled_allowed:
            raise Forbidden(
                f"export-controlled use of {lic.name} is not allowed for this device",
                code="export-not-allowed",
            )
        va_id = inst.virtual_account_id
        _pool.hold(s, va_id, lic, e.count, now)
        row = AuthorizationCode(
            code_id=code_id,
            instance_id=inst.id,
            virtual_account_id=va_id,
            license_id=lic.id,
            count=e.count,
            confirmation_code=secrets.token_hex(4),
            issued_at=now,
            document="",
        )
        s.add(row)
        return row, lic.tag

    def _code_file(
        self,
        s: Session,
        inst: ProductInstance,
        code_id: str,
        lines: list[tuple[AuthorizationCode, str]],
        now: datetime,
    ) -> bytes:
        va = s.get_one(VirtualAccount, inst.virtual_account_id)
        udi = udi_json(udi_of(inst))
        env = self.files.section(
            {
                "type": "authorization-code",
                "udi": udi,
                "code_id": code_id,
                "entitlements": [{"tag": tag, "count": r.count} for r, tag in lines],
                "confirmation_code": lines[0][0].confirmation_code,
            },
            now,
        )
        sections = [
            ("smartLicenseAuthorization", env),
            *self.files.common(inst, va.smart_account, va, policy_for(s, va), now, trust=True),
        ]
        data = file_bytes(sections)
        for r, _ in lines:
            r.document = data.decode()
        self.record(
            s,
            "license.authorization.issued",
            actor=device_actor(udi_of(inst)),
            smart_account=va.smart_account,
            virtual_account=va.name,
            subject=str(udi_of(inst)),
            code=code_id,
            entitlements={tag: r.count for r, tag in lines},
        )
        return data

    # ------------------------------------------------------------ returns

    @logs_refusals("license.authorization.return_refused")
    def return_code(
        self, code: str, *, domain: str | None, scope: Principal
    ) -> list[AuthorizationCodeOut]:
        """Free the licenses of a return code. ``domain`` (when given) and ``scope`` must
        cover the code's virtual account: otherwise it is not found, or read-only."""
        if domain is not None:
            scope_in(scope, domain)  # another tenant is refused before the code is read
        code_bytes, signature = parse_return_code(code)
        code_id = str(uuid.UUID(bytes=code_bytes))
        now = self.now()
        outstanding = (
            AuthorizationCode.code_id == code_id,
            AuthorizationCode.returned_at.is_(None),
        )
        with self.transaction() as s:
            # its device's row locked first, then the code read (``_usage.lock_instances``):
            # read before, a transfer committing in between had moved it to another pool, or
            # a return of the same code had freed it already; either was freed again here
            device = select(AuthorizationCode.instance_id).where(*outstanding).limit(1)
            inst = next(iter(lock_instances(s, s.scalars(device))), None)
            rows = list(s.scalars(select(AuthorizationCode).where(*outstanding)))
            if inst is None or not rows:
                raise NotFound("no authorization code is outstanding for this return code")
            va = s.get_one(VirtualAccount, inst.virtual_account_id)
            if domain is not None and va.smart_account.domain != domain:
                raise NotFound("no authorization code is outstanding for this return code")
            allowed = self._scope_or_hidden(scope, va)
            allowed.require_write(va.name)
            self._verify_return(inst, code_bytes, signature)
            self._free_all(s, rows, now)
            self.record(
                s,
                "license.authorization.returned",
                actor=scope.label(),
                smart_account=va.smart_account,
                virtual_account=va.name,
                subject=str(udi_of(inst)),
                code=code_id,
            )
            return [self._out(s, r, inst, va.name) for r in rows]

    def list_codes(
        self, domain: str, *, include_returned: bool = False, scope: Principal
    ) -> list[AuthorizationCodeOut]:
        visible = scope_in(scope, domain)
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            q = (
                select(AuthorizationCode, ProductInstance, VirtualAccount)
                .join(ProductInstance, ProductInstance.id == AuthorizationCode.instance_id)
                .join(VirtualAccount, VirtualAccount.id == AuthorizationCode.virtual_account_id)
                .where(VirtualAccount.smart_account_id == sa.id, visible.where(VirtualAccount.name))
            )
            if not include_returned:
                q = q.where(AuthorizationCode.returned_at.is_(None))
            return [
                self._out(s, r, inst, va.name)
                for r, inst, va in s.execute(q.order_by(AuthorizationCode.issued_at))
            ]

    @staticmethod
    def _scope_or_hidden(scope: Principal, va: VirtualAccount) -> AccountScope:
        """The scope in the code's account; a code the caller cannot see is not found."""
        hidden = NotFound("no authorization code is outstanding for this return code")
        try:
            allowed = scope_in(scope, va.smart_account.domain)
        except Forbidden as exc:
            raise hidden from exc
        if not allowed.can_read(va.name):
            raise hidden
        return allowed

    @staticmethod
    def _verify_return(inst: ProductInstance, code_id: bytes, signature: bytes) -> None:
        if inst.trust_public_key is None:
            raise SignatureInvalid("the device has no trust code to check the return code with")
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(inst.trust_public_key))
        verify_bytes(
            key, return_message(code_id, udi_of(inst)), base64.b64encode(signature).decode()
        )

    def _return_all(self, s: Session, inst: ProductInstance, now: datetime) -> None:
        self._free_all(s, outstanding_codes(s, inst), now)

    @staticmethod
    def _lock_pools(
        s: Session, inst: ProductInstance, wanted: list[Entitlement], *, replacing: bool
    ) -> None:
        """The counters a request changes (what it holds; with ``replacing``, what the
        device's outstanding codes free), locked first in one order (``_pool.lock_counters``):
        two requests naming the same licenses in another order cannot deadlock."""
        tags = sorted({e.tag for e in wanted})
        lids = s.scalars(select(License.id).where(License.tag.in_(tags)))
        pools = [(inst.virtual_account_id, lid) for lid in lids]
        if replacing:
            pools += [(r.virtual_account_id, r.license_id) for r in outstanding_codes(s, inst)]
        _pool.lock_counters(s, pools)

    @staticmethod
    def _free_all(s: Session, rows: list[AuthorizationCode], now: datetime) -> None:
        _pool.lock_counters(s, ((r.virtual_account_id, r.license_id) for r in rows))
        for r in rows:
            r.returned_at = now
            _pool.unhold(s, r.virtual_account_id, r.license_id, r.count)

    @staticmethod
    def _out(
        s: Session, r: AuthorizationCode, inst: ProductInstance, va: str
    ) -> AuthorizationCodeOut:
        tag = s.get_one(License, r.license_id).tag
        return AuthorizationCodeOut(
            id=r.code_id,
            udi=str(udi_of(inst)),
            instance_id=inst.id,
            virtual_account=va,
            tag=tag,
            count=r.count,
            confirmation_code=r.confirmation_code,
            issued_at=r.issued_at,
            returned_at=r.returned_at,
        )


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput("expected a list", pointer="/data")
    return value


def _sudi_of(env: Any) -> dict[str, str]:
    if not isinstance(env, dict):  # refused as no envelope: names no device
        return {}
    try:
        udi = parse_udi(read_payload(env).get("udi"))
        return sudi_json(udi)
    except SmartlicError:
        return {}
