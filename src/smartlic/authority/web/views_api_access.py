"""The *API Access* page of a smart account: its management API keys (``/api/v1``) and its
OAuth2 API clients (the vendor-compatible API), for the account's administrators.

As in the API's ``/accounts/{domain}/api-clients`` routes, every action needs the right to
manage the account (``scope_in(...).require_manage()``), a key or client is given one role in
this account (``admin`` is the authority's, CLI only), and a key or client of another account
is not found. A new key's text or client's secret is in the answer to the form that created it
and nowhere else (only a hash is stored), with a copy button. Revoking asks for a confirmation.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.datastructures import FormData

from smartlic.authority.api.deps import ServicesDep
from smartlic.authority.services import Services
from smartlic.authority.services.account_users import ACCOUNT_ROLES
from smartlic.authority.services.users import UserPrincipal
from smartlic.authority.web.auth import FormDep, UserDep, write_account
from smartlic.authority.web.lists import listing
from smartlic.authority.web.manage import confirm_page, explain, field, form_values
from smartlic.authority.web.render import PORTAL, PortalRoute, flash, page, redirect, segment
from smartlic.authority.web.views import ACCOUNT, account_context
from smartlic.authority.web.views_users import ROLE_NAMES
from smartlic.domain.enums import Role
from smartlic.errors import InvalidInput, NotFound

__all__ = ["router"]

router = APIRouter(prefix=PORTAL, route_class=PortalRoute, include_in_schema=False)
API = ACCOUNT + "/api-access"
_VA_ROLES = (Role.VIRTUAL_ACCOUNT_ADMIN, Role.VIRTUAL_ACCOUNT_USER)


def api_url(domain: str, *parts: str) -> str:
    return "/".join([f"{PORTAL}/accounts/{domain}/api-access", *map(segment, parts)])


def _common(name: Any) -> dict[str, Any]:
    return {
        "name": name,
        "role": lambda x: (x.role, x.virtual_account or ""),
        "created": lambda x: x.created_at,
        "created_by": lambda x: x.created_by,
        "status": lambda x: x.revoked_at is not None,
    }


_KEYS = _common(lambda k: k.name)
_CLIENTS = _common(lambda c: c.client_id)


def _text(x: Any) -> str:
    return f"{getattr(x, 'name', '')} {getattr(x, 'client_id', '')} {x.role} {x.created_by}"


@router.get(API)
def api_access(request: Request, domain: str, services: ServicesDep, user: UserDep) -> Response:
    return _api_page(request, services, user, domain)


def _api_page(
    request: Request,
    services: Services,
    user: UserPrincipal,
    domain: str,
    *,
    error: str | None = None,
    status: int = 200,
    **extra: Any,
) -> Response:
    ctx = account_context(services, user, domain, "api", manage=True)
    # one sort and filter for both tables (newest first by default, the ties as created)
    lst = listing(request.query_params, tuple(_KEYS), default="created", descending=True)
    return page(
        request,
        "api_access.html",
        status,
        keys=lst.apply(reversed(services.api_keys.list_api_keys(domain)), _KEYS, _text),
        clients=lst.apply(reversed(services.api_clients.list_clients(domain)), _CLIENTS, _text),
        listing=lst,
        roles=[(r.value, ROLE_NAMES[r]) for r in ACCOUNT_ROLES],
        role_names=ROLE_NAMES,
        error=error,
        **extra,
        **ctx,
    )


def _grant(form: FormData) -> tuple[Role, str | None]:
    """The role (one of the account's) and, for a virtual-account role, its virtual account."""
    text = field(form, "role", "Role", max_length=50)
    if text not in {r.value for r in ACCOUNT_ROLES}:
        raise InvalidInput("Role: choose one of the roles listed", pointer="/role")
    role = Role(text)
    if role not in _VA_ROLES:
        return role, None
    return role, field(form, "virtual_account", "Virtual account")


@router.post(API + "/keys")
def create_key(
    request: Request, domain: str, services: ServicesDep, user: UserDep, form: FormDep
) -> Response:
    write_account(user, domain)
    values = form_values(form, "name", "role", "virtual_account")
    try:
        name = field(form, "name", "Name")
        role, va = _grant(form)
        created = services.api_keys.create_api_key(
            name=name, role=role, smart_account=domain, virtual_account=va, actor=user.label()
        )
    except (InvalidInput, NotFound) as exc:
        return _api_page(request, services, user, domain, error=explain(exc, name="Name"),
                         status=exc.status, key_values=values)  # fmt: skip
    return _api_page(request, services, user, domain, status=201, new_key=created)


@router.post(API + "/clients")
def create_client(
    request: Request, domain: str, services: ServicesDep, user: UserDep, form: FormDep
) -> Response:
    write_account(user, domain)
    values = form_values(form, "role", "virtual_account")
    try:
        role, va = _grant(form)
        created = services.api_clients.create_client(
            domain, role=role, virtual_account=va, actor=user.label()
        )
    except (InvalidInput, NotFound) as exc:
        return _api_page(request, services, user, domain, error=explain(exc),
                         status=exc.status, client_values=values)  # fmt: skip
    return _api_page(request, services, user, domain, status=201, new_client=created)


def _key_of(services: Services, domain: str, key_id: str) -> Any:
    for key in services.api_keys.list_api_keys(domain):
        if key.id == key_id:
            return key
    raise NotFound(f"no API key {key_id!r} in {domain!r}")


def _client_of(services: Services, domain: str, client_id: str) -> Any:
    for client in services.api_clients.list_clients(domain):
        if client.client_id == client_id:
            return client
    raise NotFound(f"no API client {client_id!r} in {domain!r}")


@router.get(API + "/keys/{key_id}/revoke")
def revoke_key_confirmation(
    request: Request, domain: str, key_id: str, services: ServicesDep, user: UserDep
) -> Response:
    write_account(user, domain)
    key = _key_of(services, domain, key_id)
    return confirm_page(
        request,
        user,
        title=f"Revoke the API key {key.name}?",
        lines=["Every request made with this key is refused from now on. It cannot be undone."],
        action=api_url(domain, "keys", key.id, "revoke"),
        button="Revoke",
        cancel=api_url(domain),
    )


@router.post(API + "/keys/{key_id}/revoke")
def revoke_key(
    request: Request, domain: str, key_id: str, services: ServicesDep, user: UserDep,
    form: FormDep,
) -> Response:  # fmt: skip
    write_account(user, domain)
    key = _key_of(services, domain, key_id)
    services.api_keys.revoke_api_key(key.id, actor=user.label())
    flash(request, "ok", f"The API key {key.name} is revoked.")
    return redirect(api_url(domain))


@router.get(API + "/clients/{client_id}/revoke")
def revoke_client_confirmation(
    request: Request, domain: str, client_id: str, services: ServicesDep, user: UserDep
) -> Response:
    write_account(user, domain)
    client = _client_of(services, domain, client_id)
    return confirm_page(
        request,
        user,
        title=f"Revoke the API client {client.client_id}?",
        lines=["The client can obtain no access token any more, and the tokens it holds stop "
               "working at once. It cannot be undone."],
        action=api_url(domain, "clients", client.client_id, "revoke"),
        button="Revoke",
        cancel=api_url(domain),
    )  # fmt: skip


@router.post(API + "/clients/{client_id}/revoke")
def revoke_client(
    request: Request, domain: str, client_id: str, services: ServicesDep, user: UserDep,
    form: FormDep,
) -> Response:  # fmt: skip
    write_account(user, domain)
    client = _client_of(services, domain, client_id)
    services.api_clients.revoke_client(client.client_id, actor=user.label())
    flash(request, "ok", f"The API client {client.client_id} is revoked with its tokens.")
    return redirect(api_url(domain))
