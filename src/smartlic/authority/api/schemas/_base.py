"""Shared bases of the API schemas."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, PlainValidator
from pydantic_core import PydanticCustomError

from smartlic.domain.compliance import MAX_QUANTITY

__all__ = ["DOMAIN_PATTERN", "MAX_QUANTITY", "NAME_PATTERN", "InputModel", "PublicModel", "as_sent"]
# Lower-case DNS name with at least one dot (length is checked by max_length).
DOMAIN_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$"
NAME_PATTERN = r"^[^/\x00-\x1f]+$"


class InputModel(BaseModel):
    """Request bodies: unknown fields are an error, strings are stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PublicModel(BaseModel):
    """Response bodies, built from the service DTOs."""

    model_config = ConfigDict(from_attributes=True)


def _json_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PydanticCustomError(
            "model_attributes_type",
            "Input should be a valid dictionary or object to extract fields from",
        )
    return value


def as_sent(model: type[BaseModel]) -> PlainValidator:
    """``Annotated[dict[str, Any], as_sent(Model)]``: a request body handed to the service
    exactly as the client sent it (the parsed JSON object, unknown fields included),
    documented in the OpenAPI document as ``Model``.

    For bodies the service checks field by field itself (signed envelopes, registrations,
    usage reports): validating them into ``model`` and dumping them back cost a walk of the
    whole body twice per request for nothing the service does not do again. A body that is
    not a JSON object is still refused here (422, as ``model`` would); malformed JSON is 400
    as for any body, and the body limit middleware has bounded its size and nesting."""
    return PlainValidator(_json_object, json_schema_input_type=model)
