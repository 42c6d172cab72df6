"""Custom policies ("Customized policies are also made available through your Smart account in
CSSM"): installed for a smart account or one virtual account; the next ACK, trust code or
authorization code file a device receives carries the policy in force."""

from __future__ import annotations

from typing import Any

from fastapi import status

from smartlic.authority.api.deps import PrincipalDep, ServicesDep
from smartlic.authority.api.routes._common import ACCOUNT, COMMON_PROBLEMS, VIRTUAL_ACCOUNT
from smartlic.authority.api.schemas.policies import (
    PoliciesPublic,
    PolicyCreate,
    PolicyDocument,
    PolicyPublic,
)
from smartlic.web.routing import GuardedRouter

__all__ = ["router"]

router = GuardedRouter(tags=["policies"], responses=COMMON_PROBLEMS)


@router.post(
    ACCOUNT + "/policies",
    status_code=status.HTTP_201_CREATED,
    summary="Install a custom policy (replaces the previous one of the same scope)",
)
def create_policy(
    domain: str, body: PolicyCreate, services: ServicesDep, principal: PrincipalDep
) -> PolicyPublic:
    created = services.policies.create_policy(
        domain,
        document=body.document(),
        virtual_account=body.virtual_account,
        scope=principal,
    )
    return PolicyPublic.model_validate(created)


@router.get(ACCOUNT + "/policies", summary="Policies of a smart account, oldest first")
def list_policies(domain: str, services: ServicesDep, principal: PrincipalDep) -> PoliciesPublic:
    items = services.policies.list_policies(domain, scope=principal)
    return PoliciesPublic.model_validate({"items": items, "total": len(items)})


@router.get(
    VIRTUAL_ACCOUNT + "/policy",
    response_model=PolicyDocument,
    summary="The policy in force for a virtual account (its own, its account's, or Cisco default)",
)
def policy_in_force(
    domain: str, virtual_account: str, services: ServicesDep, principal: PrincipalDep
) -> dict[str, Any]:
    return services.policies.policy_in_force(domain, virtual_account, scope=principal)
