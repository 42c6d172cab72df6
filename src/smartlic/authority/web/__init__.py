"""The authority's web portal (the CSSM "Smart Software Manager" pages) under ``/portal``.

Server-rendered (Jinja2), no JavaScript framework, plain CSS served locally. The pages call the
same services as the REST API and apply the same tenant rules; docs/portal.md is the user's
guide.

Usage (``authority/app.py``)::

    install_portal(app, settings)
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse
from starlette.staticfiles import StaticFiles

from smartlic.authority.settings import AuthoritySettings
from smartlic.authority.web import (
    auth,
    views,
    views_accounts,
    views_api_access,
    views_authorizations,
    views_instances,
    views_notices,
    views_password,
    views_reports,
    views_reservations,
    views_tokens,
    views_users,
)
from smartlic.authority.web.render import PORTAL, PortalRoute
from smartlic.errors import NotFound
from smartlic.web.sessions import SessionCookies

__all__ = ["install_portal"]

_fallback = APIRouter(prefix=PORTAL, route_class=PortalRoute, include_in_schema=False)


@_fallback.api_route("/{path:path}", methods=["GET", "POST"])
def not_found(path: str, user: auth.OptionalUserDep) -> None:
    """Any other portal address: the 404 page, in the portal's layout."""
    raise NotFound(f"there is no portal page at /portal/{path}")


_root = APIRouter(include_in_schema=False)


@_root.get("/")
def root() -> RedirectResponse:
    """The server's address leads a person to the portal (its login page when signed out)."""
    return RedirectResponse(PORTAL, status_code=303)


def install_portal(app: FastAPI, settings: AuthoritySettings) -> None:
    """Mount the portal's pages, static files and session cookie on ``app``; ``/`` leads there."""
    static = Path(__file__).parent / "static"
    app.mount(PORTAL + "/static", StaticFiles(directory=static), name="portal-static")
    routers = (_root, auth.router, views.router, views_tokens.router, views_reports.router)
    manage = (views_accounts, views_instances, views_users, views_api_access, views_authorizations)
    for router in (*routers, views_password.router, views_notices.router,
                   views_reservations.router):  # fmt: skip
        app.include_router(router)
    for router in (m.router for m in manage):
        app.include_router(router)
    app.include_router(_fallback)  # last: only addresses no page claimed
    app.add_middleware(
        SessionCookies,
        secret_key=auth.session_secret(settings),
        session_cookie=auth.SESSION_COOKIE,
        max_age=auth.SESSION_MAX_AGE,
        path=PORTAL,
        same_site="lax",
        https_only=settings.portal_https_only,
    )
