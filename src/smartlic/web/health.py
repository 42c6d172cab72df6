"""Liveness and readiness for the authority and the collector: ``/healthz`` and ``/readyz``.

``/healthz`` answers as long as the process serves (a load balancer restarts it when not).
``/readyz`` answers 200 only when the database answers and its schema is at the migrations'
head (so an instance started before ``db upgrade`` finished, or pointed at an old database,
gets no traffic); otherwise 503 with what is wrong, as ``application/problem+json``.

Usage::

    install_health(app, Readiness(engine, alembic_cfg, version_table="alembic_version"))
"""

from __future__ import annotations

from dataclasses import dataclass

from alembic.config import Config
from alembic.script import ScriptDirectory
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

import smartlic

__all__ = ["Readiness", "install_health"]


@dataclass
class Readiness:
    """Is the database reachable and at the schema this code was written for?"""

    engine: Engine
    head: str | None
    version_table: str = "alembic_version"

    @classmethod
    def of(cls, engine: Engine, cfg: Config, version_table: str = "alembic_version") -> Readiness:
        """The head is read from the migration scripts once, at start-up."""
        return cls(engine, ScriptDirectory.from_config(cfg).get_current_head(), version_table)

    def problem(self) -> str | None:
        """``None`` when ready, else why not."""
        try:
            with self.engine.connect() as conn:
                row = conn.execute(text(f"SELECT version_num FROM {self.version_table}")).first()
        except SQLAlchemyError as exc:
            return f"the database does not answer or has no schema ({type(exc).__name__})"
        at = row[0] if row else None
        if at != self.head:
            return f"the database schema is at {at or 'nothing'}, this code needs {self.head}"
        return None


def install_health(app: FastAPI, readiness: Readiness, *, liveness: bool = True) -> None:
    """``GET /readyz`` (database and schema) on ``app``, and ``GET /healthz`` unless the app
    has its own (``liveness=False``: the authority's also tells its clock)."""
    if liveness:

        @app.get("/healthz", tags=["health"], summary="Liveness probe")
        def healthz() -> dict[str, str]:
            return {"status": "ok", "version": smartlic.__version__}

    @app.get(
        "/readyz",
        tags=["health"],
        summary="Readiness probe: database reachable, schema at head",
        responses={503: {"description": "Not ready: the reason is in `detail`"}},
    )
    def readyz() -> JSONResponse:
        problem = readiness.problem()
        if problem is None:
            return JSONResponse({"status": "ready", "schema": readiness.head})
        body = {
            "type": "about:blank",
            "title": "Not ready",
            "status": 503,
            "detail": problem,
            "code": "not-ready",
        }
        return JSONResponse(body, status_code=503, media_type="application/problem+json")
