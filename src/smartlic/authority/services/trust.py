"""Trust establishment (``license smart trust idtoken <token> {local|all} [force]``): bind a
device's report-signing key to its UDI in the token's virtual account."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.orm import Session

from smartlic.authority.services import ownership
from smartlic.authority.services._base import SigningServiceBase, logs_refusals
from smartlic.authority.services._files import file_bytes, policy_for
from smartlic.authority.services._usage import release_all
from smartlic.authority.services.tokens import ConsumedToken, consume_token
from smartlic.crypto import Udi
from smartlic.domain.enums import InstanceStatus
from smartlic.errors import AlreadyRegistered, InvalidInput, SignatureInvalid
from smartlic.formats.device_v1 import parse_udi, require_str, require_type
from smartlic.formats.envelope import envelope_key_id, open_sealed, read_payload
from smartlic.formats.rum import key_id_of
from smartlic.storage.models import ProductInstance


def trust_key(payload: dict[str, Any]) -> Ed25519PublicKey:
    """The raw Ed25519 public key a device request carries (base64)."""
    text = require_str(payload, "public_key", max_len=100)
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except (ValueError, binascii.Error) as exc:
        raise InvalidInput("public_key is not a base64 Ed25519 key", pointer="/public_key") from exc


def open_device_request(
    envelope: dict[str, Any], kind: str
) -> tuple[str, Ed25519PublicKey, dict[str, Any]]:
    """Verify a request signed with the key it carries: (key id, key, payload)."""
    if not isinstance(envelope, dict):
        raise InvalidInput("request must be a signed envelope object")
    claimed = read_payload(envelope)
    key = trust_key(claimed)
    key_id = key_id_of(key)
    if envelope_key_id(envelope) != key_id:
        raise SignatureInvalid("the envelope key_id is not the key the request carries")
    payload = open_sealed(envelope, key)
    require_type(payload, kind)
    return key_id, key, payload


class SqlTrustService(SigningServiceBase):
    @logs_refusals("instance.trust.refused")
    def establish(self, envelope: dict[str, Any]) -> dict[str, Any]:
        key_id, _key, payload = open_device_request(envelope, "trust-request")
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
                actor=f"device:{udi}",
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
