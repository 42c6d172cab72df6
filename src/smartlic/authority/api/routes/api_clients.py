"""OAuth2 API clients of a smart account: ``/api/v1/accounts/{domain}/api-clients``.

Creating, listing and revoking clients changes who may act in the smart account, so it needs
the right to manage it (``scope_in(...).require_manage()``: an authority or smart-account admin).
"""

from __future__ import annotations

from datetime import datetime

from fastapi import status
from pydantic import BaseModel, ConfigDict, Field

from smartlic.authority.api.deps import PrincipalDep, ServicesDep
from smartlic.authority.api.routes._common import ACCOUNT, COMMON_PROBLEMS
from smartlic.authority.services.scope import require_admin, scope_in
from smartlic.domain.enums import Role
from smartlic.errors import NotFound
from smartlic.web.routing import GuardedRouter

router = GuardedRouter(
    prefix=ACCOUNT + "/api-clients", tags=["API clients"], responses=COMMON_PROBLEMS
)


class ApiClientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role = Role.SMART_ACCOUNT_ADMIN
    virtual_account: str | None = Field(default=None, max_length=200)


class ApiClientPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    client_id: str
    role: Role
    smart_account: str | None
    virtual_account: str | None
    created_at: datetime
    created_by: str
    revoked_at: datetime | None


class CreatedApiClientPublic(BaseModel):
    client: ApiClientPublic
    client_secret: str = Field(description="shown only in this response")


class ApiClientsPublic(BaseModel):
    items: list[ApiClientPublic]
    total: int


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create an OAuth2 API client")
def create_api_client(
    domain: str, body: ApiClientCreate, services: ServicesDep, principal: PrincipalDep
) -> CreatedApiClientPublic:
    scope_in(principal, domain).require_manage()
    if body.role is Role.ADMIN:
        require_admin(principal)  # only an authority admin hands out the admin role
    created = services.api_clients.create_client(
        domain, role=body.role, virtual_account=body.virtual_account, actor=principal.label()
    )
    return CreatedApiClientPublic(
        client=ApiClientPublic.model_validate(created.client),
        client_secret=created.client_secret,
    )


@router.get("", summary="List the OAuth2 API clients of a smart account")
def list_api_clients(
    domain: str, services: ServicesDep, principal: PrincipalDep
) -> ApiClientsPublic:
    scope_in(principal, domain).require_manage()
    items = [ApiClientPublic.model_validate(c) for c in services.api_clients.list_clients(domain)]
    return ApiClientsPublic(items=items, total=len(items))


@router.post("/{client_id}/actions/revoke", summary="Revoke an API client and its tokens")
def revoke_api_client(
    domain: str, client_id: str, services: ServicesDep, principal: PrincipalDep
) -> ApiClientPublic:
    scope_in(principal, domain).require_manage()
    mine = {c.client_id for c in services.api_clients.list_clients(domain)}
    if client_id not in mine:
        raise NotFound(f"no API client {client_id!r} in {domain!r}")
    return ApiClientPublic.model_validate(
        services.api_clients.revoke_client(client_id, actor=principal.label())
    )
