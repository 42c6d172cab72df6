"""The problem+json body, for the OpenAPI document (built by ``smartlic.web.problems.problem``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

__all__ = [
    "ANY_REQUEST_PROBLEMS",
    "ProblemPublic",
    "VendorFailurePublic",
    "problem_responses",
    "vendor_failure_responses",
]


class ProblemPublic(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    code: str
    pointer: str | None = None
    request_id: str | None = None


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries declaring problem+json bodies for ``statuses``."""
    return {
        status: {
            "model": ProblemPublic,
            "content": {"application/problem+json": {}},
            "description": "Problem (RFC 9457)",
        }
        for status in statuses
    }


class VendorFailurePublic(BaseModel):
    """An error of the vendor device API (``formats.device_api.failed``): the vendor's
    ``status``/``message`` with the problem's ``code``, ``detail`` and ``request_id``."""

    model_config = ConfigDict(extra="allow")

    status: Literal["FAILED"]
    message_code: str
    message: str
    statusMessage: str  # the same text, where the management API's tools read it
    code: str
    detail: str
    type: str
    title: str
    pointer: str | None = None
    request_id: str | None = None


def vendor_failure_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries declaring the vendor's failure body for ``statuses``."""
    return {
        status: {
            "model": VendorFailurePublic,
            "description": 'Failure (`{"status": "FAILED", "message": ...}`)',
        }
        for status in statuses
    }


# What any operation can answer, whatever it does: a body that is not JSON (or not UTF-8) is a
# 400, a body over the size limit a 413, a parameter or body of the wrong shape a 422.
ANY_REQUEST_PROBLEMS = problem_responses(400, 413, 422)
