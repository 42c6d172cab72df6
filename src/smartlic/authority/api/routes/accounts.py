"""Smart accounts: ``/api/v1/accounts``."""

from __future__ import annotations

from fastapi import status

from smartlic.authority.api.deps import PrincipalDep, ServicesDep
from smartlic.authority.api.routes._common import API_PREFIX, COMMON_PROBLEMS
from smartlic.authority.api.schemas.accounts import (
    SmartAccountCreate,
    SmartAccountPublic,
    SmartAccountsPublic,
)
from smartlic.authority.api.schemas.problem import problem_responses
from smartlic.web.routing import GuardedRouter

router = GuardedRouter(
    prefix=API_PREFIX + "/accounts", tags=["smart accounts"], responses=COMMON_PROBLEMS
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(409),
    summary="Create a smart account (authority admins)",
)
def create_account(
    body: SmartAccountCreate, services: ServicesDep, principal: PrincipalDep
) -> SmartAccountPublic:
    created = services.accounts.create_smart_account(
        name=body.name, domain=body.domain, scope=principal
    )
    return SmartAccountPublic.model_validate(created)


@router.get("", summary="List the smart accounts this API key can see")
def list_accounts(services: ServicesDep, principal: PrincipalDep) -> SmartAccountsPublic:
    visible = services.accounts.list_smart_accounts(scope=principal)
    return SmartAccountsPublic.model_validate({"items": visible, "total": len(visible)})


@router.get("/{domain}", summary="Read one smart account")
def read_account(domain: str, services: ServicesDep, principal: PrincipalDep) -> SmartAccountPublic:
    account = services.accounts.get_smart_account(domain, scope=principal)
    return SmartAccountPublic.model_validate(account)
