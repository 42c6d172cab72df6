"""Smart accounts and virtual accounts."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from smartlic.authority.api.schemas._base import (
    DOMAIN_PATTERN,
    NAME_PATTERN,
    InputModel,
    PublicModel,
)

__all__ = [
    "SmartAccountCreate",
    "SmartAccountPublic",
    "SmartAccountsPublic",
    "VirtualAccountCreate",
    "VirtualAccountPublic",
    "VirtualAccountUpdate",
    "VirtualAccountsPublic",
]


class SmartAccountCreate(InputModel):
    name: str = Field(min_length=1, max_length=200, examples=["Example Corp"])
    domain: str = Field(max_length=253, pattern=DOMAIN_PATTERN, examples=["example.com"])


class SmartAccountPublic(PublicModel):
    id: str
    name: str
    domain: str
    created_at: datetime


class SmartAccountsPublic(PublicModel):
    items: list[SmartAccountPublic]
    total: int


class VirtualAccountCreate(InputModel):
    name: str = Field(min_length=1, max_length=100, pattern=NAME_PATTERN, examples=["Lab"])
    description: str = Field(default="", max_length=1000)


class VirtualAccountUpdate(InputModel):
    name: str = Field(min_length=1, max_length=100, pattern=NAME_PATTERN, examples=["Lab-2"])


class VirtualAccountPublic(PublicModel):
    id: str
    smart_account: str
    name: str
    description: str
    is_default: bool
    created_at: datetime


class VirtualAccountsPublic(PublicModel):
    items: list[VirtualAccountPublic]
    total: int
