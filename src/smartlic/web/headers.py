"""Security headers on every response of the authority (API, portal) and the collector.

* ``Content-Security-Policy``: nothing may load but our own scripts, styles and images; no
  inline script or style (the portal's templates have none: a test renders every page and
  checks), no framing, forms post only to us. The offline Swagger UI and ReDoc pages
  (``/docs``, ``/redoc``) start themselves with an inline script, so those pages alone allow
  ``'unsafe-inline'`` - they show only the public OpenAPI document.
* ``X-Frame-Options: DENY`` (older browsers' ``frame-ancestors``): no clickjacking.
* ``X-Content-Type-Options: nosniff``: an uploaded file is never run as a script.
* ``Referrer-Policy: no-referrer``: portal addresses name accounts; they never leak off-site.
* ``Strict-Transport-Security`` on responses to HTTPS requests (the scheme as uvicorn, or a
  trusted proxy's ``X-Forwarded-Proto``, set it).
* ``Cache-Control: no-store`` on the paths ``no_store`` selects (the portal's pages), so
  a shared computer's browser keeps no copy of account pages after logout.

A header the application already set is left as it is.

Usage::

    app.add_middleware(SecurityHeadersMiddleware, no_store=lambda path: path.startswith("/portal"))
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["DOCS_CSP", "PAGE_CSP", "SecurityHeadersMiddleware"]

_LOCKED = "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
PAGE_CSP = f"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; {_LOCKED}"
DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    f"img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src blob:; {_LOCKED}"
)
DOCS_PATHS = ("/docs", "/redoc")
HSTS = "max-age=31536000"

_ALWAYS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _is_docs(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in DOCS_PATHS)


def _never(path: str) -> bool:
    return False


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, no_store: Callable[[str], bool] = _never) -> None:
        self.app = app
        self.no_store = no_store

    def _headers(self, scope: Scope) -> dict[str, str]:
        path = scope.get("path", "")
        wanted = {
            **_ALWAYS,
            "Content-Security-Policy": DOCS_CSP if _is_docs(path) else PAGE_CSP,
        }
        if scope.get("scheme") == "https":
            wanted["Strict-Transport-Security"] = HSTS
        if self.no_store(path):
            wanted["Cache-Control"] = "no-store"
        return wanted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = self._headers(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in wanted.items():
                    if name not in headers:
                        headers.append(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
