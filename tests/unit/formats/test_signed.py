"""The one verifier of authority-signed documents (``smartlic.formats.signed``): real keys, real
certificates, real signatures; every refusal with its reason."""

from __future__ import annotations

import json
import string
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from smartlic.clock import ManualClock
from smartlic.crypto import CertificateAuthority, Signer, Udi, generate_key
from smartlic.errors import InvalidInput, ReplayDetected, SignatureInvalid
from smartlic.formats.envelope import iso, make_nonce, seal, seal_with_key, timestamp_ms
from smartlic.formats.rum import RumReport, key_id_of, public_key_b64, sign_report
from smartlic.formats.signed import (
    Freshness,
    MemorySeenStore,
    SignedVerifier,
    check_fresh,
    check_request,
    open_carried,
    open_report,
    open_sealed,
)
from smartlic.formats.slp import write_file

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
UDI = Udi("C9300-24T", "FOC1")


def _signer(ca: CertificateAuthority, *, days: int = 365, start: datetime = NOW) -> Signer:
    key = generate_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "signing")])
    cert = ca.sign_public_key(name, key.public_key(), not_before=start, days=days)
    return Signer(key, cert)


@pytest.fixture
def ca() -> CertificateAuthority:
    return CertificateAuthority.create("smartlic authority", NOW - timedelta(days=1))


@pytest.fixture
def signer(ca: CertificateAuthority) -> Signer:
    return _signer(ca, start=NOW - timedelta(days=1))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


def _doc(signer: Signer, when: datetime = NOW, **fields: Any) -> dict[str, Any]:
    payload = {"type": "rum-ack", "udi": {"pid": UDI.pid, "sn": UDI.sn}, "acknowledged": [1],
               "issued_at": iso(when), "nonce": make_nonce(), **fields}  # fmt: skip
    return seal(payload, signer, with_certificate=True)


def test_a_genuine_document_verifies(
    clock: ManualClock, ca: CertificateAuthority, signer: Signer
) -> None:
    doc = SignedVerifier(clock).verify(
        _doc(signer), ca=ca.certificate, expected_type="rum-ack", udi=UDI
    )
    assert doc.payload["acknowledged"] == [1] and doc.udi == UDI and doc.issued_at == NOW
    assert doc.signer == signer.key_id and doc.scope == f"rum-ack:{UDI}"


def _refused(
    clock: ManualClock, env: dict[str, Any], ca: x509.Certificate | None, **kw: Any
) -> SignatureInvalid:
    with pytest.raises(SignatureInvalid) as err:
        SignedVerifier(clock).verify(env, ca=ca, **({"expected_type": "rum-ack"} | kw))
    return err.value


def test_refusals_each_with_its_reason(
    clock: ManualClock, ca: CertificateAuthority, signer: Signer
) -> None:
    cert = ca.certificate
    assert _refused(clock, _doc(signer), None).code == "no-authority-ca"
    impostor = CertificateAuthority.create("smartlic authority", NOW - timedelta(days=1))
    assert "does not verify" in _refused(clock, _doc(_signer(impostor)), cert).detail
    tampered = _doc(signer)
    tampered["payload"] = tampered["payload"].replace('"acknowledged":[1]', '"acknowledged":[9]')
    assert "signature does not verify" in _refused(clock, tampered, cert).detail
    wrong_type = _refused(clock, _doc(signer), cert, expected_type="authorization-code")
    assert wrong_type.code == "wrong-type"
    other = _refused(clock, _doc(signer), cert, udi=Udi("C9300-24T", "OTHER"))
    assert other.code == "wrong-device" and "another device" in other.detail
    assert "request_nonce" in _refused(clock, _doc(signer), cert, request_nonce="N1").detail
    future = _doc(signer, NOW + timedelta(days=2))
    assert _refused(clock, future, cert).code == "issued-in-future"
    no_cert = {k: v for k, v in _doc(signer).items() if k != "certificate"}
    assert "no signing certificate" in _refused(clock, no_cert, cert).detail


def test_stored_documents_are_checked_at_their_signing_time(
    clock: ManualClock, ca: CertificateAuthority
) -> None:
    short = _signer(ca, days=2, start=NOW - timedelta(days=1))
    env = _doc(short)
    clock.advance(days=30)  # the signing certificate has expired since
    verifier = SignedVerifier(clock)
    assert _refused(clock, env, ca.certificate).code == "cert-expired"
    doc = verifier.verify(env, ca=ca.certificate, expected_type="rum-ack", at_issue=True)
    assert doc.issued_at == NOW
    backdated = _doc(short, NOW - timedelta(days=3))  # claims a time the cert did not cover
    with pytest.raises(SignatureInvalid) as err:
        verifier.verify(backdated, ca=ca.certificate, expected_type="rum-ack", at_issue=True)
    assert err.value.code == "cert-expired"


def test_freshness_new_seen_older(
    clock: ManualClock, ca: CertificateAuthority, signer: Signer
) -> None:
    verifier = SignedVerifier(clock, seen=MemorySeenStore())
    old, new = _doc(signer, NOW - timedelta(hours=1)), _doc(signer)
    first = verifier.verify(new, ca=ca.certificate, expected_type="rum-ack")
    assert verifier.freshness(first) is Freshness.NEW
    verifier.accept([first])
    assert verifier.freshness(first) is Freshness.SEEN
    older = verifier.verify(old, ca=ca.certificate, expected_type="rum-ack")
    assert verifier.freshness(older) is Freshness.OLDER
    with pytest.raises(ReplayDetected, match=r"^ACK is older than the last one imported$"):
        verifier.require_new(older, "ACK")
    with pytest.raises(ReplayDetected, match="already imported"):
        verifier.require_new(first, "ACK")
    for_other = _doc(signer, NOW - timedelta(hours=2), udi={"pid": "X", "sn": "Y"})
    other = verifier.verify(for_other, ca=ca.certificate, expected_type="rum-ack")
    assert verifier.freshness(other) is Freshness.NEW  # newest is per device and type


def test_a_file_is_verified_whole(
    clock: ManualClock, ca: CertificateAuthority, signer: Signer
) -> None:
    verifier = SignedVerifier(clock)
    good = ("smartLicenseRumAck", _doc(signer))
    policy = ("smartLicensePolicy", _doc(signer, type="policy"))
    docs = verifier.verify_file(write_file([good, policy]), ca=ca.certificate, udi=UDI)
    assert [d.type for _, d in docs] == ["rum-ack", "policy"]
    mislabelled = ("smartLicenseAuthorization", _doc(signer))  # an ACK posing as a code
    with pytest.raises(SignatureInvalid) as err:
        verifier.verify_file(write_file([good, mislabelled]), ca=ca.certificate, udi=UDI)
    assert err.value.detail.startswith("<smartLicenseAuthorization>")
    request = ("smartLicenseAuthRequest", _doc(signer, type="authorization-request"))
    with pytest.raises(InvalidInput, match="not something a collector imports"):
        verifier.verify_file(write_file([request]), ca=ca.certificate, holder="collector")


# ---------------------------------------------------------------- device-signed documents


def _request(key: Any, kind: str = "trust-request", **fields: Any) -> dict[str, Any]:
    payload = {"type": kind, "udi": {"pid": UDI.pid, "sn": UDI.sn},
               "public_key": public_key_b64(key.public_key()), "timestamp": timestamp_ms(NOW),
               "nonce": make_nonce(), **fields}  # fmt: skip
    return seal_with_key(payload, key, key_id_of(key.public_key()))


def test_device_signature_covers_the_exact_payload_string() -> None:
    """One check for every device-signed document: a re-serialised payload (same JSON, other
    spacing) does not verify, whether it travels as an envelope or as a RUM report."""
    key = generate_key()
    env = _request(key)
    assert open_sealed(env, key.public_key())["type"] == "trust-request"
    spaced = {**env, "payload": json.dumps(json.loads(env["payload"]), indent=1)}
    with pytest.raises(SignatureInvalid):
        open_sealed(spaced, key.public_key())
    report = sign_report(RumReport(1, UDI, "tag", "ent", []), key)
    assert open_report(report, key.public_key()).report_id == 1
    with pytest.raises(SignatureInvalid):
        open_report({**report, "payload": report["payload"] + " "}, key.public_key())
    with pytest.raises(SignatureInvalid):
        open_report(report, generate_key().public_key())


def test_a_carried_key_must_be_the_signers() -> None:
    key, other = generate_key(), generate_key()
    key_id, _, payload = open_carried(_request(key), "trust-request")
    assert key_id == key_id_of(key.public_key()) and payload["udi"]["sn"] == UDI.sn
    # signed by one key, carrying another's public key (and its key id)
    lying = _request(key, public_key=public_key_b64(other.public_key()))
    lying["signature"]["key_id"] = key_id_of(other.public_key())
    with pytest.raises(SignatureInvalid):
        open_carried(lying, "trust-request")
    with pytest.raises(InvalidInput):
        open_carried(_request(key, kind="authorization-request"), "trust-request")


def test_a_request_is_fresh_and_its_nonce_used_once_per_key() -> None:
    store = MemorySeenStore()
    payload = json.loads(_request(generate_key())["payload"])
    check_request(store, "key-a", payload, NOW, 300)
    with pytest.raises(ReplayDetected, match="nonce reused"):
        check_request(store, "key-a", payload, NOW, 300)
    check_request(store, "key-b", payload, NOW, 300)  # nonces are per signing key
    with pytest.raises(ReplayDetected, match="away from"):
        check_fresh(payload["timestamp"], NOW + timedelta(seconds=301), 300)
    stale = {**payload, "nonce": make_nonce()}
    with pytest.raises(ReplayDetected):
        check_request(store, "key-a", stale, NOW - timedelta(hours=1), 300)
    assert not store.seen("key-a", stale["nonce"])  # a stale request spends no nonce


def test_nonces_are_16_alphanumerics_each_letter_drawn() -> None:
    nonces = [make_nonce() for _ in range(2000)]
    alphabet = set(string.ascii_letters + string.digits)
    assert all(len(n) == 16 and set(n) <= alphabet for n in nonces)
    assert len(set(nonces)) == len(nonces)
    seen = "".join(nonces)
    assert set(seen) == alphabet  # 32,000 letters: every one of the 62 turns up
    # unbiased: no letter far from its share (1/62 of 32,000 = 516; 6 sigma is about 135)
    assert max(seen.count(c) for c in alphabet) < 516 + 140
    assert min(seen.count(c) for c in alphabet) > 516 - 140
