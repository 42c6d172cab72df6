"""RUM (Resource Utilization Measurement) reports: payload, signature, and usage files.

The documented envelope (domain-notes 3.2-3.3): a usage file is XML ``<smartLicense>`` holding
``<RUMReport>`` elements, each a JSON object::

    {"payload": "<compact JSON string>",
     "header": {"type": "rum"},
     "signature": {"sudi": {"udi_pid": ..., "udi_serial_number": ...},
                   "signing_type": "trust-code", "key": "<product software tag>",
                   "key_id": "<sha256 hex of the raw trust public key>",
                   "public_key": "<base64 raw Ed25519 public key>",
                   "value": "<base64 Ed25519 signature over the exact payload string>"}}

The payload keeps the field names of real reports (``version``, ``asset_identification``,
``meta``, ``measurements`` with ``log_time``, ``metric_name``, ``start_time``, ``end_time``,
``sample_interval``, ``num_samples``, ``value``). ``key_id``/``public_key`` are our additions:
they let an authority that has never seen the device accept its first report offline and
deliver the trust code in the ACK.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from smartlic.crypto import Udi, sign_bytes
from smartlic.errors import InvalidInput, SignatureInvalid
from smartlic.formats import jsonsafe
from smartlic.formats.bounds import INT64_MAX, check_id, check_text, check_time, clean_text
from smartlic.formats.envelope import compact_json
from smartlic.formats.xmlsafe import element, parse_xml, to_bytes

__all__ = [
    "Measurement",
    "RumReport",
    "claimed_key",
    "key_id_of",
    "parse_sudi",
    "parse_usage_file",
    "public_key_b64",
    "read_report",
    "sign_report",
    "sudi_json",
    "usage_file",
]

MAX_MEASUREMENTS = 10_000
# a JSON object: a dict (what json.loads makes, tested first: the ABC check costs several times
# more) or any other mapping
_OBJECT = (dict, Mapping)
_DIGITS = re.compile(r"[0-9]{1,7}")


def sudi_json(udi: Udi) -> dict[str, str]:
    return {"udi_pid": udi.pid, "udi_serial_number": udi.sn}


def parse_sudi(data: Any, pointer: str) -> Udi:
    """``sudi_json``'s form back to a ``Udi`` (``pointer``: where ``data`` stands)."""
    if not isinstance(data, _OBJECT):
        raise InvalidInput("sudi must be an object", pointer=pointer)
    pid = check_text(data.get("udi_pid"), f"{pointer}/udi_pid", "sudi.udi_pid", max_len=64)
    sn = check_text(
        data.get("udi_serial_number"), f"{pointer}/udi_serial_number", "sudi.udi_serial_number",
        max_len=64,
    )  # fmt: skip
    return Udi(pid, sn)


def public_key_b64(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def key_id_of(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True)
class Measurement:
    """One measurement of a report (times are epoch seconds, ``value`` a count)."""

    start_time: int
    end_time: int
    value: int
    num_samples: int = 1
    metric_name: str = "ENTITLEMENT"
    log_time: int | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "log_time": self.log_time if self.log_time is not None else self.start_time,
            "metric_name": self.metric_name,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "sample_interval": max(self.end_time - self.start_time, 0),
            "num_samples": self.num_samples,
            "meta": dict(self.meta),
            "value": {"type": "COUNT", "value": str(self.value)},
        }


@dataclass(frozen=True)
class RumReport:
    report_id: int
    udi: Udi
    software_tag: str
    entitlement_tag: str
    measurements: Sequence[Measurement]
    software_version: str = "1.0"
    hostname: str | None = None

    def payload(self) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "entitlement_tag": self.entitlement_tag,
            "utility_enabled": False,
            "software_version": self.software_version,
            "ha_udi": [{"role": "Active", "sudi": sudi_json(self.udi)}],
        }
        if self.hostname is not None:
            meta["hostname"] = self.hostname
        return {
            "version": "2.0",
            "asset_identification": {
                "report_id": self.report_id,
                "asset": {"name": self.software_tag},
                "instance": {"sudi": sudi_json(self.udi)},
            },
            "meta": meta,
            "measurements": [m.to_json() for m in self.measurements],
        }


def sign_report(report: RumReport, key: Ed25519PrivateKey) -> dict[str, Any]:
    """The ``<RUMReport>`` JSON object for ``report``, signed with the trust-code key."""
    text = compact_json(report.payload())
    pub = key.public_key()
    return {
        "payload": text,
        "header": {"type": "rum"},
        "signature": {
            "sudi": sudi_json(report.udi),
            "signing_type": "trust-code",
            "key": report.software_tag,
            "key_id": key_id_of(pub),
            "public_key": public_key_b64(pub),
            "value": sign_bytes(key, text.encode()),
        },
    }


def claimed_key(envelope: Mapping[str, Any]) -> tuple[str, Ed25519PublicKey]:
    """The (key_id, public key) a report claims to be signed with (not yet verified)."""
    sig = envelope.get("signature")
    if not isinstance(sig, _OBJECT):
        raise InvalidInput("report has no signature", pointer="/signature")
    raw_b64 = sig.get("public_key")
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(str(raw_b64), validate=True))
    except ValueError as exc:
        raise SignatureInvalid("report signature carries no valid public key") from exc
    if sig.get("key_id") != key_id_of(key):
        raise SignatureInvalid("report key_id does not match its public key")
    return key_id_of(key), key


def read_report(envelope: Mapping[str, Any]) -> RumReport:
    """Parse a report's payload WITHOUT verifying it. A report without ``header`` (as tools
    carrying files for devices send them) is taken as RUM; one with another type is refused."""
    header = envelope.get("header", {"type": "rum"})
    if not isinstance(header, _OBJECT) or header.get("type") != "rum":
        raise InvalidInput("header.type must be 'rum'", pointer="/header/type")
    text = envelope.get("payload")
    try:
        data = jsonsafe.loads(text) if isinstance(text, str) else None
    except ValueError as exc:  # JSONDecodeError, or an integer of more than 4300 digits
        raise InvalidInput(f"payload is not JSON: {_why(exc)}", pointer="/payload") from exc
    if not isinstance(data, _OBJECT):
        raise InvalidInput("payload must be a JSON object", pointer="/payload")
    return _report_from(data)


def _report_from(data: Mapping[str, Any]) -> RumReport:
    ident = data.get("asset_identification")
    meta = data.get("meta")
    if not isinstance(ident, _OBJECT) or not isinstance(meta, _OBJECT):
        raise InvalidInput("payload needs asset_identification and meta", pointer="/payload")
    report_id = check_id(
        ident.get("report_id", meta.get("report_id")), "/payload/report_id", "report_id"
    )
    instance = ident.get("instance")
    udi = parse_sudi(
        instance.get("sudi") if isinstance(instance, _OBJECT) else None,
        "/payload/asset_identification/instance/sudi",
    )
    asset = ident.get("asset")
    tag = check_text(
        meta.get("entitlement_tag"), "/payload/meta/entitlement_tag", "meta.entitlement_tag",
        max_len=255,
    )  # fmt: skip
    raw = data.get("measurements")
    if not isinstance(raw, list) or len(raw) > MAX_MEASUREMENTS:
        raise InvalidInput(
            f"measurements must be a list of at most {MAX_MEASUREMENTS}",
            pointer="/payload/measurements",
        )
    hostname = meta.get("hostname")
    name = asset.get("name", "") if isinstance(asset, _OBJECT) else ""
    return RumReport(
        report_id=report_id,
        udi=udi,
        software_tag=_optional_text(name, "/payload/asset_identification/asset/name"),
        entitlement_tag=tag,
        measurements=[_measurement(m, i) for i, m in enumerate(raw)],
        software_version=_optional_text(
            meta.get("software_version", ""), "/payload/meta/software_version"
        ),
        hostname=_optional_text(hostname, "/payload/meta/hostname")
        if isinstance(hostname, str)
        else None,
    )


def _optional_text(value: Any, pointer: str, max_len: int = 255) -> str:
    """A free-text field: anything not a string reads as its text, checked like any string."""
    text = value if isinstance(value, str) else str(value)
    return check_text(text, pointer, pointer.rsplit("/", 1)[-1], max_len=max_len, min_len=0)


def _measurement(m: Any, i: int) -> Measurement:
    ptr = f"/payload/measurements/{i}"
    if not isinstance(m, _OBJECT):
        raise InvalidInput("a measurement is an object", pointer=ptr)
    times = [
        check_time(m.get("start_time"), f"{ptr}/start_time", "start_time"),
        check_time(m.get("end_time"), f"{ptr}/end_time", "end_time"),
    ]
    value = m.get("value")
    count = _count(value.get("value") if isinstance(value, _OBJECT) else None)
    if not 0 <= count <= 1_000_000:
        raise InvalidInput("measurement value must be a count 0-1000000", pointer=f"{ptr}/value")
    if times[1] < times[0]:
        raise InvalidInput("end_time is before start_time", pointer=f"{ptr}/end_time")
    samples, log_time = m.get("num_samples", 1), m.get("log_time")
    metric = _optional_text(m.get("metric_name", "ENTITLEMENT"), f"{ptr}/metric_name")
    if _is_int(log_time):
        log_time = check_time(log_time, f"{ptr}/log_time", "log_time")
    return Measurement(
        start_time=times[0],
        end_time=times[1],
        value=count,
        num_samples=samples if _is_int(samples) and 0 <= samples <= INT64_MAX else 1,
        metric_name=metric[:40],
        log_time=log_time if _is_int(log_time) else None,
        meta=_meta(m.get("meta"), f"{ptr}/meta"),
    )


def _meta(value: Any, ptr: str) -> Mapping[str, Any]:
    """A measurement's free-form ``meta``, kept as sent once its text is valid Unicode."""
    meta = value if isinstance(value, _OBJECT) else {}
    if meta and not clean_text(json.dumps(meta, ensure_ascii=False)):  # "{}" is clean
        raise InvalidInput("meta must be valid Unicode text (no lone surrogates)", pointer=ptr)
    return meta


def _count(value: Any) -> int:
    """``"value": {"type": "COUNT", "value": "2"}``: the count as text (or a plain integer);
    -1 for anything else."""
    if _is_int(value):
        return int(value)
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return int(value)
    return -1


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def usage_file(envelopes: Sequence[Mapping[str, Any]], extra: Sequence[Any] = ()) -> bytes:
    """A usage data file: ``<smartLicense>`` with one ``<RUMReport>`` per report; ``extra``
    are further ready-made elements (e.g. a trust or authorization request)."""
    root = element("smartLicense")
    for env in envelopes:
        root.append(element("RUMReport", json.dumps(env, separators=(",", ":"))))
    for el in extra:
        root.append(el)
    return to_bytes(root)


_NOT = "not-usage-file"
_UPLOAD = (
    "upload the file a product instance or a collector saved (`license smart save usage ...`), "
    "or a .tar.gz or .zip archive of such files"
)


def parse_usage_file(data: bytes) -> list[dict[str, Any]]:
    """The ``<RUMReport>`` JSON objects of a usage file (hardened parse; not yet verified).

    What is plainly some other file (not XML, another XML document, an ACK) is refused with
    code ``not-usage-file`` and a sentence saying what to upload instead."""
    if not data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        raise InvalidInput(f"this is not a usage data file (it is not XML): {_UPLOAD}", code=_NOT)
    root = parse_xml(data)
    if root.tag != "smartLicense":
        raise InvalidInput(
            f"this is not a usage data file (an XML document <{root.tag}>): {_UPLOAD}", code=_NOT
        )
    if root.find("RUMReport") is None and root.find("smartLicenseRumAck") is not None:
        raise InvalidInput(
            "this is an acknowledgement (ACK) file: import it where the usage file came from "
            "(the product instance or the collector); here, upload usage data files",
            code=_NOT,
        )
    out: list[dict[str, Any]] = []
    for i, el in enumerate(root.iter("RUMReport")):
        try:
            obj = jsonsafe.loads(el.text or "")
        except ValueError as exc:  # JSONDecodeError, or an integer of more than 4300 digits
            raise InvalidInput(f"RUMReport {i} is not JSON: {_why(exc)}", pointer=f"/{i}") from exc
        if not isinstance(obj, dict):
            raise InvalidInput(f"RUMReport {i} is not a JSON object", pointer=f"/{i}")
        out.append(obj)
    return out


def _why(exc: ValueError) -> str:
    return exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
