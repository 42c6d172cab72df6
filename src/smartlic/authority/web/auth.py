"""Portal login: server-side sessions, log-in throttling, CSRF tokens on every form, and the
tenant guards.

* The cookie is Starlette's ``SessionMiddleware``: signed with ``itsdangerous`` (HttpOnly,
  SameSite=Lax, path ``/portal``, ``Secure`` over HTTPS or with ``portal_https_only``). It
  holds a random session id and the CSRF token. The signing key is the setting
  ``portal_secret`` when set, else ``<data_dir>/portal-secret`` (created once, mode 0600);
  processes serving one database must share it.
* The session itself is a database row (``services/portal_sessions.py``), looked up on every
  request with the user: logging out, a password change, disabling or deleting the user end
  it at once, and a copy of the old cookie opens nothing.
* Log-ins are throttled per user and per client address (``services/login_throttle.py``):
  past the limit, 429 with ``Retry-After`` and the login page saying when to retry.
* Every POST form carries ``csrf_token``, compared in constant time with the session's
  (a cross-site form cannot read it; SameSite=Lax already keeps the cookie off most of them).
* The guards are ``authority/api/deps.py``'s checks applied to ``user.scoped(domain, va)``:
  the portal and the API enforce one set of tenant rules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from starlette.datastructures import FormData, UploadFile

from smartlic.authority.api.deps import (
    ServicesDep,
    can_read_account,
    can_read_va,
    can_write_account,
    can_write_va,
)
from smartlic.authority.services.login_throttle import client_key
from smartlic.authority.services.portal_sessions import SESSION_LIFETIME
from smartlic.authority.services.users import UserPrincipal, principal_of
from smartlic.authority.settings import AuthoritySettings
from smartlic.authority.web.render import PORTAL, LoginRequired, PortalRoute, page, redirect
from smartlic.errors import (
    AuthenticationFailed,
    Forbidden,
    InvalidInput,
    NotFound,
    TooManyAttempts,
)
from smartlic.web.sessions import checked_form, csrf_token, secret_file

__all__ = [
    "FormDep",
    "OptionalUserDep",
    "UserDep",
    "client_address",
    "csrf_token",
    "read_account",
    "read_va",
    "router",
    "session_id",
    "session_secret",
    "text_field",
    "write_account",
    "write_va",
]

SECRET_FILE = "portal-secret"
SESSION_COOKIE = "smartlic_portal"
SESSION_MAX_AGE = int(SESSION_LIFETIME.total_seconds())  # the database row expires with it

router = APIRouter(prefix=PORTAL, route_class=PortalRoute, include_in_schema=False)


# ---------------------------------------------------------------- the session key


def session_secret(settings: AuthoritySettings) -> str:
    """``settings.portal_secret`` if the settings have one, else the data dir's secret file."""
    configured = settings.portal_secret
    if isinstance(configured, str) and configured:
        return configured
    return secret_file(settings.data_dir / SECRET_FILE)


FormDep = Annotated[FormData, Depends(checked_form)]


def text_field(form: FormData, name: str, *, max_length: int = 200, required: bool = True) -> str:
    value = form.get(name)
    text = value.strip() if isinstance(value, str) else ""
    if required and not text:
        raise InvalidInput(f"{name.replace('_', ' ')}: required", pointer=f"/{name}")
    if len(text) > max_length:
        raise InvalidInput(f"{name}: at most {max_length} characters", pointer=f"/{name}")
    return text


# ---------------------------------------------------------------- who is logged in


def session_id(request: Request) -> str | None:
    sid = request.session.get("sid")
    return sid if isinstance(sid, str) else None


def client_address(request: Request) -> str:
    """The address log-in failures count against (a trusted proxy's X-Forwarded-For, if
    ``trusted_proxies`` is set; else the TCP peer)."""
    return client_key(request.client.host if request.client else None)


def current_user(request: Request, services: ServicesDep) -> UserPrincipal:
    sid = session_id(request)
    if sid is None:
        raise LoginRequired
    username = services.portal_sessions.username(sid)
    if username is None:  # logged out elsewhere, password changed, expired: forget it
        request.session.clear()
        raise LoginRequired
    try:
        user = services.users.get_user(username)
    except NotFound:
        user = None
    if user is None or user.disabled:
        request.session.clear()
        raise LoginRequired
    principal = principal_of(user)
    request.state.portal_user = principal  # error pages keep the header
    return principal


UserDep = Annotated[UserPrincipal, Depends(current_user)]


def optional_user(request: Request, services: ServicesDep) -> UserPrincipal | None:
    """The logged-in user, or ``None`` (pages anyone may see: the 404 page)."""
    try:
        return current_user(request, services)
    except LoginRequired:
        return None


OptionalUserDep = Annotated[UserPrincipal | None, Depends(optional_user)]


def _guard(check: Callable[..., None], principal: UserPrincipal, *args: str) -> UserPrincipal:
    try:
        check(principal, *args)
    except Forbidden as exc:
        raise Forbidden(exc.detail.replace("this API key", "your user")) from exc
    return principal


def read_account(user: UserPrincipal, domain: str) -> UserPrincipal:
    return _guard(can_read_account, user.scoped(domain), domain)


def write_account(user: UserPrincipal, domain: str) -> UserPrincipal:
    return _guard(can_write_account, user.scoped(domain), domain)


def read_va(user: UserPrincipal, domain: str, va: str) -> UserPrincipal:
    return _guard(can_read_va, user.scoped(domain, va), domain, va)


def write_va(user: UserPrincipal, domain: str, va: str) -> UserPrincipal:
    return _guard(can_write_va, user.scoped(domain, va), domain, va)


# ---------------------------------------------------------------- login / logout


def _safe_next(target: str | None) -> str:
    """Only a path inside the portal (never another site: ``//evil`` or ``https://``)."""
    if target and target.startswith(PORTAL + "/") and not target.startswith("//"):
        return target
    return PORTAL + "/"


@router.get("/login")
def login_form(request: Request, services: ServicesDep, next: str | None = None) -> Response:
    sid = session_id(request)
    if sid and services.portal_sessions.username(sid):
        return redirect(_safe_next(next))
    return page(request, "login.html", next=_safe_next(next), username="")


@router.post("/login")
def login(request: Request, services: ServicesDep, form: FormDep) -> Response:
    username = text_field(form, "username", max_length=100, required=False)
    password = form.get("password")
    target = _safe_next(text_field(form, "next", max_length=2000, required=False))
    address, throttle = client_address(request), services.login_throttle
    try:
        throttle.check(username, address)  # before the password: a refused guess tells nothing
        services.users.authenticate(username, password if isinstance(password, str) else "")
    except TooManyAttempts as exc:
        return _login_refused(request, exc, target, username)
    except AuthenticationFailed as exc:
        throttle.failed(username, address)
        return _login_refused(request, exc, target, username)
    throttle.succeeded(username, address)
    request.session.clear()  # a fresh session (and CSRF token) for the logged-in user
    request.session["sid"] = services.portal_sessions.open(username, address=address)
    return redirect(target)


def _login_refused(
    request: Request, exc: AuthenticationFailed, target: str, username: str
) -> Response:
    if isinstance(exc, TooManyAttempts):
        error = exc.detail[:1].upper() + exc.detail[1:] + "."
        answer = page(request, "login.html", 429, next=target, username=username, error=error)
        answer.headers["Retry-After"] = str(exc.retry_after)
        return answer
    error = "Unknown user or wrong password."
    return page(request, "login.html", 401, next=target, username=username, error=error)


@router.post("/logout")
def logout(request: Request, services: ServicesDep, form: FormDep) -> Response:
    sid = session_id(request)
    if sid:
        services.portal_sessions.close(sid)  # the cookie, even replayed, opens nothing now
    request.session.clear()
    return redirect(PORTAL + "/login")


def close_files(form: FormData) -> None:
    """Close a form's uploaded files (also when the request was refused before reading them)."""
    for item in form.values():
        if isinstance(item, UploadFile):
            item.file.close()
