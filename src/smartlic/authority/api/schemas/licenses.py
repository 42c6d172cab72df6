"""The license catalogue, holdings (purchases), the compliance view and transfers."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, Field

from smartlic.authority.api.schemas._base import MAX_QUANTITY, NAME_PATTERN, InputModel, PublicModel
from smartlic.domain.enums import ComplianceStatus, Enforcement, HoldingKind

__all__ = [
    "CompliancePublic",
    "HoldingCreate",
    "HoldingPublic",
    "LicenseCreate",
    "LicensePublic",
    "LicensesPublic",
    "PoolLinePublic",
    "TransferCreate",
    "TransferPublic",
]

TAG_EXAMPLE = "regid.2026-01.org.smartlic.metroipaccess,1.0_0f4d6b0e-0000-5000-8000-000000000000"


class LicenseCreate(InputModel):
    tag: str = Field(min_length=1, max_length=255, examples=[TAG_EXAMPLE])
    name: str = Field(min_length=1, max_length=100, examples=["metroipaccess"])
    display_name: str = Field(min_length=1, max_length=200, examples=["Device METRO IP ACCESS"])
    description: str = Field(default="", max_length=1000)
    version: str = Field(default="1.0", min_length=1, max_length=32)
    enforcement: Enforcement = Enforcement.UNENFORCED


class LicensePublic(PublicModel):
    tag: str
    name: str
    display_name: str
    description: str
    version: str
    enforcement: Enforcement


class LicensesPublic(PublicModel):
    items: list[LicensePublic]
    total: int


class HoldingCreate(InputModel):
    """A purchase landing in a virtual account: a quantity of one license."""

    tag: str = Field(min_length=1, max_length=255)
    quantity: int = Field(gt=0, le=MAX_QUANTITY, strict=True)
    kind: HoldingKind = HoldingKind.PERPETUAL
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    subscription_id: str | None = Field(default=None, max_length=100)


class HoldingPublic(PublicModel):
    id: str
    tag: str
    quantity: int
    kind: HoldingKind
    starts_at: datetime | None
    ends_at: datetime | None
    subscription_id: str | None
    active: bool


class PoolLinePublic(PublicModel):
    tag: str
    name: str
    display_name: str
    enforcement: Enforcement
    purchased: int
    in_use: int
    reserved: int
    available: int
    status: ComplianceStatus
    holdings: list[HoldingPublic]
    instances_concerned: list[str]


class CompliancePublic(PublicModel):
    """The license list of one virtual account, which is its compliance view."""

    smart_account: str
    virtual_account: str
    status: ComplianceStatus
    lines: list[PoolLinePublic]
    computed_at: datetime


class TransferCreate(InputModel):
    tag: str = Field(min_length=1, max_length=255)
    quantity: int = Field(gt=0, le=MAX_QUANTITY, strict=True)
    target: str = Field(min_length=1, max_length=100, pattern=NAME_PATTERN)
    kind: HoldingKind | None = Field(
        default=None,
        description="Move only holdings of this kind (perpetual, term or demo); absent: any "
        "kind, perpetual first, then the longest term first.",
    )


class TransferPublic(PublicModel):
    smart_account: str
    source: str
    target: str
    tag: str
    quantity: int
    kind: HoldingKind | None = None
