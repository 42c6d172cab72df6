"""Dependencies of the routes, as ``Annotated`` aliases, and the tenant-isolation rules.

Usage in a route::

    @router.get("/accounts/{domain}")
    def read(domain: str, services: ServicesDep, principal: PrincipalDep) -> SmartAccountPublic:
        can_read_account(principal, domain)
        ...

Who may do what (domain-notes 5.2 roles, simplified):

* ``admin`` keys (no smart account) see and change everything, and alone create smart
  accounts, define the catalogue and add purchased holdings.
* ``smart-account-admin`` changes anything inside its smart account; ``smart-account-user``
  reads it.
* ``virtual-account-admin`` / ``-user`` are the same, limited to one virtual account.

Another tenant's account is answered ``403 forbidden``: the caller already knows which domain
it asked for, and the answer does not depend on whether that account exists.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from smartlic.authority.services import Services
from smartlic.authority.services.interfaces import Principal
from smartlic.authority.settings import AuthoritySettings
from smartlic.clock import Clock
from smartlic.domain.enums import Role
from smartlic.errors import AuthenticationFailed, Forbidden

__all__ = [
    "ClockDep",
    "PrincipalDep",
    "ServicesDep",
    "SettingsDep",
    "can_read_account",
    "can_read_va",
    "can_write_account",
    "can_write_va",
    "require_admin",
]

_WRITERS = {Role.ADMIN, Role.SMART_ACCOUNT_ADMIN, Role.VIRTUAL_ACCOUNT_ADMIN}

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer slk_...`")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key (`slk_...`)")


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


def get_settings(request: Request) -> AuthoritySettings:
    settings: AuthoritySettings = request.app.state.settings
    return settings


ServicesDep = Annotated[Services, Depends(get_services)]
ClockDep = Annotated[Clock, Depends(get_clock)]
SettingsDep = Annotated[AuthoritySettings, Depends(get_settings)]


def get_principal(
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
    return services.api_keys.authenticate(text)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_admin(principal: Principal) -> None:
    if principal.role is not Role.ADMIN or principal.smart_account is not None:
        raise Forbidden("this operation needs an authority admin API key")


def _is_admin(principal: Principal) -> bool:
    return principal.role is Role.ADMIN and principal.smart_account is None


def can_read_account(principal: Principal, domain: str) -> None:
    """Raise ``Forbidden`` unless ``principal`` may read smart account ``domain``."""
    if _is_admin(principal):
        return
    if principal.smart_account != domain:
        raise Forbidden(f"this API key has no access to smart account {domain!r}")


def can_write_account(principal: Principal, domain: str) -> None:
    """Account-wide changes (virtual accounts, device moves): smart-account admins and up."""
    can_read_account(principal, domain)
    if _is_admin(principal):
        return
    if principal.role is not Role.SMART_ACCOUNT_ADMIN or principal.virtual_account is not None:
        raise Forbidden("this API key may not change the smart account")


def can_read_va(principal: Principal, domain: str, virtual_account: str) -> None:
    can_read_account(principal, domain)
    scoped = principal.virtual_account
    if scoped is not None and scoped != virtual_account and not _is_admin(principal):
        raise Forbidden(f"this API key has no access to virtual account {virtual_account!r}")


def can_write_va(principal: Principal, domain: str, virtual_account: str) -> None:
    can_read_va(principal, domain, virtual_account)
    if principal.role not in _WRITERS:
        raise Forbidden("this API key is read-only")
