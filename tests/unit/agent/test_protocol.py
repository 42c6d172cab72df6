"""The agent's response checks, on real signed documents (real keys, real certificates).

The authority's own answers are exercised end to end in tests/e2e/test_agent_authority.py;
here each check is shown to refuse what it must, one altered field at a time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from smartlic.agent import Timers
from smartlic.agent._protocol import (
    authorize_payload,
    signed_request,
    verify_authorization,
    verify_registration,
)
from smartlic.authority.keys import AuthorityKeys
from smartlic.crypto import (
    Udi,
    certificate_pem,
    fingerprint,
    generate_key,
    make_csr,
    make_token_text,
    public_key_from_pem,
    public_key_pem,
)
from smartlic.domain.enums import AuthorizationState
from smartlic.errors import InvalidInput, SignatureInvalid
from smartlic.formats.envelope import iso, seal
from smartlic.formats.signed import open_sealed

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
UDI = Udi("ASR-903", "FOX1")


@pytest.fixture
def keys(tmp_path: Path) -> AuthorityKeys:
    return AuthorityKeys.create(tmp_path / "keys", NOW)


@pytest.fixture
def device_key() -> Ed25519PrivateKey:
    return generate_key()


def _registration(keys: AuthorityKeys, key: Ed25519PrivateKey, **changes: Any) -> dict[str, Any]:
    cert = keys.ca.issue(make_csr(key, UDI), not_before=NOW, days=365)
    payload = {
        "type": "registration",
        "request_nonce": "N1",
        "udi": {"pid": UDI.pid, "sn": UDI.sn},
        "instance_id": "i-1",
        "certificate": certificate_pem(cert),
        "ca_certificate": keys.ca_pem,
        "smart_account": "Example",
        "virtual_account": "DEFAULT",
        "export_controlled_allowed": True,
        "registered_at": iso(NOW),
        "certificate_expires": iso(NOW + timedelta(days=365)),
        "renew_after": iso(NOW + timedelta(days=180)),
        **changes,
    }
    return seal(payload, keys.signer, with_certificate=True)


def test_a_genuine_registration_is_accepted(
    keys: AuthorityKeys, device_key: Ed25519PrivateKey
) -> None:
    token = make_token_text(keys.ca_fingerprint)
    record = verify_registration(_registration(keys, device_key), token, "N1", UDI, device_key, NOW)
    assert record.renew_after == NOW + timedelta(days=180)
    assert record.ca_certificate_pem == keys.ca_pem


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"request_nonce": "OTHER"}, "request_nonce"),
        ({"type": "authorization"}, "expected a 'registration'"),
        ({"udi": {"pid": "ASR-903", "sn": "SOMEONE-ELSE"}}, "another device"),
    ],
)
def test_answers_to_other_questions_are_refused(
    keys: AuthorityKeys, device_key: Ed25519PrivateKey, changes: dict[str, Any], message: str
) -> None:
    token = make_token_text(keys.ca_fingerprint)
    with pytest.raises(SignatureInvalid, match=message):
        verify_registration(
            _registration(keys, device_key, **changes), token, "N1", UDI, device_key, NOW
        )


def test_a_token_pinning_another_ca_is_refused(
    keys: AuthorityKeys, device_key: Ed25519PrivateKey
) -> None:
    token = make_token_text("00" * 32)
    with pytest.raises(SignatureInvalid) as info:
        verify_registration(_registration(keys, device_key), token, "N1", UDI, device_key, NOW)
    assert info.value.code == "ca-mismatch"


def test_an_altered_payload_is_refused(keys: AuthorityKeys, device_key: Ed25519PrivateKey) -> None:
    env = _registration(keys, device_key)
    env["payload"] = env["payload"].replace('"Example"', '"Evil"')
    with pytest.raises(SignatureInvalid):
        verify_registration(env, make_token_text(keys.ca_fingerprint), "N1", UDI, device_key, NOW)


def test_a_certificate_for_another_key_is_refused(
    keys: AuthorityKeys, device_key: Ed25519PrivateKey
) -> None:
    env = _registration(keys, generate_key())
    with pytest.raises(SignatureInvalid, match="our key"):
        verify_registration(env, make_token_text(keys.ca_fingerprint), "N1", UDI, device_key, NOW)


def test_a_response_without_signer_certificate_is_refused(
    keys: AuthorityKeys, device_key: Ed25519PrivateKey
) -> None:
    env = _registration(keys, device_key)
    del env["certificate"]
    with pytest.raises(SignatureInvalid):
        verify_registration(env, make_token_text(keys.ca_fingerprint), "N1", UDI, device_key, NOW)


def _authorization(keys: AuthorityKeys, **changes: Any) -> dict[str, Any]:
    payload = {
        "type": "authorization",
        "request_nonce": "N2",
        "udi": {"pid": UDI.pid, "sn": UDI.sn},
        "status": "OUT OF COMPLIANCE",
        "entitlements": [
            {"tag": "a", "count": 2, "status": "AUTHORIZED"},
            {"tag": "b", "count": 1, "status": "OUT OF COMPLIANCE"},
        ],
        "authorized_at": iso(NOW),
        "next_communication": iso(NOW + timedelta(days=30)),
        "deadline": iso(NOW + timedelta(days=90)),
        **changes,
    }
    return seal(payload, keys.signer, with_certificate=True)


def test_an_authorization_keeps_the_signed_deadlines(keys: AuthorityKeys) -> None:
    record, _ = verify_authorization(_authorization(keys), keys.ca.certificate, "N2", UDI, NOW)
    assert record.status is AuthorizationState.OUT_OF_COMPLIANCE
    assert record.statuses == {"a": "AUTHORIZED", "b": "OUT OF COMPLIANCE"}
    assert record.counts == {"a": 2, "b": 1}
    assert (record.next_communication, record.deadline) == (
        NOW + timedelta(days=30),
        NOW + timedelta(days=90),
    )


@pytest.mark.parametrize(
    "changes",
    [{"status": "MAYBE"}, {"deadline": "soon"}, {"entitlements": [{"tag": "", "count": 1}]}],
)
def test_a_malformed_authorization_is_refused(keys: AuthorityKeys, changes: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        verify_authorization(_authorization(keys, **changes), keys.ca.certificate, "N2", UDI, NOW)


def test_a_signing_certificate_from_another_ca_is_refused(
    keys: AuthorityKeys, tmp_path: Path
) -> None:
    other = AuthorityKeys.create(tmp_path / "other", NOW)
    with pytest.raises(SignatureInvalid):
        verify_authorization(_authorization(other), keys.ca.certificate, "N2", UDI, NOW)


def test_signed_requests_name_the_identity_certificate(
    keys: AuthorityKeys, device_key: Ed25519PrivateKey
) -> None:
    cert = keys.ca.issue(make_csr(device_key, UDI), not_before=NOW, days=365)
    fields = authorize_payload(UDI, "r1", {"b": 1, "a": 2})
    env, nonce = signed_request(fields, device_key, certificate_pem(cert), NOW)
    assert env["signature"]["key_id"] == fingerprint(cert)
    payload = open_sealed(env, public_key_from_pem(public_key_pem(device_key.public_key())))
    assert payload["nonce"] == nonce and len(nonce) == 16
    assert payload["entitlements"] == [{"tag": "a", "count": 2}, {"tag": "b", "count": 1}]


def test_missing_deadlines_fall_back_to_the_devices_timers(keys: AuthorityKeys) -> None:
    env = _authorization(keys, next_communication=None, deadline=None)
    record, _ = verify_authorization(env, keys.ca.certificate, "N2", UDI, NOW, Timers())
    assert (record.next_communication, record.deadline) == (
        NOW + timedelta(days=30),
        NOW + timedelta(days=90),
    )


def test_missing_registration_times_fall_back_to_the_certificate(
    keys: AuthorityKeys, device_key: Ed25519PrivateKey
) -> None:
    env = _registration(keys, device_key, certificate_expires=None, renew_after=None)
    token = make_token_text(keys.ca_fingerprint)
    record = verify_registration(env, token, "N1", UDI, device_key, NOW)
    assert record.certificate_expires == NOW + timedelta(days=365)
    assert record.renew_after == NOW + timedelta(days=180)
