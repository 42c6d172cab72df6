"""Rendering for the portal: the Jinja2 environment, pages, and HTML error pages.

Every portal route uses ``PortalRoute``: whatever a page raises (a ``SmartlicError`` from a
service or a tenant check, a bad request, a bug) is answered with ``error.html`` in the
portal's layout and the error's status, never with the API's problem+json. A request without a
session is sent to the login page instead.

Usage::

    router = APIRouter(prefix=PORTAL, route_class=PortalRoute)

    @router.get("/accounts/{domain}")
    def overview(request: Request, ...) -> Response:
        return page(request, "account.html", user=user, vas=rows)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException

from smartlic.errors import SmartlicError

__all__ = [
    "PORTAL",
    "LoginRequired",
    "PortalRoute",
    "error_page",
    "flash",
    "page",
    "redirect",
]

PORTAL = "/portal"
log = logging.getLogger("smartlic.authority.web")
_HERE = Path(__file__).parent


def when(value: datetime | None) -> str:
    """Dates as the portal shows them: ``2026-Jan-01 12:00 UTC``; a dash for none."""
    return value.strftime("%Y-%b-%d %H:%M UTC") if value else "-"


def segment(value: object) -> str:
    """One path segment of a portal address (a virtual account name may hold spaces or ?#)."""
    return quote(str(value), safe="")


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(_HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["seg"] = segment
    env.globals["portal"] = PORTAL
    return env


templates = Jinja2Templates(env=_environment())


class LoginRequired(Exception):
    """No valid session: the page answers with a redirect to the login form."""


def flash(request: Request, kind: str, text: str) -> None:
    """A message shown once, on the next page rendered for this session."""
    request.session.setdefault("flash", []).append([kind, text])


def _take_flashes(request: Request) -> list[list[str]]:
    messages = request.session.pop("flash", [])
    return messages if isinstance(messages, list) else []


def page(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    """Render template ``name`` with the layout's context (CSRF token, messages)."""
    from smartlic.authority.web.auth import csrf_token

    context.setdefault("user", None)
    context.update(csrf_token=csrf_token(request), flashes=_take_flashes(request))
    return templates.TemplateResponse(request, name, context, status_code=status)


def redirect(path: str) -> RedirectResponse:
    """After a POST: see the result with a GET (303)."""
    return RedirectResponse(path, status_code=303)


def error_page(request: Request, status: int, title: str, detail: str) -> Response:
    user = getattr(request.state, "portal_user", None)
    return page(request, "error.html", status, user=user, title=title, detail=detail, code=status)


def _login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return redirect(f"{PORTAL}/login?next={quote(target)}")


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def _invalid(exc: RequestValidationError) -> str:
    first: dict[str, Any] = next(iter(exc.errors()), {})
    where = ".".join(str(p) for p in first.get("loc", ())[1:])
    return f"{where}: {first.get('msg', 'invalid value')}" if where else "invalid request"


class PortalRoute(APIRoute):
    """An ``APIRoute`` whose errors are HTML pages (see the module docstring)."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                return _login_redirect(request)
            except SmartlicError as exc:
                return error_page(request, exc.status, exc.title, exc.detail)
            except RequestValidationError as exc:
                return error_page(request, 422, "Invalid input", _invalid(exc))
            except StarletteHTTPException as exc:
                return error_page(request, exc.status_code, "Error", str(exc.detail))
            except Exception:
                log.exception("portal page %s failed", request.url.path)
                detail = "the portal failed to show this page; the error has been logged"
                return error_page(request, 500, "Internal error", detail)

        return guarded
