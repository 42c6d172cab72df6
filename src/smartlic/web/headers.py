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

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["DOCS_CSP", "PAGE_CSP", "SecurityHeadersMiddleware", "add_missing"]

_LOCKED = "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
PAGE_CSP = f"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; {_LOCKED}"
DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    f"img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src blob:; {_LOCKED}"
)
DOCS_PATHS = ("/docs", "/redoc")
HSTS = "max-age=31536000"

_ALWAYS = (
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)
Header = tuple[bytes, bytes]


def _is_docs(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in DOCS_PATHS)


def _never(path: str) -> bool:
    return False


def _wanted(docs: bool, https: bool, no_store: bool) -> tuple[Header, ...]:
    csp = DOCS_CSP if docs else PAGE_CSP
    wanted = [*_ALWAYS, (b"content-security-policy", csp.encode())]
    if https:
        wanted.append((b"strict-transport-security", HSTS.encode()))
    if no_store:
        wanted.append((b"cache-control", b"no-store"))
    return tuple(wanted)


# every combination, built once: a request only picks one
_SETS = {
    (d, h, n): _wanted(d, h, n) for d in (False, True) for h in (False, True) for n in (False, True)
}


def add_missing(message: Message, wanted: tuple[Header, ...]) -> None:
    """Append to an ``http.response.start`` message the ``wanted`` headers it does not have
    (names compared case-insensitively, as ``MutableHeaders`` does)."""
    headers = message.get("headers")
    if not isinstance(headers, list):  # absent, or an immutable sequence
        headers = message["headers"] = list(headers or ())
    present = {name.lower() for name, _ in headers}
    headers.extend(h for h in wanted if h[0] not in present)


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, no_store: Callable[[str], bool] = _never) -> None:
        self.app = app
        self.no_store = no_store

    def _headers(self, scope: Scope) -> tuple[Header, ...]:
        path = scope.get("path", "")
        return _SETS[_is_docs(path), scope.get("scheme") == "https", self.no_store(path)]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = self._headers(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                add_missing(message, wanted)
            await send(message)

        await self.app(scope, receive, send_with_headers)
