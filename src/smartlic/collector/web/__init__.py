"""The collector's web page (the CSLU screen) on the REST API port, under ``/ui``.

Server-rendered (Jinja2), no JavaScript, one stylesheet served locally, under the strict
Content-Security-Policy of ``smartlic.web.headers``. It has the REST API's access rule: a person
logs in with the REST API token ``smartlic collector init`` printed; the session cookie (path
``/ui``, HttpOnly, SameSite=Strict) holds the token's SHA-256, so ``smartlic collector
rest-token`` ends every session, and every form carries a CSRF token. docs/collector.md, "Web
page", is the user's guide.

Usage (``collector/app.py``)::

    install_page(api_app, settings)
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from smartlic.collector.settings import CollectorSettings
from smartlic.collector.web.render import PAGE
from smartlic.collector.web.views import root, router
from smartlic.web.sessions import SessionCookies, secret_file

__all__ = ["PAGE", "install_page"]

SECRET_FILE = "web-secret"
SESSION_COOKIE = "smartlic_collector"
SESSION_MAX_AGE = 8 * 3600  # a working day; the token logs in again


def install_page(app: FastAPI, settings: CollectorSettings) -> None:
    """Mount the page, its stylesheet and its session cookie on the REST API app."""
    app.state.ports = {"pi": settings.pi_port, "api": settings.api_port}
    static = Path(__file__).parent / "static"
    app.mount(PAGE + "/static", StaticFiles(directory=static), name="collector-static")
    app.include_router(root)
    app.include_router(router)
    app.add_middleware(
        SessionCookies,
        secret_key=secret_file(settings.data_dir / SECRET_FILE),
        session_cookie=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        path=PAGE,
        same_site="strict",
        https_only=False,  # Secure whenever the request came over HTTPS (SessionCookies)
    )
