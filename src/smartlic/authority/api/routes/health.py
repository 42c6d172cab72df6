"""Liveness: ``GET /healthz``."""

from __future__ import annotations

import smartlic
from smartlic.authority.api.deps import ClockDep
from smartlic.formats.envelope import iso
from smartlic.web.routing import GuardedRouter

router = GuardedRouter(tags=["health"])


@router.get("/healthz", summary="Liveness probe")
def healthz(clock: ClockDep) -> dict[str, str | None]:
    return {"status": "ok", "version": smartlic.__version__, "now": iso(clock.now())}
