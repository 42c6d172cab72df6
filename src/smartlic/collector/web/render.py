"""Rendering for the collector's page: the Jinja2 environment, the page and its error answers.

Every route of the page uses ``PageRoute``: without a session a GET is sent to the login form
and a POST is refused (401, the login form); a ``SmartlicError`` from a service (a file that is
not an ACK, a wrong address...) is answered with the page itself, its message at the top and the
error's status; nothing is ever answered as problem+json or a traceback.

Usage::

    router = APIRouter(prefix=PAGE, route_class=PageRoute)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException

from smartlic.errors import SmartlicError
from smartlic.web.sessions import csrf_token

__all__ = ["PAGE", "LoginRequired", "PageRoute", "flash", "redirect", "render"]

PAGE = "/ui"
log = logging.getLogger("smartlic.collector.web")


def when(value: datetime | None) -> str:
    """Times as the CSLU table shows them: ``23-Feb-2021 14:59``; a dash for none."""
    return value.strftime("%d-%b-%Y %H:%M") if value else "-"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.globals["page"] = PAGE
    return env


templates = Jinja2Templates(env=_environment())


class LoginRequired(Exception):
    """No valid session: a GET goes to the login form, a POST is refused."""


def flash(request: Request, kind: str, text: str) -> None:
    """A message shown once, on the next page rendered for this session."""
    request.session.setdefault("flash", []).append([kind, text])


def render(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    messages = request.session.pop("flash", [])
    context.update(csrf_token=csrf_token(request), flashes=messages)
    return templates.TemplateResponse(request, name, context, status_code=status)


def redirect(path: str) -> RedirectResponse:
    """After a POST: see the result with a GET (303)."""
    return RedirectResponse(path, status_code=303)


Handler = Callable[[Request], Coroutine[Any, Any, Response]]
# set by the route module: renders the page (or the login form) with an error message
ErrorPage = Callable[[Request, int, str], Response]


def _invalid(exc: RequestValidationError) -> str:
    first: dict[str, Any] = next(iter(exc.errors()), {})
    where = ".".join(str(p) for p in first.get("loc", ())[1:])
    return f"{where}: {first.get('msg', 'invalid value')}" if where else "invalid request"


class PageRoute(APIRoute):
    """An ``APIRoute`` whose refusals are the page with a message (module docstring)."""

    error_page: ErrorPage

    def get_route_handler(self) -> Handler:
        handler, show = super().get_route_handler(), type(self).error_page

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                if request.method == "GET":
                    return redirect(f"{PAGE}/login")
                return show(request, 401, "Log in with the collector's REST API token first.")
            except SmartlicError as exc:
                return show(request, exc.status, exc.detail)
            except RequestValidationError as exc:
                return show(request, 422, _invalid(exc))
            except StarletteHTTPException as exc:
                return show(request, exc.status_code, str(exc.detail))
            except Exception:
                log.exception("collector page %s failed", request.url.path)
                return show(request, 500, "the page failed; the error has been logged")

        return guarded
