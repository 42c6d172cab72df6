"""Dependencies of the routes, as ``Annotated`` aliases.

Usage in a route::

    @router.get("/accounts/{domain}")
    def read(domain: str, services: ServicesDep, principal: PrincipalDep) -> SmartAccountPublic:
        return SmartAccountPublic.model_validate(
            services.accounts.get_smart_account(domain, scope=principal)
        )

Who may do what is not decided here: the services apply ``services/scope.py`` to the
principal they are given. The ``can_*`` guards below are that module's rules for the few
places that must refuse before calling a service (an upload before its body is read, the
portal's pages before they render).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from smartlic.authority.services import Services
from smartlic.authority.services.api_clients import ACCESS_TOKEN_PREFIX
from smartlic.authority.services.scope import Principal, require_admin, scope_in
from smartlic.authority.settings import AuthoritySettings
from smartlic.clock import Clock
from smartlic.errors import AuthenticationFailed

__all__ = [
    "ClockDep",
    "PrincipalDep",
    "ServicesDep",
    "SettingsDep",
    "authenticate",
    "can_read_account",
    "can_read_va",
    "can_write_account",
    "can_write_va",
    "require_admin",
    "resolve",
]

_bearer = HTTPBearer(
    auto_error=False,
    description="An API key (`Bearer slk_...`) or an OAuth2 access token (`Bearer slat_...`)",
)
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key (`slk_...`)")


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


async def get_settings(request: Request) -> AuthoritySettings:
    settings: AuthoritySettings = request.app.state.settings
    return settings


ServicesDep = Annotated[Services, Depends(get_services)]
ClockDep = Annotated[Clock, Depends(get_clock)]
SettingsDep = Annotated[AuthoritySettings, Depends(get_settings)]


async def get_principal(
    services: ServicesDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    """Authenticate the API key from ``Authorization: Bearer`` or ``X-API-Key``."""
    text = bearer.credentials if bearer is not None else api_key
    if not text:
        raise AuthenticationFailed(
            "an API key is required: send 'Authorization: Bearer slk_...' or 'X-API-Key'"
        )
    return await resolve(services, text)


async def resolve(services: Services, text: str) -> Principal:
    """``authenticate`` from a coroutine: an access token seen lately answers from the
    cache (no thread, no database); anything else is read on the thread pool."""
    if text.startswith(ACCESS_TOKEN_PREFIX):
        cached = services.api_clients.cached(text)
        if cached is not None:
            return cached
    return await run_in_threadpool(authenticate, services, text)


def authenticate(services: Services, text: str) -> Principal:
    """The principal of an API key (``slk_...``) or an OAuth2 access token (``slat_...``)."""
    if text.startswith(ACCESS_TOKEN_PREFIX):
        return services.api_clients.authenticate(text)
    return services.api_keys.authenticate(text)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def can_read_account(principal: Principal, domain: str) -> None:
    scope_in(principal, domain)


def can_write_account(principal: Principal, domain: str) -> None:
    scope_in(principal, domain).require_manage()


def can_read_va(principal: Principal, domain: str, virtual_account: str) -> None:
    scope_in(principal, domain).require_read(virtual_account)


def can_write_va(principal: Principal, domain: str, virtual_account: str) -> None:
    scope_in(principal, domain).require_write(virtual_account)
