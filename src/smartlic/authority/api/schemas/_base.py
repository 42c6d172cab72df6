"""Shared bases of the API schemas."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from smartlic.domain.compliance import MAX_QUANTITY

__all__ = ["DOMAIN_PATTERN", "MAX_QUANTITY", "NAME_PATTERN", "InputModel", "PublicModel"]
# Lower-case DNS name with at least one dot (length is checked by max_length).
DOMAIN_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$"
NAME_PATTERN = r"^[^/\x00-\x1f]+$"


class InputModel(BaseModel):
    """Request bodies: unknown fields are an error, strings are stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PublicModel(BaseModel):
    """Response bodies, built from the service DTOs."""

    model_config = ConfigDict(from_attributes=True)
