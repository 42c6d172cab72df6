"""Reservation codes and node-locked license files: real keys, real signatures, the one verifier."""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smartlic.clock import ManualClock
from smartlic.crypto import CertificateAuthority, Signer, Udi, generate_key
from smartlic.errors import InvalidInput, SignatureInvalid, SmartlicError
from smartlic.formats.device_v1 import Entitlement
from smartlic.formats.envelope import iso, make_nonce, seal
from smartlic.formats.license_file import (
    license_payload,
    new_serial,
    read_license_file,
    write_license_file,
)
from smartlic.formats.reservation import (
    SPECIFIC,
    UNIVERSAL,
    RequestCode,
    authorization_payload,
    authorization_text,
    check_return_code,
    make_return_code,
    return_code_id,
    verify_authorization,
)
from smartlic.formats.signed import SignedVerifier

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
UDI = Udi("C9300-24UX", "FCW2134L0RN")
OTHER = Udi("C9300-24UX", "FCW9999X000")


@pytest.fixture
def ca() -> CertificateAuthority:
    return CertificateAuthority.create("smartlic authority", NOW - timedelta(days=1))


@pytest.fixture
def signer(ca: CertificateAuthority) -> Signer:
    key = generate_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "signing")])
    return Signer(key, ca.sign_public_key(name, key.public_key(), not_before=NOW, days=365))


@pytest.fixture
def verifier() -> SignedVerifier:
    return SignedVerifier(ManualClock(NOW))


def _sign(payload: dict, signer: Signer) -> dict:
    return seal({**payload, "issued_at": iso(NOW), "nonce": make_nonce()}, signer,
                with_certificate=True)  # fmt: skip


def test_request_code_looks_like_the_vendors_and_round_trips() -> None:
    req = RequestCode.new(UDI, generate_key().public_key())
    assert req.text.startswith("CB-ZC9300-24UX:FCW2134L0RN-")
    assert len(req.text.rsplit("-", 1)[1]) == 2
    assert RequestCode.parse(req.text) == req


@pytest.mark.parametrize("mangle", [lambda t: t[:-1] + ("0" if t[-1] != "0" else "1"),
                                    lambda t: t.replace("FCW", "FCX"), lambda t: "nonsense",
                                    lambda t: t[:30] + t[31:]])  # fmt: skip
def test_mistyped_request_codes_are_refused(mangle) -> None:
    req = RequestCode.new(UDI, generate_key().public_key())
    with pytest.raises(InvalidInput) as exc:
        RequestCode.parse(mangle(req.text))
    assert exc.value.code == "bad-request-code"


def _auth(signer: Signer, kind: str = SPECIFIC, udi: Udi = UDI) -> tuple[str, RequestCode, object]:
    key = generate_key()
    req = RequestCode.new(udi, key.public_key())
    ents = [Entitlement("regid.dna-advantage", 2)] if kind == SPECIFIC else []
    payload = authorization_payload(udi, req.text, kind, ents, code_id=str(uuid.uuid4()),
                                    confirmation_code="17488c1f")  # fmt: skip
    return authorization_text(_sign(payload, signer), udi, kind), req, key


@pytest.mark.parametrize("kind", [SPECIFIC, UNIVERSAL])
def test_authorization_code_verifies_for_its_device(signer, ca, verifier, kind) -> None:
    text, req, _ = _auth(signer, kind)
    assert text.startswith("<specificPLR>" if kind == SPECIFIC else "<universalPLR>")
    auth = verify_authorization(text, verifier, ca=ca.certificate, udi=UDI)
    assert auth.request_code == req.text and auth.reservation_type == kind
    assert len(auth.entitlements) == (1 if kind == SPECIFIC else 0)


def test_authorization_code_for_another_device_is_refused(signer, ca, verifier) -> None:
    text, _, _ = _auth(signer)
    with pytest.raises(SignatureInvalid) as exc:
        verify_authorization(text, verifier, ca=ca.certificate, udi=OTHER)
    assert exc.value.code == "wrong-device"


def test_tampered_authorization_codes_are_refused(signer, ca, verifier) -> None:
    text, _, _ = _auth(signer)
    with pytest.raises(SignatureInvalid):  # SLR relabelled as universal
        verify_authorization(text.replace("specificPLR", "universalPLR"), verifier,
                             ca=ca.certificate, udi=UDI)  # fmt: skip
    impostor = CertificateAuthority.create("smartlic authority", NOW - timedelta(days=1))
    with pytest.raises(SignatureInvalid):
        verify_authorization(text, verifier, ca=impostor.certificate, udi=UDI)
    with pytest.raises(InvalidInput):
        verify_authorization("<specificPLR><authorizationCode>!!</authorizationCode></specificPLR>",
                             verifier, ca=ca.certificate, udi=UDI)  # fmt: skip


def test_return_code_proves_the_holder_released(signer, ca, verifier) -> None:
    text, req, key = _auth(signer)
    auth = verify_authorization(text, verifier, ca=ca.certificate, udi=UDI)
    ret = make_return_code(key, auth.code_id, UDI)
    assert return_code_id(ret) == auth.code_id
    check_return_code(ret, req.public_key, auth.code_id, UDI)
    forged = make_return_code(generate_key(), auth.code_id, UDI)
    with pytest.raises(SignatureInvalid) as exc:
        check_return_code(forged, req.public_key, auth.code_id, UDI)
    assert exc.value.code == "wrong-return-code"
    with pytest.raises(SignatureInvalid):
        check_return_code(ret, req.public_key, str(uuid.uuid4()), UDI)


def _file(signer: Signer, eval_days: int | None = None, udi: Udi = UDI) -> bytes:
    payload = license_payload(udi, "advancedmetroipaccess", count=None, eval_days=eval_days,
                              serial=new_serial(), now=NOW)  # fmt: skip
    return write_license_file(_sign(payload, signer))


def test_license_file_round_trip(signer, ca, verifier) -> None:
    lic = read_license_file(_file(signer), verifier, ca=ca.certificate, udi=UDI)
    assert (lic.feature, lic.count, lic.license_type, lic.permanent) == (
        "advancedmetroipaccess", None, "Permanent", True)  # fmt: skip
    ev = read_license_file(_file(signer, 60), verifier, ca=ca.certificate, udi=UDI)
    assert (ev.license_type, ev.period_days) == ("Evaluation", 60)


def test_license_file_refusals(signer, ca) -> None:
    verifier = SignedVerifier(ManualClock(NOW))
    with pytest.raises(SignatureInvalid) as exc:
        read_license_file(_file(signer), verifier, ca=ca.certificate, udi=OTHER)
    assert exc.value.code == "wrong-device"
    tampered = _file(signer).replace(b"<licenseType>Permanent", b"<licenseType>Evaluation")
    with pytest.raises(SignatureInvalid) as exc:
        read_license_file(tampered, verifier, ca=ca.certificate, udi=UDI)
    assert exc.value.code == "tampered"
    later = SignedVerifier(ManualClock(NOW + timedelta(days=61)))
    with pytest.raises(InvalidInput) as exc:
        read_license_file(_file(signer, 60), later, ca=ca.certificate, udi=UDI)
    assert exc.value.code == "expired"
    with pytest.raises(InvalidInput):
        license_payload(UDI, "bad feature!", count=0, eval_days=None, serial="x", now=NOW)


# ---------------------------------------------------------------- readers of outside input

FAST = settings(max_examples=60, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
typed = st.text(st.characters(exclude_categories=["Cs"]), max_size=200)


@FAST
@given(typed)
def test_any_typed_request_code_parses_or_is_refused(text: str) -> None:
    with contextlib.suppress(SmartlicError):
        RequestCode.parse(text)


@FAST
@given(typed | st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
def test_any_authorization_code_verifies_or_is_refused(ca, verifier, text: str) -> None:
    with pytest.raises(SmartlicError):
        verify_authorization(text, verifier, ca=ca.certificate, udi=UDI)


@FAST
@given(st.binary(max_size=400), st.integers(min_value=0, max_value=5000))
def test_any_mutated_license_file_is_refused(signer, ca, data: bytes, at: int) -> None:
    """A mutation is refused with a SmartlicError, or it changed nothing that is read."""
    good = _file(signer)
    cut = at % len(good)
    mutated = good[:cut] + data + good[cut + 1 :]
    verifier = SignedVerifier(ManualClock(NOW))
    try:
        read = read_license_file(mutated, verifier, ca=ca.certificate, udi=UDI)
    except SmartlicError:
        return
    assert read == read_license_file(good, verifier, ca=ca.certificate, udi=UDI)
