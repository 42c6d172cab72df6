"""Smart Licensing Using Policy at the authority (docs/usage-protocol.md): the vendor-compatible
device API bodies, usage data files, usage history and authorization codes (SLAC).

The device API bodies are passed to the services as sent (the services check every field and
signature); the models here add the outer shape check and document the messages.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from smartlic.authority.api.schemas._base import InputModel, PublicModel

__all__ = [
    "AuthorizationCodePublic",
    "AuthorizationCodesPublic",
    "AuthorizationReturn",
    "OkPollPublic",
    "PollAnswerPublic",
    "TrustPublic",
    "UsageFilePublic",
    "UsageFilesPublic",
    "UsageRecordPublic",
    "UsageRecordsPublic",
    "VendorRequest",
]


class _Passthrough(BaseModel):
    model_config = ConfigDict(extra="allow")


class VendorRequest(_Passthrough):
    """``{"data": {"timestamp": <epoch ms>, "nonce": "...", ...}}`` (domain-notes 5.3)."""

    data: dict[str, Any] = Field(
        description="reportusage: `reports`; authrequest: `requests` / `returns`; poll: "
        "`poll_id`, `action`. Always `timestamp` (epoch ms) and `nonce`.",
    )


class OkPollPublic(_Passthrough):
    """The request was taken; ask ``/v2/accounts/poll`` for the result."""

    status: str = Field(examples=["OK_POLL"])
    poll_id: int
    poll_interval: int = Field(description="seconds the client should wait between polls")
    action: str | None = Field(default=None, examples=["acknowledgements", "authorizations"])


class PollAnswerPublic(_Passthrough):
    """``OK_POLL`` while pending (``poll_interval``), then ``COMPLETE`` (``type``, ``data``)."""

    status: str = Field(examples=["OK_POLL", "COMPLETE"])
    poll_id: int
    poll_interval: int | None = Field(default=None, description="while pending")
    type: str | None = Field(default=None, examples=["acknowledgements", "authorizations"])
    data: dict[str, Any] | None = Field(
        default=None, description="when complete: `acknowledgements` or `authorizations` items"
    )


class TrustPublic(_Passthrough):
    status: str = Field(examples=["SUCCESS"])
    smart_license: str = Field(description="base64 file: trust code, policy, account info")


class UsageFilePublic(PublicModel):
    id: str
    file_name: str
    reported_at: datetime
    virtual_account: str
    status: str = Field(description="`Processed` or `Rejected`")
    instances: int
    reports: int
    rejected: int
    errors: list[dict[str, Any]]
    acknowledgement: str = Field(description="`Received` when an ACK can be downloaded")
    ack_name: str
    duplicate: bool = Field(
        False,
        description="true when these exact bytes were uploaded to this virtual account before: "
        "the answer is that upload (same id, same ACK) and nothing was processed again",
    )


class UsageFilesPublic(PublicModel):
    items: list[UsageFilePublic]
    total: int
    limit: int
    offset: int


class UsageRecordPublic(PublicModel):
    report_id: int
    tag: str
    start: datetime
    end: datetime
    last_value: int
    max_value: int
    received_at: datetime


class UsageRecordsPublic(PublicModel):
    items: list[UsageRecordPublic]
    total: int


class AuthorizationCodePublic(PublicModel):
    id: str = Field(description="the code id; one code may cover several licenses")
    udi: str
    virtual_account: str
    tag: str
    count: int
    confirmation_code: str
    issued_at: datetime
    returned_at: datetime | None


class AuthorizationCodesPublic(PublicModel):
    items: list[AuthorizationCodePublic]
    total: int


class AuthorizationReturn(InputModel):
    return_code: str = Field(
        min_length=1,
        max_length=400,
        description="the code `license smart authorization return` printed on the device",
    )
