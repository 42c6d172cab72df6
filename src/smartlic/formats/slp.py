"""Smart Licensing Using Policy files: ACKs, policies, trust codes, authorization codes.

Every file is XML ``<smartLicense>`` holding named sections, each a ``<data>`` element whose
text is a signed JSON envelope (``smartlic.formats.envelope``)::

    <smartLicense>
      <smartLicenseRumAck>
        <data>{"payload": "...", "signature": {...}, "certificate": "..."}</data>
      </smartLicenseRumAck>
      <smartLicensePolicy><data>{...}</data></smartLicensePolicy>
    </smartLicense>

A stand-alone policy file has root ``<smartLicensePolicy>`` (domain-notes 3.4). The same bytes
travel online (base64 in ``smart_license`` of a ``COMPLETE`` poll answer) and offline (a file
downloaded from the authority and imported with ``license smart import``).

Section names and payload ``type`` values:

=============================  ======================  =========================================
section                        payload ``type``        signed by
=============================  ======================  =========================================
smartLicenseRumAck             ``rum-ack``             authority (``acknowledged`` report ids)
smartLicensePolicy             ``policy``              authority
smartLicenseTrustCode          ``trust-code``          authority (binds UDI to the trust key)
smartLicenseAccountInfo        ``account-info``        authority
smartLicenseAuthorization      ``authorization-code``  authority (SLAC: tags and counts)
smartLicenseAuthRequest        ``authorization-request`` device trust key
smartLicenseAuthReturn         ``authorization-return``  device trust key
smartLicenseTrustRequest       ``trust-request``       device trust key
=============================  ======================  =========================================

A file a device saves (usage, authorization request) also carries ``<smartLicenseSystemInfo>``
(``system_info``), as real devices' files do: plain JSON, not an envelope, which readers skip.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import base58
from lxml import etree

from smartlic.crypto import Udi
from smartlic.errors import InvalidInput
from smartlic.formats import jsonsafe
from smartlic.formats.envelope import make_nonce, timestamp_ms
from smartlic.formats.rum import sudi_json
from smartlic.formats.xmlsafe import element, parse_xml, to_bytes

__all__ = [
    "SECTIONS",
    "SYSTEM_INFO",
    "format_return_code",
    "parse_return_code",
    "read_file",
    "system_info",
    "write_file",
]

SECTIONS = {
    "smartLicenseRumAck": "rum-ack",
    "smartLicensePolicy": "policy",
    "smartLicenseTrustCode": "trust-code",
    "smartLicenseAccountInfo": "account-info",
    "smartLicenseAuthorization": "authorization-code",
    "smartLicenseAuthRequest": "authorization-request",
    "smartLicenseAuthReturn": "authorization-return",
    "smartLicenseTrustRequest": "trust-request",
}
SYSTEM_INFO = "smartLicenseSystemInfo"


def write_file(
    sections: Sequence[tuple[str, Mapping[str, Any]]], extra: Sequence[etree._Element] = ()
) -> bytes:
    """``[(section name, envelope)]`` -> XML bytes; ``extra`` are further ready-made elements
    (``system_info``)."""
    root = element("smartLicense")
    for name, env in sections:
        if name not in SECTIONS:
            raise ValueError(f"unknown section {name!r}")
        sec = element(name)
        sec.append(element("data", json.dumps(env, separators=(",", ":"))))
        root.append(sec)
    root.extend(extra)
    return to_bytes(root)


def system_info(udi: Udi, hostname: str, software_tag: str, now: datetime) -> etree._Element:
    """``<smartLicenseSystemInfo><data>{"sudi", "timestamp", "nonce", "hostname",
    "software_tag_identifier"}</data>``: who saved a file, and when. Tools carrying files for
    air-gapped devices copy its ``sudi``, ``timestamp`` and ``nonce`` into their device API
    requests (issue 9); a fresh nonce per file, so each upload of a file counts once."""
    info = {
        "sudi": sudi_json(udi),
        "timestamp": timestamp_ms(now),
        "nonce": make_nonce(),
        "hostname": hostname,
        "software_tag_identifier": software_tag,
    }
    sec = element(SYSTEM_INFO)
    sec.append(element("data", json.dumps(info, separators=(",", ":"))))
    return sec


def read_file(data: bytes) -> list[tuple[str, dict[str, Any]]]:
    """The (section, envelope) pairs of a file; unknown elements are skipped, RUM reports too.
    Envelopes are NOT verified here."""
    root = parse_xml(data)
    sections = [root] if root.tag in SECTIONS else list(root)
    if root.tag != "smartLicense" and root.tag not in SECTIONS:
        raise InvalidInput(f"not a smart licensing file (root <{root.tag}>)", code="bad-file")
    out: list[tuple[str, dict[str, Any]]] = []
    for sec in sections:
        if sec.tag not in SECTIONS:
            continue
        for data_el in sec.iter("data"):
            out.append((str(sec.tag), _envelope(data_el.text, str(sec.tag))))
    return out


def _envelope(text: str | None, name: str) -> dict[str, Any]:
    try:
        env = jsonsafe.loads(text or "")
    except ValueError as exc:  # JSONDecodeError, or an integer of more than 4300 digits
        raise InvalidInput(f"<{name}> data is not JSON", code="bad-file") from exc
    if not isinstance(env, dict) or not isinstance(env.get("payload"), str):
        raise InvalidInput(f"<{name}> data is not a signed envelope", code="bad-file")
    return env


# A return code is what a person types into the authority: base58 of the 16-byte code id and
# the device's 64-byte signature, in dash-separated groups of six like the vendor's codes.


def format_return_code(code_id: bytes, signature: bytes) -> str:
    text = base58.b58encode(code_id + signature).decode()
    return "-".join(text[i : i + 6] for i in range(0, len(text), 6))


def parse_return_code(code: str) -> tuple[bytes, bytes]:
    """(code id, signature) from a typed return code; raises ``InvalidInput`` when malformed."""
    try:
        raw = base58.b58decode(code.replace("-", "").strip())
    except ValueError as exc:
        raise InvalidInput("the return code is not valid", code="bad-return-code") from exc
    if len(raw) != 80:
        raise InvalidInput("the return code is not valid", code="bad-return-code")
    return raw[:16], raw[16:]
