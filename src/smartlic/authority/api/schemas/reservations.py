"""Bodies of license reservations (SLR / PLR) and node-locked license files."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, model_validator

from smartlic.authority.api.schemas._base import MAX_QUANTITY, InputModel, PublicModel

__all__ = [
    "LicenseFileCreate",
    "LicenseFilePublic",
    "ReservationCreate",
    "ReservationPublic",
    "ReservationsPublic",
]


class ReservationCreate(InputModel):
    request_code: str = Field(min_length=8, max_length=300, description="the device's request code")
    licenses: dict[str, int] = Field(
        default_factory=dict,
        max_length=200,
        description="entitlement tag or license name -> count (a specific reservation)",
    )
    universal: bool = Field(False, description="a universal reservation (PLR): no licenses")

    @model_validator(mode="after")
    def _counts(self) -> ReservationCreate:
        for name, count in self.licenses.items():
            if len(name) > 255 or not 1 <= count <= MAX_QUANTITY:
                raise ValueError(f"licenses: {name[:40]!r} needs a count of 1-{MAX_QUANTITY}")
        return self


class ReservationPublic(PublicModel):
    id: str
    udi: str
    virtual_account: str
    reservation_type: str
    request_code: str
    authorization_code: str
    confirmation_code: str
    licenses: dict[str, int]
    issued_at: datetime
    returned_at: datetime | None


class ReservationsPublic(PublicModel):
    items: list[ReservationPublic]
    total: int


class LicenseFileCreate(InputModel):
    udi: str = Field(
        min_length=3, max_length=140, description="PID:<pid>,SN:<serial>, or <pid>:<serial>"
    )
    feature: str = Field(min_length=1, max_length=255, description="license tag or name")
    count: int | None = Field(None, ge=1, le=MAX_QUANTITY, description="none: uncounted")
    eval_days: int | None = Field(None, ge=1, le=3650, description="evaluation period (days)")
    standalone: bool = Field(
        False, description="a standalone traditional entitlement, not from the pool's holdings"
    )


class LicenseFilePublic(PublicModel):
    serial: str
    udi: str
    feature: str
    file: str = Field(description="the signed license file (XML)")
