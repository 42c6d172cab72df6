"""Custom policies of a smart account or one of its virtual accounts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from smartlic.authority.api.schemas._base import NAME_PATTERN, PublicModel

__all__ = ["PoliciesPublic", "PolicyCreate", "PolicyDocument", "PolicyPublic"]


class PolicyCreate(BaseModel):
    """A policy as ``smartlic.domain.policy.Policy.to_json()`` writes it (``name``,
    ``ack_required``, ``groups`` with all four license groups), plus where it applies. The
    policy service validates the document itself; its errors point into it."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    virtual_account: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        pattern=NAME_PATTERN,
        description="assign to this virtual account; omitted: the whole smart account",
    )

    def document(self) -> dict[str, Any]:
        return self.model_dump(exclude={"virtual_account"})


class PolicyDocument(BaseModel):
    """A policy document (the one in force, as a device receives it)."""

    model_config = ConfigDict(extra="allow")

    name: str
    ack_required: bool
    source: str
    groups: dict[str, dict[str, int]]


class PolicyPublic(PublicModel):
    id: str
    name: str
    virtual_account: str | None = Field(description="null: the whole smart account")
    document: dict[str, Any]
    active: bool
    created_at: datetime


class PoliciesPublic(PublicModel):
    items: list[PolicyPublic]
    total: int
