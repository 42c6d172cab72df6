"""Signed authority documents for policy mode (docs/usage-protocol.md): each section of an
ACK, policy, trust-code or authorization-code file is an envelope signed by the authority."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from smartlic.authority.keys import AuthorityKeys
from smartlic.crypto import Udi
from smartlic.domain.policy import CISCO_DEFAULT
from smartlic.domain.policy import Policy as PolicyDoc
from smartlic.formats.device_v1 import udi_json
from smartlic.formats.envelope import iso, make_nonce, seal
from smartlic.formats.slp import write_file
from smartlic.storage.models import Policy, ProductInstance, SmartAccount, VirtualAccount

TRUST_CODE_YEARS = 8  # real trust codes are valid about eight years (domain-notes 2.4)


class _HasUdi(Protocol):
    @property
    def udi_pid(self) -> str: ...
    @property
    def udi_sn(self) -> str: ...


def udi_of(inst: _HasUdi) -> Udi:
    """The UDI of a product instance or reservation (an ORM object or a row of its columns):
    the one place its two columns become a ``Udi``, whose ``str`` (``PID:x,SN:y``) and
    ``formats.device_v1.udi_json`` / ``formats.rum.sudi_json`` are its wire forms."""
    return Udi(inst.udi_pid, inst.udi_sn)


def policy_in_force(sa_id: Any, va_id: Any) -> Select[tuple[dict[str, Any]]]:
    """The document of the policy in force for a virtual account (``va_id``, in smart account
    ``sa_id``: values, bound parameters or columns to correlate with): its own, else its smart
    account's; no row for the built-in Cisco default ("Only one policy is in use at a given
    point in time")."""
    return (
        select(Policy.document)
        .where(Policy.smart_account_id == sa_id, Policy.active.is_(True))
        .where((Policy.virtual_account_id == va_id) | Policy.virtual_account_id.is_(None))
        .order_by(Policy.virtual_account_id.is_(None), Policy.created_at.desc())
        .limit(1)
    )


_IN_FORCE = policy_in_force(bindparam("sa_id"), bindparam("va_id"))  # built once


def policy_for(s: Session, va: VirtualAccount) -> PolicyDoc:
    """The policy in force for a virtual account (``policy_in_force``), or the default."""
    return policy_doc(s.scalar(_IN_FORCE, {"sa_id": va.smart_account_id, "va_id": va.id}))


def policy_doc(document: dict[str, Any] | None) -> PolicyDoc:
    """A document ``policy_in_force`` found (None: none) as the policy in force."""
    return PolicyDoc.from_json(document) if document is not None else CISCO_DEFAULT


class FileSigner:
    def __init__(self, keys: AuthorityKeys) -> None:
        self.keys = keys

    def section(self, payload: dict[str, Any], now: datetime) -> dict[str, Any]:
        body = {**payload, "issued_at": iso(now), "nonce": make_nonce()}
        return seal(body, self.keys.signer, with_certificate=True)

    def common(
        self,
        inst: ProductInstance,
        sa: SmartAccount,
        va: VirtualAccount,
        policy: PolicyDoc,
        now: datetime,
        *,
        trust: bool,
    ) -> list[tuple[str, dict[str, Any]]]:
        """Policy and account information, plus the trust code when ``trust``."""
        udi = udi_json(udi_of(inst))
        out = [
            (
                "smartLicensePolicy",
                self.section({"type": "policy", "udi": udi, "policy": policy.to_json()}, now),
            ),
            (
                "smartLicenseAccountInfo",
                self.section(
                    {
                        "type": "account-info",
                        "udi": udi,
                        "smart_account": sa.name,
                        "virtual_account": va.name,
                    },
                    now,
                ),
            ),
        ]
        if trust:
            out.append(
                (
                    "smartLicenseTrustCode",
                    self.section(
                        {
                            "type": "trust-code",
                            "udi": udi,
                            "key_id": inst.trust_key_id,
                            "public_key": inst.trust_public_key,
                            "smart_account": sa.name,
                            "virtual_account": va.name,
                            "expires_at": iso(now + timedelta(days=365 * TRUST_CODE_YEARS)),
                        },
                        now,
                    ),
                )
            )
        return out

    def ack(
        self,
        inst: ProductInstance,
        sa: SmartAccount,
        va: VirtualAccount,
        policy: PolicyDoc,
        acknowledged: list[int],
        rejected: list[dict[str, Any]],
        now: datetime,
        *,
        trust: bool,
    ) -> list[tuple[str, dict[str, Any]]]:
        udi = udi_json(udi_of(inst))
        ack = self.section(
            {
                "type": "rum-ack",
                "udi": udi,
                "acknowledged": acknowledged,
                "rejected": rejected,
                "smart_account": sa.name,
                "virtual_account": va.name,
            },
            now,
        )
        return [("smartLicenseRumAck", ack), *self.common(inst, sa, va, policy, now, trust=trust)]


def file_bytes(sections: list[tuple[str, dict[str, Any]]]) -> bytes:
    return write_file(sections)
