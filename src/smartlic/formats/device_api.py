"""Shapes of the vendor device API messages (docs/usage-protocol.md: reportusage, authrequest,
poll): the ``{"data": {...}}`` body and the ``OK_POLL`` answer. Shared by the authority, the
collector's product-instance service and its client to the authority."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from smartlic.crypto import Udi
from smartlic.errors import InvalidInput
from smartlic.formats.bounds import check_id, clean_text, decimal
from smartlic.formats.device_v1 import parse_udi
from smartlic.formats.envelope import make_nonce, timestamp_ms
from smartlic.formats.rum import parse_sudi

__all__ = [
    "CSLU_PI_BASE",
    "MAX_REPORTS",
    "POLL_INTERVAL_S",
    "VENDOR_PREFIX",
    "body",
    "data_of",
    "failed",
    "groups",
    "is_vendor_path",
    "ok_poll",
    "poll_id_of",
    "udi_of_payload",
]

VENDOR_PREFIX = "/services/api/smart-accounts-and-licensing"  # the authority's device API
CSLU_PI_BASE = "/cslu/v1/pi"  # the collector's product instance service
MAX_REPORTS = 50_000
POLL_INTERVAL_S = 300  # the vendor's poll interval (domain-notes 5.3)


def data_of(body: Any) -> dict[str, Any]:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise InvalidInput('the body is {"data": {...}}', pointer="/data")
    return data


def poll_id_of(data: Mapping[str, Any]) -> int:
    """``data.poll_id`` of a poll: a number, or the same in decimal digits (tools send both)."""
    poll_id = data.get("poll_id")
    if isinstance(poll_id, str):
        poll_id = decimal(poll_id)
    if poll_id is None:
        raise InvalidInput("poll_id is required", pointer="/data/poll_id")
    return check_id(poll_id, "/data/poll_id", "poll_id", minimum=0)


def groups(reports: Any) -> list[tuple[Udi, list[dict[str, Any]]]]:
    """``data.reports`` -> [(udi, [report envelopes])], one entry per device."""
    if not isinstance(reports, list) or not reports:
        raise InvalidInput("data.reports must be a non-empty list", pointer="/data/reports")
    out: dict[Udi, list[dict[str, Any]]] = {}
    for i, item in enumerate(reports):
        if not isinstance(item, dict) or not isinstance(item.get("usage"), list):
            raise InvalidInput("each report is {sudi, usage: [...]}", pointer=f"/data/reports/{i}")
        udi = parse_sudi(item.get("sudi"), f"/data/reports/{i}/sudi")
        usage = item["usage"]
        if not all(isinstance(u, dict) for u in usage):
            raise InvalidInput("usage holds report objects", pointer=f"/data/reports/{i}/usage")
        out.setdefault(udi, []).extend(usage)
    if sum(len(v) for v in out.values()) > MAX_REPORTS:
        raise InvalidInput(f"at most {MAX_REPORTS} reports per request", code="too-large")
    return list(out.items())


def udi_of_payload(payload: Mapping[str, Any]) -> Udi:
    udi = payload.get("udi")
    if not isinstance(udi, Mapping):
        raise InvalidInput("the request names no udi {pid, sn}", pointer="/payload/udi")
    return parse_udi(udi, "/payload/udi")


def body(now: datetime, **fields: Any) -> dict[str, Any]:
    """``{"data": {"timestamp", "nonce", ...}}``."""
    return {"data": {"timestamp": timestamp_ms(now), "nonce": make_nonce(), **fields}}


def ok_poll(
    poll_id: int,
    action: str,
    now: datetime,
    interval_s: int = POLL_INTERVAL_S,
    nonce: str | None = None,
) -> dict[str, Any]:
    """The vendor's ``OK_POLL`` answer (HTTP 202); ``nonce`` echoes the request's."""
    return {
        "status": "OK_POLL",
        "message_code": None,
        "message": None,
        "timestamp": timestamp_ms(now),
        "nonce": nonce if nonce is not None else make_nonce(),
        "type": None,
        "poll_id": poll_id,
        "poll_interval": interval_s,
        "action": action,
    }


def echo_nonce(data: Mapping[str, Any]) -> str | None:
    """The request's ``nonce`` when it is one (the answer echoes it), else ``None``."""
    nonce = data.get("nonce")
    # a lone surrogate cannot be answered (no UTF-8 for it): not echoed, as any odd nonce
    return nonce if isinstance(nonce, str) and 0 < len(nonce) <= 64 and clean_text(nonce) else None


def is_vendor_path(path: str) -> bool:
    """A URL of the vendor device API (the authority's or a collector's), where errors are
    answered in the vendor's shape (``failed``) rather than as problem+json."""
    return any(path == p or path.startswith(p + "/") for p in (VENDOR_PREFIX, CSLU_PI_BASE))


def failed(problem: Mapping[str, Any]) -> dict[str, Any]:
    """The vendor's failure answer (domain-notes 5.3: ``{"status": "FAILED", "message": ...}``;
    the management API's ``statusMessage`` too)
    for a problem body; the problem's own members but ``status`` stay (``code``, ``detail``,
    ``pointer``, ``request_id``), so our clients read both shapes alike."""
    out: dict[str, Any] = {
        "status": "FAILED",
        "message_code": problem.get("code"),
        "message": problem.get("detail"),
        "statusMessage": problem.get("detail"),  # what the management API's tools read
    }
    out.update((k, v) for k, v in problem.items() if k != "status")
    return out
