"""Virtual accounts: ``/api/v1/accounts/{domain}/virtual-accounts``."""

from __future__ import annotations

from fastapi import Response, status

from smartlic.authority.api.deps import PrincipalDep, ServicesDep
from smartlic.authority.api.routes._common import ACCOUNT, COMMON_PROBLEMS
from smartlic.authority.api.schemas.accounts import (
    VirtualAccountCreate,
    VirtualAccountPublic,
    VirtualAccountsPublic,
    VirtualAccountUpdate,
)
from smartlic.authority.api.schemas.problem import problem_responses
from smartlic.web.routing import GuardedRouter

router = GuardedRouter(
    prefix=ACCOUNT + "/virtual-accounts", tags=["virtual accounts"], responses=COMMON_PROBLEMS
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(409),
    summary="Create a virtual account",
)
def create_virtual_account(
    domain: str, body: VirtualAccountCreate, services: ServicesDep, principal: PrincipalDep
) -> VirtualAccountPublic:
    created = services.accounts.create_virtual_account(
        domain, name=body.name, description=body.description, scope=principal
    )
    return VirtualAccountPublic.model_validate(created)


@router.get("", summary="List the virtual accounts of a smart account")
def list_virtual_accounts(
    domain: str, services: ServicesDep, principal: PrincipalDep
) -> VirtualAccountsPublic:
    items = services.accounts.list_virtual_accounts(domain, scope=principal)
    return VirtualAccountsPublic.model_validate({"items": items, "total": len(items)})


@router.patch(
    "/{virtual_account}", responses=problem_responses(409), summary="Rename a virtual account"
)
def rename_virtual_account(
    domain: str,
    virtual_account: str,
    body: VirtualAccountUpdate,
    services: ServicesDep,
    principal: PrincipalDep,
) -> VirtualAccountPublic:
    renamed = services.accounts.rename_virtual_account(
        domain, virtual_account, new_name=body.name, scope=principal
    )
    return VirtualAccountPublic.model_validate(renamed)


@router.delete(
    "/{virtual_account}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(409),
    summary="Delete an empty virtual account",
)
def delete_virtual_account(
    domain: str, virtual_account: str, services: ServicesDep, principal: PrincipalDep
) -> Response:
    services.accounts.delete_virtual_account(domain, virtual_account, scope=principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
