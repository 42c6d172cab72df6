"""Authority files in policy mode: verify every section, then apply it to the state.

Verification (docs/usage-protocol.md, "Keys and trust"), all sections before any is applied,
so a file is installed whole or not at all:

1. the section's ``certificate`` chains to the authority CA the device was provisioned with;
2. the signature over the exact payload string verifies with that certificate's key;
3. the payload ``type`` is the one its section names, and its ``udi`` is this device - an ACK
   meant for another device is refused with that reason.

Applying is pure (state in, history/event-log lines out); the caller holds the lock and saves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from smartlic.agent import _rum
from smartlic.agent._policy_state import (
    AccountRecord,
    AuthCodeRecord,
    PolicyState,
    TrustRecord,
)
from smartlic.crypto import Udi, load_certificate, verify_certificate
from smartlic.domain.policy import Policy
from smartlic.errors import InvalidInput, SignatureInvalid
from smartlic.formats.device_v1 import parse_udi
from smartlic.formats.envelope import compact_json, open_sealed, parse_iso
from smartlic.formats.slp import SECTIONS, read_file

__all__ = ["IMPORT_TYPES", "Applied", "apply_sections", "verify_file"]

# Section -> the "Import <TYPE>" line of ``show license history message`` (domain-notes 2.6).
IMPORT_TYPES = {
    "smartLicenseRumAck": "RUM ACK",
    "smartLicensePolicy": "POLICY",
    "smartLicenseTrustCode": "TRUST CODE",
    "smartLicenseAccountInfo": "ACCOUNT INFO",
    "smartLicenseAuthorization": "AUTH",
}


def verify_file(
    data: bytes, ca: x509.Certificate | None, udi: Udi, now: datetime
) -> list[tuple[str, dict[str, Any]]]:
    """The verified (section, payload) pairs of an authority file; raises on the first problem."""
    if ca is None:
        raise SignatureInvalid(
            "no authority CA is provisioned: set authority_ca before importing authority files",
            code="no-authority-ca",
        )
    sections = read_file(data)
    if not sections:
        raise InvalidInput("the file holds no smart licensing data", code="bad-file")
    return [(name, _verified(name, env, ca, udi, now)) for name, env in sections]


def _verified(
    name: str, env: Mapping[str, Any], ca: x509.Certificate, udi: Udi, now: datetime
) -> dict[str, Any]:
    if name not in IMPORT_TYPES:
        raise InvalidInput(f"<{name}> is not something a device imports", code="bad-file")
    pem = env.get("certificate")
    if not isinstance(pem, str):
        raise SignatureInvalid(f"<{name}> carries no signing certificate")
    try:
        cert = load_certificate(pem)
    except InvalidInput as exc:
        raise SignatureInvalid(f"<{name}>: unreadable certificate") from exc
    verify_certificate(cert, ca, at=now)
    key = cert.public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise SignatureInvalid("the authority's signing key is not Ed25519")
    payload = open_sealed(env, key)
    if payload.get("type") != SECTIONS[name]:
        raise SignatureInvalid(f"<{name}> holds a {payload.get('type')!r} payload")
    target = parse_udi(payload.get("udi"))
    if target != udi:
        raise SignatureInvalid(
            f"this file is meant for another device ({target}), not {udi}", code="wrong-device"
        )
    return payload


@dataclass
class Applied:
    """What an import or an online answer installed: history lines and event-log lines."""

    imports: list[tuple[str, str]] = field(default_factory=list)  # (type, text)
    log: list[tuple[str, str]] = field(default_factory=list)  # (kind, text)
    acknowledged: int = 0


def apply_sections(
    ps: PolicyState, sections: list[tuple[str, dict[str, Any]]], trust_key_id: str, now: datetime
) -> Applied:
    _prevalidate(sections, trust_key_id)
    out = Applied()
    for name, payload in sections:
        _APPLY[name](ps, payload, trust_key_id, now, out)
        out.imports.append((IMPORT_TYPES[name], _summary(name, payload)))
    return out


def _prevalidate(sections: list[tuple[str, dict[str, Any]]], trust_key_id: str) -> None:
    """Refuse what would fail half-way, before anything is applied."""
    for name, payload in sections:
        if name == "smartLicenseTrustCode" and payload.get("key_id") != trust_key_id:
            raise SignatureInvalid("the trust code is for another trust key than this device's")
        if name == "smartLicensePolicy":
            Policy.from_json(payload.get("policy"))


def _ack(ps: PolicyState, p: dict[str, Any], _k: str, now: datetime, out: Applied) -> None:
    ids = [i for i in p.get("acknowledged") or [] if isinstance(i, int)]
    out.acknowledged = _rum.acknowledge(ps, ids, now)
    for item in p.get("rejected") or []:
        if isinstance(item, Mapping):
            _reject(ps, item.get("report_id"), str(item.get("reason", "rejected")))
    ps.last_ack = now
    _account(ps, p, now)
    out.log.append(
        ("SAEVT_RUM_ACK", f"%SMART_LIC-6-RUM_ACK_RECEIVED: {len(ids)} reports acknowledged")
    )


def _reject(ps: PolicyState, report_id: Any, reason: str) -> None:
    for r in ps.reports:
        if r.report_id == report_id:
            r.reason = f"REJECTED: {reason}"[:200]


def _policy(ps: PolicyState, p: dict[str, Any], _k: str, now: datetime, out: Applied) -> None:
    policy = Policy.from_json(p.get("policy"))
    ps.policy_json, ps.policy_installed_at = compact_json(policy.to_json()), now
    out.log.append(
        (
            "SAEVT_POLICY",
            f"%SMART_LIC-6-POLICY_INSTALL_SUCCESS: A new licensing policy ({policy.name}) "
            "was successfully installed",
        )
    )


def _trust(ps: PolicyState, p: dict[str, Any], key_id: str, now: datetime, out: Applied) -> None:
    ps.trust = TrustRecord(
        installed_at=now,
        key_id=key_id,
        expires_at=parse_iso(p["expires_at"]) if isinstance(p.get("expires_at"), str) else None,
        smart_account=str(p.get("smart_account") or ""),
        virtual_account=str(p.get("virtual_account") or ""),
    )
    _account(ps, p, now)
    out.log.append(
        ("SAEVT_TRUST", "%SMART_LIC-6-TRUST_INSTALL_SUCCESS: A new trust code was installed")
    )


def _account_info(ps: PolicyState, p: dict[str, Any], _k: str, now: datetime, _o: Applied) -> None:
    _account(ps, p, now)


def _account(ps: PolicyState, p: Mapping[str, Any], now: datetime) -> None:
    sa, va = p.get("smart_account"), p.get("virtual_account")
    if isinstance(sa, str) and isinstance(va, str) and sa:
        ps.account = AccountRecord(sa, va, now)


def _auth(ps: PolicyState, p: dict[str, Any], _k: str, now: datetime, out: Applied) -> None:
    code_id = p.get("code_id")
    if not isinstance(code_id, str) or not code_id:
        raise InvalidInput("the authorization code has no code_id", code="bad-file")
    counts = {
        str(e["tag"]): int(e["count"])
        for e in p.get("entitlements") or []
        if isinstance(e, Mapping) and isinstance(e.get("count"), int)
    }
    ps.authorizations = [a for a in ps.authorizations if a.code_id != code_id]
    ps.authorizations.append(
        AuthCodeRecord(code_id, now, str(p.get("confirmation_code") or ""), counts)
    )
    out.log.append(
        (
            "SAEVT_AUTH",
            "%SMART_LIC-6-AUTHORIZATION_INSTALL_SUCCESS: A new authorization code "
            f"was installed ({code_id})",
        )
    )


_APPLY = {
    "smartLicenseRumAck": _ack,
    "smartLicensePolicy": _policy,
    "smartLicenseTrustCode": _trust,
    "smartLicenseAccountInfo": _account_info,
    "smartLicenseAuthorization": _auth,
}


def _summary(name: str, p: Mapping[str, Any]) -> str:
    if name == "smartLicenseRumAck":
        return f"ACK of {len(p.get('acknowledged') or [])} reports"
    if name == "smartLicensePolicy":
        policy = p.get("policy")
        return f"policy {policy.get('name') if isinstance(policy, Mapping) else '?'}"
    if name == "smartLicenseAuthorization":
        return f"authorization code {p.get('code_id')}"
    return f"{p.get('smart_account', '')} / {p.get('virtual_account', '')}"
