"""Liveness: ``GET /healthz``.

An ``async`` route: it only reads the clock, so it runs on the event loop; a sync one went
through the thread pool twice per probe (the route, then its answer's validation): about a
third of its server CPU (docs/benchmarks.md, "The HTTP layer's tax")."""

from __future__ import annotations

import smartlic
from smartlic.authority.api.deps import ClockDep
from smartlic.formats.envelope import iso
from smartlic.web.routing import GuardedRouter

router = GuardedRouter(tags=["health"])


@router.get("/healthz", summary="Liveness probe")
async def healthz(clock: ClockDep) -> dict[str, str | None]:
    return {"status": "ok", "version": smartlic.__version__, "now": iso(clock.now())}
