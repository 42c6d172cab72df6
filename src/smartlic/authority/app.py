"""The authority's ASGI application.

Usage::

    app = create_app(AuthoritySettings())                 # engine, keys, services from settings
    app = create_app(settings, clock=ManualClock())       # tests and demos move time themselves
    app = create_app(settings, clock=clock, services=s)   # services already built (tests)

``uvicorn --factory smartlic.authority.app:app_from_env`` serves it from the environment.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from anyio import to_thread
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from sqlalchemy import Engine
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

import smartlic
from smartlic.authority.api import cssm
from smartlic.authority.api.routes import ROUTERS
from smartlic.authority.api.schemas.problem import ANY_REQUEST_PROBLEMS
from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.services import Services, build_services
from smartlic.authority.services.figures import StateFigures
from smartlic.authority.services.jobs import BackgroundJobs
from smartlic.authority.services.login_throttle import LoginPolicy
from smartlic.authority.settings import AuthoritySettings
from smartlic.authority.web import install_portal
from smartlic.authority.web.render import PORTAL
from smartlic.clock import Clock, clock_from_env
from smartlic.formats.device_api import VENDOR_PREFIX
from smartlic.storage.migrate import alembic_config
from smartlic.web.headers import SecurityHeadersMiddleware
from smartlic.web.health import Readiness, install_health
from smartlic.web.limits import BodyLimitMiddleware, BodyPolicy, RouteLimit
from smartlic.web.metrics import install_metrics
from smartlic.web.problems import install_problem_handlers
from smartlic.web.request_id import RequestIdMiddleware

__all__ = ["app_from_env", "body_policy", "build_from_settings", "create_app", "login_policy"]

DESCRIPTION = """\
The smartlic **authority** (the CSSM role): smart and virtual accounts, licenses, registration
tokens and product instances.

* Management API under `/api/v1`, authenticated with an API key
  (`Authorization: Bearer slk_...` or `X-API-Key: slk_...`).
* Device protocol v1 under `/api/device/v1` (signed envelopes, docs/device-protocol.md).
* Every error is `application/problem+json` with a stable `code`.
"""


def build_from_settings(settings: AuthoritySettings, clock: Clock) -> tuple[Engine, Services]:
    """Engine, keys and services for ``settings`` (keys are created on first use)."""
    from smartlic.storage import make_engine

    engine = make_engine(settings.database)
    keys = AuthorityKeys.load_or_create(settings.keys_path, clock.now())
    services = build_services(
        engine,
        clock,
        keys,
        replay_window_s=settings.replay_window_s,
        archive_limits=settings.archive_limits(),
        login_policy=login_policy(settings),
        smtp=settings.smtp(),
        revocation_stamp=settings.revocation_stamp,
        egress=settings.egress(),
        collector_sync=timedelta(seconds=settings.collector_sync_s),
    )
    return engine, services


def body_policy(settings: AuthoritySettings) -> BodyPolicy:
    """Request body limits by route (docs/security.md, "Limits"): file uploads and batched
    usage reports have their own; everything else (device protocol, polls, the management
    API, portal forms) ``max_body_bytes``. Vendor paths answer the vendor's error shape."""
    va = "/api/v1/accounts/[^/]+/virtual-accounts/[^/]+"
    uploads = rf"{va}/(usage-files|authorization-requests)|/portal/accounts/[^/]+/usage-files"
    return BodyPolicy.from_settings(
        settings,
        routes=(
            RouteLimit(uploads, settings.max_upload_bytes),
            RouteLimit(VENDOR_PREFIX + "/v2/devices/reportusage", settings.max_report_bytes),
        ),
    )


def login_policy(settings: AuthoritySettings) -> LoginPolicy:
    """The portal's log-in throttling rules from the ``portal_login_*`` settings."""
    return LoginPolicy(
        window=timedelta(seconds=settings.portal_login_window_s),
        per_user_address=settings.portal_login_max_failures,
        per_address=settings.portal_login_max_failures_per_address,
        per_user=settings.portal_login_max_failures_per_user,
    )


def create_app(
    settings: AuthoritySettings,
    clock: Clock | None = None,
    services: Services | None = None,
) -> FastAPI:
    """The FastAPI app; builds engine, keys and services from ``settings`` unless given."""
    clock = clock or clock_from_env()
    engine: Engine | None = None
    if services is None:
        engine, services = build_from_settings(settings, clock)

    # The server runs the jobs itself; with services handed in (tests), only when the settings
    # ask for it explicitly, so a test's store changes only by what the test does.
    explicit = "jobs_interval_s" in settings.model_fields_set
    jobs_every = settings.jobs_interval_s if engine is not None or explicit else 0.0

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # the thread pool every sync route runs on (anyio's default limiter: 40 tokens;
        # settings.request_threads says why fewer)
        to_thread.current_default_thread_limiter().total_tokens = settings.threads
        with BackgroundJobs(services.jobs, jobs_every):  # services/jobs.py
            yield
        if engine is not None:  # only what create_app built itself
            engine.dispose()

    app = FastAPIOffline(  # Swagger UI and ReDoc assets served locally: air-gapped sites
        title="smartlic authority",
        version=smartlic.__version__,
        description=DESCRIPTION,
        docs_url="/docs",
        openapi_url="/openapi.json",
        lifespan=lifespan,
        responses=ANY_REQUEST_PROBLEMS,
    )
    app.state.settings = settings
    app.state.clock = clock
    app.state.services = services
    install_problem_handlers(app)
    app.add_middleware(BodyLimitMiddleware, policy=body_policy(settings))
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(cssm.VendorPathMiddleware)  # //services/api and trailing slashes
    # the vendor's paths first: tools call few of them, often (a token per run), and a route
    # is found by walking the routers in order (the /api/v1 ones pay for six short routers)
    for router in (*cssm.ROUTERS, *ROUTERS):
        app.include_router(router)
    db = services.engine
    install_health(app, Readiness.of(db, alembic_config(settings.database)), liveness=False)
    install_metrics(app, server="authority", probe=StateFigures(db).samples)
    install_portal(app, settings)  # the web portal under /portal (docs/portal.md)
    app.add_middleware(SecurityHeadersMiddleware, no_store=_portal_page)
    if settings.proxy_hosts:  # outermost: every layer sees the client's address and scheme
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.proxy_hosts)
    return app


def _portal_page(path: str) -> bool:
    return path.startswith(PORTAL + "/") and not path.startswith(PORTAL + "/static/")


def app_from_env() -> FastAPI:
    """Factory for uvicorn (``--factory``): settings and clock from the environment."""
    return create_app(AuthoritySettings())
