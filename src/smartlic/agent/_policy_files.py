"""Authority files in policy mode: verify every section, then apply it to the state.

Verification is the shared ``smartlic.formats.signed.SignedVerifier`` (docs/usage-protocol.md,
"Keys and trust"): every section chains to the authority CA the device was provisioned with,
its signature covers the exact payload, its ``type`` is the one its section names and its
``udi`` is this device. All sections are verified before any is applied, so a file is installed
whole or not at all.

Freshness (the device state is the ``SeenStore``): an ACK applied before, or older than the
last one applied, is refused ("ACK is older than the last one imported"), so replaying an old
ACK can neither reset the reporting deadline nor clear the overdue alert; an authorization code
that was returned or superseded is refused for good; an older policy, trust code or account
information is skipped, never rolling a newer one back.

Applying is pure (state in, history/event-log lines out); the caller holds the lock and saves.
Each applied ACK, policy and code keeps its signed section in the state: ``_held`` rebuilds the
derived fields from them at every load.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography import x509

from smartlic.agent import _rum
from smartlic.agent._policy_state import (
    AccountRecord,
    AuthCodeRecord,
    PolicyState,
    TrustRecord,
)
from smartlic.crypto import Udi
from smartlic.domain.policy import Policy
from smartlic.errors import InvalidInput, ReplayDetected, SignatureInvalid
from smartlic.formats.envelope import compact_json, parse_iso
from smartlic.formats.signed import Freshness, SignedDocument, SignedVerifier

__all__ = ["IMPORT_TYPES", "Applied", "apply_sections", "code_counts", "retire", "verify_file"]

# Section -> the "Import <TYPE>" line of ``show license history message`` (domain-notes 2.6).
IMPORT_TYPES = {
    "smartLicenseRumAck": "RUM ACK",
    "smartLicensePolicy": "POLICY",
    "smartLicenseTrustCode": "TRUST CODE",
    "smartLicenseAccountInfo": "ACCOUNT INFO",
    "smartLicenseAuthorization": "AUTH",
}
# Sections an older copy of which is skipped rather than refused (a code file carries them too,
# so files imported out of order must not fail).
_SKIP_IF_STALE = {"smartLicensePolicy", "smartLicenseTrustCode", "smartLicenseAccountInfo"}

Section = tuple[str, SignedDocument]


def verify_file(
    verifier: SignedVerifier, data: bytes, ca: x509.Certificate | None, udi: Udi
) -> list[Section]:
    """The verified sections of an authority file; raises on the first problem."""
    return verifier.verify_file(data, ca=ca, udi=udi)


@dataclass
class Applied:
    """What an import or an online answer installed: history lines and event-log lines."""

    imports: list[tuple[str, str]] = field(default_factory=list)  # (type, text)
    log: list[tuple[str, str]] = field(default_factory=list)  # (kind, text)
    acknowledged: int = 0


def apply_sections(
    ps: PolicyState,
    sections: list[Section],
    trust_key_id: str,
    now: datetime,
    verifier: SignedVerifier,
) -> Applied:
    _prevalidate(ps, sections, trust_key_id, verifier)
    out = Applied()
    applied = []
    for name, doc in sections:
        if name in _SKIP_IF_STALE and verifier.freshness(doc) is not Freshness.NEW:
            continue
        if name == "smartLicenseAuthorization" and verifier.freshness(doc) is Freshness.SEEN:
            continue  # the same code file again: already installed, nothing to do
        _APPLY[name](ps, doc, trust_key_id, now, out)
        out.imports.append((IMPORT_TYPES[name], _summary(name, doc.payload)))
        applied.append(doc)
    verifier.accept(applied)
    return out


def _prevalidate(
    ps: PolicyState, sections: list[Section], trust_key_id: str, verifier: SignedVerifier
) -> None:
    """Refuse what would fail half-way, before anything is applied."""
    for name, doc in sections:
        payload = doc.payload
        if name == "smartLicenseRumAck":
            verifier.require_new(doc, "ACK")
        if name == "smartLicenseAuthorization":
            _check_code(ps, payload)
        if name == "smartLicenseTrustCode" and payload.get("key_id") != trust_key_id:
            raise SignatureInvalid("the trust code is for another trust key than this device's")
        if name == "smartLicensePolicy":
            Policy.from_json(payload.get("policy"))


def _check_code(ps: PolicyState, payload: Mapping[str, Any]) -> None:
    code_id = payload.get("code_id")
    if not isinstance(code_id, str) or not code_id:
        raise InvalidInput("the authorization code has no code_id", code="bad-file")
    if code_id in ps.retired_codes:
        raise ReplayDetected(
            f"authorization code {code_id} was returned or replaced: it can never be "
            "installed again",
            code="code-retired",
        )


def retire(ps: PolicyState, code_ids: list[str]) -> None:
    """Codes returned or superseded: removed, and never installed again."""
    ps.authorizations = [a for a in ps.authorizations if a.code_id not in code_ids]
    ps.retired_codes.extend(c for c in code_ids if c not in ps.retired_codes)
    del ps.retired_codes[:-2000]


def _ack(ps: PolicyState, doc: SignedDocument, _k: str, now: datetime, out: Applied) -> None:
    p = doc.payload
    ids = [i for i in p.get("acknowledged") or [] if isinstance(i, int)]
    out.acknowledged = _rum.acknowledge(ps, ids, now)
    for item in p.get("rejected") or []:
        if isinstance(item, Mapping):
            _reject(ps, item.get("report_id"), str(item.get("reason", "rejected")))
    # The reporting deadline counts from the authority's signed issue time, not from when
    # the file reached the device: it is derived again from the held ACK at every load.
    ps.last_ack = doc.issued_at or now
    ps.ack_document = _held(doc)
    _account(ps, p, now)
    out.log.append(
        ("SAEVT_RUM_ACK", f"%SMART_LIC-6-RUM_ACK_RECEIVED: {len(ids)} reports acknowledged")
    )


def _held(doc: SignedDocument) -> str:
    return compact_json(doc.envelope)


def _reject(ps: PolicyState, report_id: Any, reason: str) -> None:
    for r in ps.reports:
        if r.report_id == report_id:
            r.reason = f"REJECTED: {reason}"[:200]


def _policy(ps: PolicyState, doc: SignedDocument, _k: str, now: datetime, out: Applied) -> None:
    policy = Policy.from_json(doc.payload.get("policy"))
    ps.policy_json, ps.policy_installed_at = compact_json(policy.to_json()), now
    ps.policy_document = _held(doc)
    out.log.append(
        (
            "SAEVT_POLICY",
            f"%SMART_LIC-6-POLICY_INSTALL_SUCCESS: A new licensing policy ({policy.name}) "
            "was successfully installed",
        )
    )


def _trust(ps: PolicyState, doc: SignedDocument, key_id: str, now: datetime, out: Applied) -> None:
    p = doc.payload
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


def _account_info(
    ps: PolicyState, doc: SignedDocument, _k: str, now: datetime, _o: Applied
) -> None:
    _account(ps, doc.payload, now)


def _account(ps: PolicyState, p: Mapping[str, Any], now: datetime) -> None:
    sa, va = p.get("smart_account"), p.get("virtual_account")
    if isinstance(sa, str) and isinstance(va, str) and sa:
        ps.account = AccountRecord(sa, va, now)


def code_counts(p: Mapping[str, Any]) -> dict[str, int]:
    """Tag -> count of an authorization code's signed payload."""
    return {
        str(e["tag"]): int(e["count"])
        for e in p.get("entitlements") or []
        if isinstance(e, Mapping) and isinstance(e.get("count"), int)
    }


def _auth(ps: PolicyState, doc: SignedDocument, _k: str, now: datetime, out: Applied) -> None:
    p = doc.payload
    code_id = str(p["code_id"])  # checked by _check_code
    ps.authorizations = [a for a in ps.authorizations if a.code_id != code_id]
    ps.authorizations.append(
        AuthCodeRecord(
            code_id, now, str(p.get("confirmation_code") or ""), code_counts(p), _held(doc)
        )
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
