"""Browser sessions shared by the authority's portal and the collector's page: the signed
session cookie, its signing key kept in the data directory, and the CSRF token every POST form
carries.

* The cookie is Starlette's ``SessionMiddleware`` (signed with ``itsdangerous``, HttpOnly),
  ``Secure`` when the request came over HTTPS (directly, or from a trusted proxy's
  ``X-Forwarded-Proto``) and always with ``https_only``.
* Only requests a browser sends the cookie with (RFC 6265's path match on ``path``) go
  through the session: the device protocol and the APIs skip it (no cookie parsed, no
  ``request.session``: a route outside ``path`` that used one would fail loudly).
* ``secret_file`` keeps the signing key in a file of the data directory (created once, mode
  0600): processes serving one data directory share it.
* ``checked_form`` reads a POSTed form only once its ``csrf_token`` matches the session's,
  compared in constant time (a cross-site form cannot read the token).

Usage::

    app.add_middleware(SessionCookies, secret_key=secret_file(dir / "web-secret"),
                       session_cookie="name", path="/ui", https_only=False)
    form: FormData = await checked_form(request)          # 403 ``csrf`` otherwise
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path
from typing import Any

from fastapi import Request
from starlette.datastructures import FormData
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from smartlic.errors import Forbidden, InvalidInput
from smartlic.formats.bounds import decimal

__all__ = ["SessionCookies", "checked_form", "csrf_token", "secret_file"]


def secret_file(path: Path) -> str:
    """The key in ``path``, made (random, mode 0600) the first time."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    try:  # O_EXCL: two workers starting together keep the first one's secret
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


class SessionCookies:
    """Starlette's ``SessionMiddleware`` whose cookie is ``Secure`` over HTTPS, and always
    with ``https_only``; paths outside the cookie's ``path`` pass by it."""

    def __init__(self, app: ASGIApp, /, https_only: bool, **options: Any) -> None:
        self.app = app
        self.path = str(options.get("path", "/"))
        self.plain = SessionMiddleware(app, https_only=https_only, **options)
        self.secure = SessionMiddleware(app, https_only=True, **options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not cookie_path_matches(self.path, scope.get("path", "/")):
            await self.app(scope, receive, send)
            return
        chosen = self.secure if scope.get("scheme") in ("https", "wss") else self.plain
        await chosen(scope, receive, send)


def cookie_path_matches(cookie_path: str, path: str) -> bool:
    """RFC 6265 5.1.4: does a browser send a cookie with ``cookie_path`` to ``path``?"""
    if not path.startswith(cookie_path):
        return False
    return (
        len(path) == len(cookie_path) or cookie_path.endswith("/") or path[len(cookie_path)] == "/"
    )


def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use)."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def _check_size(request: Request) -> None:
    # the size itself is bounded by the body limits (web/limits.py, max_upload_bytes)
    if decimal(request.headers.get("content-length", "")) is None:
        raise InvalidInput("a form must announce its length (Content-Length)")


async def checked_form(request: Request) -> FormData:
    """The POSTed form, once its CSRF token matches the session's."""
    _check_size(request)
    form = await request.form(max_files=1, max_fields=20)
    sent, expected = form.get("csrf_token"), request.session.get("csrf")
    if not (isinstance(sent, str) and isinstance(expected, str)) or not hmac.compare_digest(
        sent.encode(), expected.encode()
    ):
        await form.close()
        raise Forbidden(
            "the form's security token is missing or out of date: reload the page and retry",
            code="csrf",
        )
    return form
