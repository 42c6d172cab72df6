"""The problem+json body, for the OpenAPI document (built by ``smartlic.web.problems.problem``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["ProblemPublic", "problem_responses"]


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
