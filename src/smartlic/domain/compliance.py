"""Compliance arithmetic, pure: what a holding counts at a given time, and pool status.

"Term licenses - licenses that automatically expire after a set amount of time"; "demo licenses
that expire after at most 60 days" (first reference document, "Licenses").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from smartlic.domain.enums import ComplianceStatus, HoldingKind
from smartlic.errors import InvalidInput

__all__ = [
    "DEMO_MAX",
    "MAX_QUANTITY",
    "HoldingTerms",
    "holding_active",
    "pool_status",
    "purchased",
    "validate_holding",
]

DEMO_MAX = timedelta(days=60)
MAX_QUANTITY = 10_000_000


@dataclass(frozen=True, slots=True)
class HoldingTerms:
    quantity: int
    kind: HoldingKind
    starts_at: datetime | None
    ends_at: datetime | None


def holding_active(h: HoldingTerms, now: datetime) -> bool:
    """A perpetual holding always counts; term and demo ones between start and end."""
    if h.starts_at is not None and now < h.starts_at:
        return False
    return h.ends_at is None or now < h.ends_at


def purchased(holdings: Iterable[HoldingTerms], now: datetime) -> int:
    return sum(h.quantity for h in holdings if holding_active(h, now))


def pool_status(purchased_qty: int, in_use: int, reserved: int = 0) -> ComplianceStatus:
    if in_use + reserved > purchased_qty:
        return ComplianceStatus.OUT_OF_COMPLIANCE
    return ComplianceStatus.IN_COMPLIANCE


def validate_holding(h: HoldingTerms, now: datetime) -> HoldingTerms:
    """Check a new holding's terms; fill a demo's or term's start with ``now``."""
    if isinstance(h.quantity, bool) or not 1 <= h.quantity <= MAX_QUANTITY:
        raise InvalidInput(f"quantity must be 1-{MAX_QUANTITY}", pointer="/quantity")
    starts = h.starts_at
    if h.kind is HoldingKind.PERPETUAL:
        if h.ends_at is not None:
            raise InvalidInput("a perpetual license has no end date", pointer="/ends_at")
        return HoldingTerms(h.quantity, h.kind, starts, None)
    starts = starts or now
    if h.ends_at is None:
        raise InvalidInput(f"a {h.kind.value} license needs an end date", pointer="/ends_at")
    if h.ends_at <= starts:
        raise InvalidInput("the end date must be after the start date", pointer="/ends_at")
    if h.kind is HoldingKind.DEMO and h.ends_at - starts > DEMO_MAX:
        raise InvalidInput("a demo license lasts at most 60 days", pointer="/ends_at")
    return HoldingTerms(h.quantity, h.kind, starts, h.ends_at)
