"""Parse our rendered outputs with the pyATS Genie IOS XE parsers, as a network tool would.

``parse(output=...)`` runs the parser and validates its schema; Genie skips lines it does not
recognise, so tests compare parsed values, not just "it parsed".
"""

from __future__ import annotations

from typing import Any

from genie.libs.parser.iosxe.cat9k.c9300.show_platform import ShowLicenseAuthorization
from genie.libs.parser.iosxe.show_call_home import ShowCallHomeSmartLicensing
from genie.libs.parser.iosxe.show_license import (
    ShowLicense,
    ShowLicenseAll,
    ShowLicenseEventlog2,
    ShowLicenseHistoryMessage,
    ShowLicenseRumIdAll,
    ShowLicenseRumIdDetail,
    ShowLicenseStatus,
    ShowLicenseSummary,
    ShowLicenseTechSupport,
    ShowLicenseUdi,
    ShowLicenseUsage,
)
from genie.metaparser.util.schemaengine import ListOf

__all__ = ["PARSERS", "genie_parse", "genie_parse_unchecked", "key_set"]

PARSERS: dict[str, Any] = {
    "status": ShowLicenseStatus,
    "summary": ShowLicenseSummary,
    "usage": ShowLicenseUsage,
    "all": ShowLicenseAll,
    "tech": ShowLicenseTechSupport,
    "udi": ShowLicenseUdi,
    # Smart Licensing Using Policy commands; ``show license authorization`` is parsed by the
    # cat9k/c9300 parser (the only one Genie has), which lives in its show_platform module.
    "authorization": ShowLicenseAuthorization,
    "rum_all": ShowLicenseRumIdAll,
    "rum_detail": ShowLicenseRumIdDetail,
    "history": ShowLicenseHistoryMessage,
    "eventlog": ShowLicenseEventlog2,
    # bare ``show license`` (the traditional listing) and ``show call-home smart-licensing``
    "traditional": ShowLicense,
    "call_home": ShowCallHomeSmartLicensing,
}


def genie_parse(view: str, text: str) -> dict[str, Any]:
    """Parse and validate against Genie's schema (no device: ``output=`` is given)."""
    result: dict[str, Any] = PARSERS[view](device=None).parse(output=text)
    return result


def genie_parse_unchecked(view: str, text: str) -> dict[str, Any]:
    """Run only the parser's regexes (``cli``), skipping schema validation.

    Needed for ``show license usage``: Genie's schema was written from Smart Licensing Using
    Policy devices and requires fields (Feature Name, Enforcement type, License type) that
    classic devices never print - neither the reference document's example nor real classic
    outputs (domain-notes 1.5) have them.
    """
    result: dict[str, Any] = PARSERS[view](device=None).cli(output=text)
    return result


def _label(key: object) -> str:
    """A schema key's name: ``Any()`` (a value used as a key: a license, a report id) is ``*``."""
    inner = getattr(key, "schema", key)
    return inner if isinstance(inner, str) else "*"


def _schema_key(schema: dict[Any, Any], key: str) -> Any:
    named = [k for k in schema if _label(k) == key]
    return named[0] if named else next((k for k in schema if _label(k) == "*"), None)


def _paths(data: Any, schema: Any, prefix: str) -> set[str]:
    if isinstance(schema, ListOf):
        schema = schema.schema
    if not isinstance(data, dict) or not isinstance(schema, dict):
        return set()
    found: set[str] = set()
    for key, value in data.items():
        schema_key = _schema_key(schema, str(key))
        path = f"{prefix}/{_label(schema_key)}"
        found.add(path)
        found |= _paths(value, schema.get(schema_key), path)
    return found


def key_set(view: str, parsed: dict[str, Any]) -> set[str]:
    """The schema paths ``parsed`` fills, with value-keys (``Any()``) as ``*``: two outputs
    with the same key set are structurally equivalent for a tool reading them."""
    return _paths(parsed, PARSERS[view].schema, "")
