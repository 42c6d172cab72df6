"""Schemas of jobs, reports, notifications, webhooks and usage trends."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import Field

from smartlic.authority.api.schemas._base import InputModel, PublicModel
from smartlic.authority.services.notifications import NoticeEvent
from smartlic.domain.reports import Frequency, ReportKind


class JobPublic(PublicModel):
    name: str
    description: str
    every_s: float
    next_run_at: datetime
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_status: str = Field(description="never, ok or failed")
    last_error: str | None
    runs: int
    running: bool


class JobRunPublic(PublicModel):
    name: str
    status: str
    summary: str


class ReportCreate(InputModel):
    kind: ReportKind = ReportKind.MANUAL
    virtual_account: str | None = Field(default=None, max_length=200)


class ReportPublic(PublicModel):
    id: str
    smart_account: str
    virtual_account: str | None
    kind: ReportKind
    generated_at: datetime
    generated_by: str
    parameters: dict[str, Any]
    shortfalls: int
    rows: list[dict[str, Any]] = Field(description="one per pool; empty in lists")


class ReportsPublic(PublicModel):
    items: list[ReportPublic]
    total: int


class ScheduleCreate(InputModel):
    frequency: Frequency
    time_of_day: str = Field(default="06:00", pattern=r"^\d\d:\d\d$", description="HH:MM UTC")
    virtual_account: str | None = Field(default=None, max_length=200)


class SchedulePublic(PublicModel):
    id: str
    smart_account: str
    virtual_account: str | None
    frequency: Frequency
    time_of_day: str
    next_run_at: datetime


class SubscriptionCreate(InputModel):
    user: str = Field(max_length=100)
    event: NoticeEvent
    digest: bool = False


class SubscriptionPublic(PublicModel):
    id: str
    smart_account: str
    username: str
    email: str
    event: NoticeEvent
    digest: bool


class WebhookCreate(InputModel):
    url: str = Field(max_length=2000)
    events: list[str] = Field(min_length=1, max_length=20)


class WebhookPublic(PublicModel):
    id: str
    smart_account: str
    url: str
    events: list[str]
    active: bool
    created_at: datetime
    secret: str | None = Field(description="the HMAC secret, only in the creation answer")


class AttemptPublic(PublicModel):
    at: datetime
    status_code: int | None
    error: str | None


class DeliveryPublic(PublicModel):
    id: int
    endpoint_id: str
    event_name: str
    state: str = Field(description="pending, delivered or failed")
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    replay_of: int | None
    log: list[AttemptPublic]


class TrendPointPublic(PublicModel):
    day: date
    virtual_account: str
    tag: str
    license: str
    in_use: int
    purchased: int
