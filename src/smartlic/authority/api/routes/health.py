"""Liveness: ``GET /healthz``."""

from __future__ import annotations

from fastapi import APIRouter

import smartlic
from smartlic.authority.api.deps import ClockDep
from smartlic.formats.envelope import iso

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness probe")
def healthz(clock: ClockDep) -> dict[str, str | None]:
    return {"status": "ok", "version": smartlic.__version__, "now": iso(clock.now())}
