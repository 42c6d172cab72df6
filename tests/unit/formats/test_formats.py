from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from smartlic.crypto import Udi, generate_key
from smartlic.domain.policy import (
    CISCO_DEFAULT,
    LicenseGroup,
    Policy,
    next_ack_deadline,
)
from smartlic.errors import InvalidInput, SignatureInvalid
from smartlic.formats.device_v1 import parse_udi, udi_json, udi_short
from smartlic.formats.rum import (
    Measurement,
    RumReport,
    claimed_key,
    parse_sudi,
    parse_usage_file,
    sign_report,
    sudi_json,
    usage_file,
)
from smartlic.formats.signed import open_report
from smartlic.formats.slp import format_return_code, parse_return_code, read_file, write_file
from smartlic.formats.xmlsafe import parse_xml

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _report(rid: int = 1767225600) -> RumReport:
    return RumReport(
        rid,
        Udi("IXM-LPWA-900-16-K9", "FOC1"),
        "regid.sw",
        "regid.tag",
        [Measurement(1767225600, 1767229200, 2, num_samples=5, log_time=1767225600)],
    )


def test_cisco_default_is_what_devices_print() -> None:
    """The document's table except enforced/export: devices print 0 (issue 10, divergence 2)."""
    g = CISCO_DEFAULT.groups
    assert CISCO_DEFAULT.ack_required
    assert (
        g[LicenseGroup.UNENFORCED_PERPETUAL].first_report_days,
        g[LicenseGroup.UNENFORCED_PERPETUAL].reporting_frequency_days,
        g[LicenseGroup.UNENFORCED_PERPETUAL].report_on_change_days,
    ) == (365, 0, 90)
    expected = {LicenseGroup.UNENFORCED_SUBSCRIPTION: 90, LicenseGroup.ENFORCED: 0,
                LicenseGroup.EXPORT: 0}  # fmt: skip
    for grp, days in expected.items():
        a = g[grp]
        assert (a.first_report_days, a.reporting_frequency_days, a.report_on_change_days) == (
            days,
            days,
            days,
        )
    assert Policy.from_json(CISCO_DEFAULT.to_json()) == CISCO_DEFAULT


def test_next_ack_deadline_rule() -> None:
    sub, perp = LicenseGroup.UNENFORCED_SUBSCRIPTION, LicenseGroup.UNENFORCED_PERPETUAL
    assert next_ack_deadline(CISCO_DEFAULT, [sub], first_use=None, last_ack=None) is None
    assert next_ack_deadline(CISCO_DEFAULT, [sub], first_use=T0, last_ack=None) == T0 + timedelta(
        90
    )
    assert next_ack_deadline(CISCO_DEFAULT, [perp], first_use=T0, last_ack=None) == T0 + timedelta(
        365
    )
    ack = T0 + timedelta(10)
    assert next_ack_deadline(CISCO_DEFAULT, [perp], first_use=T0, last_ack=ack) is None
    assert next_ack_deadline(
        CISCO_DEFAULT, [perp, sub], first_use=T0, last_ack=ack
    ) == ack + timedelta(90)
    changed = ack + timedelta(days=1)
    assert next_ack_deadline(
        CISCO_DEFAULT, [perp], first_use=T0, last_ack=ack, changed_at=changed
    ) == changed + timedelta(90)


def test_policy_json_is_validated() -> None:
    data = CISCO_DEFAULT.to_json()
    data["groups"][LicenseGroup.ENFORCED.value]["first_report_days"] = -1
    with pytest.raises(InvalidInput):
        Policy.from_json(data)
    with pytest.raises(InvalidInput):
        Policy.from_json({"name": "x", "ack_required": True, "groups": {}})


def test_rum_report_round_trip_and_tamper_detection() -> None:
    key = generate_key()
    env = sign_report(_report(), key)
    [parsed] = parse_usage_file(usage_file([env]))
    _, pub = claimed_key(parsed)
    report = open_report(parsed, pub)
    assert report.report_id == 1767225600 and report.measurements[0].value == 2
    tampered = copy.deepcopy(parsed)
    tampered["payload"] = tampered["payload"].replace('"value":"2"', '"value":"1"')
    with pytest.raises(SignatureInvalid):
        open_report(tampered, pub)
    with pytest.raises(SignatureInvalid):
        open_report(parsed, generate_key().public_key())


@pytest.mark.parametrize(
    "doc",
    [
        b'<!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><smartLicense>&b;</smartLicense>',
        b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><smartLicense>&e;</smartLicense>',
        b"<smartLicense><RUMReport>{not json</RUMReport></smartLicense>",
        b"<smartLicense><RUMReport>",
    ],
)
def test_hostile_or_broken_usage_files_are_refused(doc: bytes) -> None:
    with pytest.raises(InvalidInput):
        parse_usage_file(doc)


def test_oversized_xml_is_refused() -> None:
    with pytest.raises(InvalidInput, match="larger"):
        parse_xml(b"<a>" + b"x" * 100 + b"</a>", max_bytes=50)


def test_slp_file_sections_and_return_codes() -> None:
    env = {"payload": "{}", "signature": {"alg": "Ed25519", "key_id": "k", "value": "v"}}
    data = write_file([("smartLicenseRumAck", env), ("smartLicensePolicy", env)])
    assert [name for name, _ in read_file(data)] == ["smartLicenseRumAck", "smartLicensePolicy"]
    code = format_return_code(b"\x01" * 16, b"\x02" * 64)
    assert all(len(part) <= 6 for part in code.split("-"))
    assert parse_return_code(code) == (b"\x01" * 16, b"\x02" * 64)
    with pytest.raises(InvalidInput):
        parse_return_code("ChWhde-okvz5f")


def test_a_udis_wire_forms_round_trip_through_their_one_home() -> None:
    """The UDI's forms: ``str`` / ``Udi.parse``, ``udi_json`` / ``parse_udi`` (device protocol),
    ``sudi_json`` / ``parse_sudi`` (RUM reports, poll answers) and ``udi_short`` (the readable
    ``<udi>`` of license files and reservation codes)."""
    udi = Udi("C9300-24UX", "FCW2134L0RN")
    assert Udi.parse(str(udi)) == udi and str(udi) == "PID:C9300-24UX,SN:FCW2134L0RN"
    assert udi_json(udi) == {"pid": "C9300-24UX", "sn": "FCW2134L0RN"}
    assert parse_udi(udi_json(udi)) == udi
    assert sudi_json(udi) == {"udi_pid": "C9300-24UX", "udi_serial_number": "FCW2134L0RN"}
    assert parse_sudi(sudi_json(udi), "/sudi") == udi
    assert udi_short(udi) == "P:C9300-24UX,S:FCW2134L0RN"


@pytest.mark.parametrize(
    ("sudi", "detail", "pointer"),
    [
        ("PID:X,SN:Y", "sudi must be an object", "/d/sudi"),
        ({"udi_pid": "X"}, "sudi.udi_serial_number must be a string of 1-64 characters",
         "/d/sudi/udi_serial_number"),
        ({"udi_pid": "X" * 65, "udi_serial_number": "Y"},
         "sudi.udi_pid must be a string of 1-64 characters", "/d/sudi/udi_pid"),
    ],
)  # fmt: skip
def test_parse_sudi_refuses_with_a_pointer(sudi: object, detail: str, pointer: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_sudi(sudi, "/d/sudi")
    assert (caught.value.detail, caught.value.pointer) == (detail, pointer)
