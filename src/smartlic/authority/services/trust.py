"""Trust establishment (``license smart trust idtoken <token> {local|all} [force]``): bind a
device's report-signing key to its UDI in the token's virtual account."""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy.orm import Session

from smartlic.authority.services import ownership
from smartlic.authority.services._base import SigningServiceBase, device_actor, logs_refusals
from smartlic.authority.services._files import file_bytes, policy_for
from smartlic.authority.services._usage import release_all
from smartlic.authority.services.tokens import ConsumedToken, consume_token
from smartlic.crypto import Udi
from smartlic.domain.enums import InstanceStatus
from smartlic.errors import AlreadyRegistered
from smartlic.formats.device_v1 import parse_udi, require_str
from smartlic.formats.signed import open_carried
from smartlic.storage.models import ProductInstance


class SqlTrustService(SigningServiceBase):
    @logs_refusals("instance.trust.refused")
    def establish(self, envelope: dict[str, Any]) -> dict[str, Any]:
        key_id, _key, payload = open_carried(envelope, "trust-request")
        udi = parse_udi(payload.get("udi"))
        token = require_str(payload, "token", max_len=255)
        force = payload.get("force") is True
        now = self.now()
        with self.transaction() as s:
            self.guard.check(s, key_id, payload, now)
            consumed = consume_token(s, token, now)
            inst = self._instance(s, udi, consumed, payload, force=force, key_id=key_id)
            inst = ownership.pin_key(
                s, lambda: inst, key_id, require_str(payload, "public_key", max_len=100), now
            )
            inst.last_contact_at = now
            inst.export_controlled_allowed = consumed.token.export_controlled_allowed
            s.flush()
            va = consumed.virtual_account
            self.record(
                s,
                "instance.trust.established",
                actor=device_actor(udi),
                smart_account=consumed.smart_account,
                virtual_account=va.name,
                subject=str(udi),
                token=consumed.token.id,
                force=force,
            )
            sections = self.files.common(
                inst, consumed.smart_account, va, policy_for(s, va), now, trust=True
            )
        return {
            "status": "SUCCESS",
            "ca_certificate": self.files.keys.ca_pem,  # the device checks it against the pin
            "smart_license": base64.b64encode(file_bytes(sections)).decode(),
        }

    def _instance(
        self,
        s: Session,
        udi: Udi,
        consumed: ConsumedToken,
        payload: dict[str, Any],
        *,
        force: bool,
        key_id: str,
    ) -> ProductInstance:
        inst = ownership.find_instance(s, udi)
        if inst is None:
            return ProductInstance(
                virtual_account_id=consumed.virtual_account.id,
                udi_pid=udi.pid,
                udi_sn=udi.sn,
                hostname=str(payload.get("hostname", ""))[:255],
                software_tag=str(payload.get("software_tag", ""))[:255],
                registered_at=self.now(),
                status=InstanceStatus.IN_COMPLIANCE,
            )
        established = inst.trust_key_id not in (None, key_id)
        moving = inst.virtual_account_id != consumed.virtual_account.id
        if (established or moving) and not force:
            raise AlreadyRegistered(f"trust is already established for {udi}; use force")
        if established or moving:
            # ownership rule 2: the request signed by the pinned trust key proves it; else the
            # token must be of the smart account that holds the device
            ownership.require_owner(
                s, inst, consumed.smart_account, proven=inst.trust_key_id == key_id
            )
        if moving:
            ownership.record_move(self, s, inst, consumed.smart_account)
            release_all(s, inst)
            inst.virtual_account_id = consumed.virtual_account.id
        return inst
