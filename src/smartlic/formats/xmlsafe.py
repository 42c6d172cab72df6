"""Hardened XML: no DTDs, no entities, no network, bounded size (lxml).

Usage files, ACK files, policy files and authorization-code files are XML envelopes around
JSON; they come from outside (uploads, imports), so every parse goes through here.
"""

from __future__ import annotations

import re

from lxml import etree

from smartlic.errors import InvalidInput

__all__ = ["MAX_XML_BYTES", "element", "parse_xml", "to_bytes"]

MAX_XML_BYTES = 32 * 1024 * 1024
_FORBIDDEN = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_xml(data: bytes, *, max_bytes: int = MAX_XML_BYTES) -> etree._Element:
    """Parse untrusted XML; refuse DTDs and entity declarations outright."""
    if len(data) > max_bytes:
        raise InvalidInput(f"XML document larger than {max_bytes} bytes", code="too-large")
    if _FORBIDDEN.search(data):
        raise InvalidInput("XML with a DTD or entity declaration is refused", code="xml-dtd")
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise InvalidInput(f"malformed XML: {exc}", code="malformed-xml") from exc
    if root.getroottree().docinfo.internalDTD is not None:
        raise InvalidInput("XML with a DTD is refused", code="xml-dtd")
    return root


def element(tag: str, text: str | None = None) -> etree._Element:
    el = etree.Element(tag)
    if text is not None:
        el.text = text
    return el


def to_bytes(root: etree._Element) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=False, encoding="utf-8"))
