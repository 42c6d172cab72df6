"""Property-based tests (hypothesis) of the readers of files that come from outside: usage data
files (``formats.rum``) and authority files (``formats.slp``).

* Any bytes, and any mutation of a valid file (bytes flipped, cut or inserted; any field of a
  report's payload replaced by any JSON value, then signed again so the signature still holds),
  either parse or raise ``InvalidInput`` - never anything else (a ``KeyError``, an
  ``OverflowError`` or a ``UnicodeEncodeError`` would be a 500 at the authority).
* What parses is within bounds (``formats.bounds``): the database and ``datetime`` can hold it.
* A valid report round-trips: written into a usage file, read back equal and verified.

The default run draws a bounded number of examples from a fixed seed; ``-m slow`` draws more.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smartlic.crypto import Udi, generate_key, sign_bytes
from smartlic.errors import InvalidInput
from smartlic.formats.bounds import EARLIEST, INT64_MAX, LATEST, clean_text
from smartlic.formats.rum import (
    Measurement,
    RumReport,
    key_id_of,
    parse_usage_file,
    public_key_b64,
    read_report,
    sign_report,
    sudi_json,
    usage_file,
)
from smartlic.formats.signed import open_report
from smartlic.formats.slp import read_file

KEY = generate_key()
FAST = settings(max_examples=50, deadline=None, database=None, derandomize=True)
LONG = settings(max_examples=3000, deadline=None, database=None)
LOW, HIGH = int(EARLIEST.timestamp()), int(LATEST.timestamp())

# Text as a device may send it: any Unicode but lone surrogates and NUL.
text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=40)
name = text.filter(bool)
json_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def measurements(draw: st.DrawFn) -> Measurement:
    start = draw(st.integers(LOW, HIGH))
    end = draw(st.integers(start, HIGH))
    return Measurement(
        start_time=start,
        end_time=end,
        value=draw(st.integers(0, 1_000_000)),
        num_samples=draw(st.integers(0, INT64_MAX)),
        metric_name=draw(name.filter(lambda t: len(t) <= 40)),
        log_time=draw(st.integers(LOW, HIGH)),
        meta=draw(st.dictionaries(text, text, max_size=2)),
    )


@st.composite
def reports(draw: st.DrawFn) -> RumReport:
    return RumReport(
        report_id=draw(st.integers(1, INT64_MAX)),
        udi=Udi(draw(name), draw(name)),
        software_tag=draw(text),
        entitlement_tag=draw(name),
        measurements=draw(st.lists(measurements(), max_size=3)),
        software_version=draw(text),
        hostname=draw(st.none() | text),
    )


def only_invalid_input(parse: Callable[[], Any]) -> Any:
    """``parse()``'s result, or None when it raised InvalidInput (any other error fails)."""
    try:
        return parse()
    except InvalidInput:
        return None


def assert_in_bounds(report: RumReport) -> None:
    assert 1 <= report.report_id <= INT64_MAX
    for value in (report.udi.pid, report.udi.sn, report.entitlement_tag, report.software_tag):
        assert clean_text(value)
    assert report.hostname is None or clean_text(report.hostname)
    for m in report.measurements:
        assert LOW <= m.start_time <= m.end_time <= HIGH
        assert m.log_time is None or LOW <= m.log_time <= HIGH
        assert 0 <= m.num_samples <= INT64_MAX


def read_all(data: bytes) -> None:
    """Read a usage file as the authority does: the file, then every report in it."""
    envelopes = only_invalid_input(lambda: parse_usage_file(data)) or []
    for envelope in envelopes:
        report = only_invalid_input(lambda e=envelope: read_report(e))
        if report is not None:
            assert_in_bounds(report)


def resign(payload: Any) -> dict[str, Any]:
    """A report envelope for ``payload`` (any JSON), correctly signed: only the content is bad."""
    body = json.dumps(payload, separators=(",", ":"))  # ASCII: lone surrogates survive, escaped
    pub = KEY.public_key()
    signature = {"key_id": key_id_of(pub), "public_key": public_key_b64(pub)}
    signature["value"] = sign_bytes(KEY, body.encode())
    signature |= {"sudi": sudi_json(Udi("P", "S")), "signing_type": "trust-code", "key": "sw"}
    return {"payload": body, "header": {"type": "rum"}, "signature": signature}


def leaves(obj: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into ``obj`` (objects and lists), the root included."""
    found = [path]
    if isinstance(obj, dict):
        for key, value in obj.items():
            found += leaves(value, (*path, key))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            found += leaves(value, (*path, i))
    return found


def replaced(obj: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = obj.copy()
    copy[path[0]] = replaced(obj[path[0]], path[1:], value)
    return copy


# ---------------------------------------------------------------- the properties


def round_trip(report: RumReport) -> None:
    envelopes = parse_usage_file(usage_file([sign_report(report, KEY)]))
    assert len(envelopes) == 1
    assert read_report(envelopes[0]) == report
    assert open_report(envelopes[0], KEY.public_key()) == report


def mutated_bytes(report: RumReport, data: st.DataObject) -> None:
    raw = bytearray(usage_file([sign_report(report, KEY)]))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(raw)))
        kind = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if kind == "flip" and at < len(raw):
            raw[at] ^= data.draw(st.integers(1, 255))
        elif kind == "cut":
            del raw[at : at + data.draw(st.integers(1, 16))]
        else:
            raw[at:at] = data.draw(st.binary(min_size=1, max_size=8))
    read_all(bytes(raw))


def mutated_payload(report: RumReport, data: st.DataObject) -> None:
    payload = report.payload()
    path = data.draw(st.sampled_from(leaves(payload)))
    bad = replaced(payload, path, data.draw(json_value))
    read_all(usage_file([resign(bad)]))


@FAST
@given(reports())
def test_a_valid_report_round_trips(report: RumReport) -> None:
    round_trip(report)


@FAST
@given(st.binary(max_size=600))
def test_any_bytes_are_a_usage_file_or_invalid_input(data: bytes) -> None:
    read_all(data)
    only_invalid_input(lambda: read_file(data))


@FAST
@given(reports(), st.data())
def test_a_usage_file_with_bytes_changed_is_read_or_refused(
    report: RumReport, data: st.DataObject
) -> None:
    mutated_bytes(report, data)


@FAST
@given(reports(), st.data())
def test_any_payload_field_replaced_by_any_json_is_read_within_bounds_or_refused(
    report: RumReport, data: st.DataObject
) -> None:
    mutated_payload(report, data)


@FAST
@given(st.text(max_size=200) | st.builds(lambda v: json.dumps(v), json_value))
def test_any_report_element_text_is_read_or_refused(body: str) -> None:
    """The ``<RUMReport>`` text itself: not JSON, JSON of the wrong shape, huge integers."""
    escaped = body.replace("&", "&amp;").replace("<", "&lt;")
    read_all(
        f"<smartLicense><RUMReport>{escaped}</RUMReport></smartLicense>".encode(errors="replace")
    )


def test_the_inputs_that_broke_the_authority_are_refused() -> None:
    """Finding 10's report id, end time and lone surrogate; a 5,000-digit integer (past json's
    conversion limit: a ValueError); a count object without its value (a KeyError, found by
    the mutation test above)."""
    good = RumReport(1, Udi("P", "S"), "sw", "tag", [Measurement(LOW, LOW + 60, 1)])
    for path, value in [
        (("asset_identification", "report_id"), 2**63),
        (("measurements", 0, "end_time"), 2**62),
        (("measurements", 0, "start_time"), -1),
        (("asset_identification", "instance", "sudi", "udi_pid"), "\ud800"),
        (("measurements", 0, "value"), {}),
        (("measurements", 0, "value", "value"), "1e3"),
    ]:
        bad = replaced(good.payload(), path, value)
        with pytest.raises(InvalidInput):
            read_report(resign(bad))
    huge = resign(good.payload()) | {"payload": '{"asset_identification": ' + "9" * 5000 + "}"}
    with pytest.raises(InvalidInput, match="payload is not JSON"):
        read_report(huge)


@pytest.mark.slow
@LONG
@given(reports(), st.data())
def test_long_mutations(report: RumReport, data: st.DataObject) -> None:
    round_trip(report)
    mutated_bytes(report, data)
    mutated_payload(report, data)
