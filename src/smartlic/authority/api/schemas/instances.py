"""Product instances (devices) and the event log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from smartlic.authority.api.schemas._base import NAME_PATTERN, InputModel, PublicModel

__all__ = [
    "EventPublic",
    "EventsPublic",
    "InstancePublic",
    "InstanceTransfer",
    "InstancesPublic",
    "TransferLinePublic",
    "TransferPreviewPublic",
    "UsagePublic",
]


class UsagePublic(PublicModel):
    tag: str
    count: int
    status: str


class InstancePublic(PublicModel):
    id: str
    smart_account: str
    virtual_account: str
    udi_pid: str
    udi_sn: str
    hostname: str
    software_tag: str
    registered_at: datetime
    last_contact_at: datetime | None
    status: str
    alerts: list[str]
    usage: list[UsagePublic]
    certificate_expires: datetime | None
    report_due: datetime | None = Field(
        default=None, description="policy mode: when the next usage report is due"
    )


class InstancesPublic(PublicModel):
    items: list[InstancePublic]
    total: int | None = Field(description="matching rows; null on a keyset (cursor) page")
    limit: int
    offset: int
    next_cursor: str | None = Field(
        default=None, description="pass as `cursor` for the next page; null on the last"
    )
    next: str | None = Field(default=None, description="the next page's path and query")


class InstanceTransfer(InputModel):
    target: str = Field(min_length=1, max_length=100, pattern=NAME_PATTERN)


class TransferLinePublic(PublicModel):
    tag: str
    name: str
    moving: int = Field(description="in use and reserved by the instance")
    purchased: int = Field(description="purchased in the target virtual account, now")
    in_use_after: int = Field(description="in use and reserved in the target after the move")
    status: str = Field(description="the target pool's compliance status after the move")


class TransferPreviewPublic(PublicModel):
    instance_id: str
    source: str
    target: str
    lines: list[TransferLinePublic]
    out_of_compliance: bool
    warnings: list[str]


class EventPublic(PublicModel):
    id: int
    at: datetime
    name: str
    actor: str
    smart_account: str | None
    virtual_account: str | None
    subject: str | None
    properties: dict[str, Any]


class EventsPublic(PublicModel):
    items: list[EventPublic]
    total: int | None = Field(description="matching rows; null on a keyset (cursor) page")
    limit: int
    offset: int
    next_cursor: str | None = Field(
        default=None, description="pass as `cursor` for the next page; null on the last"
    )
    next: str | None = Field(default=None, description="the next page's path and query")
