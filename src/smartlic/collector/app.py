"""The collector's two ASGI apps and the ``serve`` loop that runs both in one process.

Usage::

    pi, api = create_apps(settings, clock=ManualClock())      # tests: serve each on a port
    serve(settings)                                            # smartlic collector serve
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from sqlalchemy import Engine

import smartlic
from smartlic.authority.api.schemas.problem import ANY_REQUEST_PROBLEMS
from smartlic.clock import Clock, clock_from_env
from smartlic.collector.api import pi, rest
from smartlic.collector.services import CollectorServices, build_services
from smartlic.collector.settings import CollectorSettings
from smartlic.collector.store import VERSION_TABLE, alembic_config, open_store
from smartlic.collector.web import PAGE, install_page
from smartlic.web.headers import SecurityHeadersMiddleware
from smartlic.web.health import Readiness, install_health
from smartlic.web.limits import BodyLimitMiddleware, BodyPolicy, RouteLimit
from smartlic.web.logs import log_config
from smartlic.web.metrics import Metrics, Sample
from smartlic.web.problems import install_problem_handlers
from smartlic.web.request_id import RequestIdMiddleware

if TYPE_CHECKING:
    import uvicorn

__all__ = ["build", "create_apps", "serve"]


def build(settings: CollectorSettings, clock: Clock) -> tuple[Engine, CollectorServices]:
    engine = open_store(settings.database)
    return engine, build_services(engine, clock, settings)


def _app(
    title: str,
    description: str,
    services: CollectorServices,
    policy: BodyPolicy,
    no_store: Callable[[str], bool] = lambda path: False,
) -> FastAPI:
    # Swagger UI and ReDoc served locally (collectors sit on air-gapped sites; the
    # Content-Security-Policy allows no other origin either)
    app = FastAPIOffline(
        title=title,
        version=smartlic.__version__,
        description=description,
        responses=ANY_REQUEST_PROBLEMS,
    )
    app.state.services = services
    install_problem_handlers(app)
    app.add_middleware(BodyLimitMiddleware, policy=policy)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(SecurityHeadersMiddleware, no_store=no_store)
    return app


def body_policies(settings: CollectorSettings) -> tuple[BodyPolicy, BodyPolicy]:
    """Request body limits of the two ports (docs/security.md, "Limits"). On 8182 usage
    reports (at the vendor URLs or the one dispatching URL) get ``max_report_bytes`` and
    everything else from devices ``max_body_bytes``, answered in the vendor's error shape;
    on 8180 the ACK import gets ``max_upload_bytes``."""
    vendor = "/services/api/smart-accounts-and-licensing"
    reports = rf"{pi.BASE}(/[^/]+)?(({vendor})?/v2/devices/reportusage)?"
    pi_policy = BodyPolicy.from_settings(
        settings,
        routes=(RouteLimit(reports, settings.max_report_bytes),),
    )
    # Upload from Cisco: the REST route and the page's form take the same files
    uploads = ("/api/v1/import", f"{PAGE}/import")
    api_policy = BodyPolicy.from_settings(
        settings, routes=tuple(RouteLimit(path, settings.max_upload_bytes) for path in uploads)
    )
    return pi_policy, api_policy


def create_apps(
    settings: CollectorSettings,
    clock: Clock | None = None,
    services: CollectorServices | None = None,
) -> tuple[FastAPI, FastAPI]:
    """(product instance service app, REST API app) over one store."""
    if services is None:
        _, services = build(settings, clock or clock_from_env())
    pi_policy, api_policy = body_policies(settings)
    pi_app = _app(
        "smartlic collector: product instance service",
        "What devices speak to the collector (`/cslu/v1/pi`), docs/collector.md.",
        services,
        pi_policy,
    )
    pi_app.include_router(pi.router)
    api_app = _app(
        "smartlic collector",
        "The collector's REST API (CSLU port 8180), and its web page at `/ui`.",
        services,
        api_policy,
        no_store=lambda path: path.startswith(PAGE),  # no copy of the page after logout
    )
    api_app.include_router(rest.router)
    install_page(api_app, settings)
    _mount_satellite(pi_app, settings, services)
    _install_operations(settings, services, pi_app, api_app)
    return pi_app, api_app


def _install_operations(
    settings: CollectorSettings, services: CollectorServices, pi_app: FastAPI, api_app: FastAPI
) -> None:
    """``/healthz``, ``/readyz`` and ``/metrics`` on the REST API port (like ``/health``, without
    the token: they tell counts, never a device or a report), requests counted on both ports."""
    status = services.status
    readiness = Readiness.of(status.engine, alembic_config(settings.database), VERSION_TABLE)
    install_health(api_app, readiness)
    metrics = Metrics(server="collector", probe=lambda: _queue_figures(services))
    metrics.instrument(pi_app, "collector-pi")
    metrics.instrument(api_app, "collector-api")
    metrics.mount(api_app)


def _queue_figures(services: CollectorServices) -> list[Sample]:
    totals = services.status.totals()
    return [
        Sample("collector_devices", "Devices known to the collector", totals.devices),
        *(
            Sample("collector_reports", "Usage reports by state", getattr(totals, state),
                   {"state": state})
            for state in ("not_uploaded", "awaiting_ack", "acknowledged", "rejected")
        ),
        Sample("collector_upstream_tasks", "Polls awaiting the authority", totals.upstream_tasks),
    ]  # fmt: skip


def _mount_satellite(
    pi_app: FastAPI, settings: CollectorSettings, services: CollectorServices
) -> None:
    """A satellite also answers classic devices (device protocol v1) on the same port."""
    from smartlic.collector.satellite import Satellite, satellite_app

    sat = Satellite(settings.satellite_dir, services.status.clock)
    if services.status.prefs().satellite and sat.exists():
        pi_app.state.satellite = sat
        pi_app.mount("/", satellite_app(sat))


def serve(settings: CollectorSettings, clock: Clock | None = None) -> None:
    """Both servers and the background runner until interrupted."""
    import uvicorn

    from smartlic.collector.runner import Runner
    from smartlic.web.serving import serving_config

    engine, services = build(settings, clock or clock_from_env())
    pi_app, api_app = create_apps(settings, services=services)
    runner = Runner(services, settings)
    servers = [
        uvicorn.Server(
            serving_config(
                app,
                settings,
                host=settings.host,
                port=port,
                log_level=settings.log_level,
                log_config=log_config(settings.log_format),
            )
        )
        for app, port in ((pi_app, settings.pi_port), (api_app, settings.api_port))
    ]
    runner.start()
    try:
        asyncio.run(_serve_all(servers))
    finally:
        runner.close()
        engine.dispose()


async def _serve_all(servers: list[uvicorn.Server]) -> None:
    await asyncio.gather(*(s.serve() for s in servers))
