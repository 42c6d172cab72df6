"""Licenses in a virtual account: holdings (purchases), the compliance view, transfers.

``GET .../licenses`` answers, per tag, purchased / in use / reserved / available and the
status, as CSSM's Licenses tab does ("Virtual Accounts" in the reference document).
"""

from __future__ import annotations

from fastapi import status

from smartlic.authority.api.deps import PrincipalDep, ServicesDep
from smartlic.authority.api.routes._common import COMMON_PROBLEMS, VIRTUAL_ACCOUNT
from smartlic.authority.api.schemas.licenses import (
    CompliancePublic,
    HoldingCreate,
    HoldingPublic,
    TransferCreate,
    TransferPublic,
)
from smartlic.authority.api.schemas.problem import problem_responses
from smartlic.web.routing import GuardedRouter

router = GuardedRouter(
    prefix=VIRTUAL_ACCOUNT + "/licenses", tags=["licenses"], responses=COMMON_PROBLEMS
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Add a holding (a purchase) to a virtual account (authority admins)",
)
def add_holding(
    domain: str,
    virtual_account: str,
    body: HoldingCreate,
    services: ServicesDep,
    principal: PrincipalDep,
) -> HoldingPublic:
    holding = services.licenses.add_holding(
        domain, virtual_account, **body.model_dump(), scope=principal
    )
    return HoldingPublic.model_validate(holding)


@router.get("", summary="License list and compliance status of a virtual account")
def list_pool(
    domain: str, virtual_account: str, services: ServicesDep, principal: PrincipalDep
) -> CompliancePublic:
    compliance = services.licenses.compliance(domain, virtual_account, scope=principal)
    return CompliancePublic.model_validate(compliance)


@router.post(
    "/actions/transfer",
    responses=problem_responses(409),
    summary="Move licenses to another virtual account of the same smart account",
)
def transfer_licenses(
    domain: str,
    virtual_account: str,
    body: TransferCreate,
    services: ServicesDep,
    principal: PrincipalDep,
) -> TransferPublic:
    """``kind`` (perpetual, term, demo) moves only holdings of that kind, as the CSSM
    route's ``licenseType`` does; without it any holding moves."""
    services.licenses.transfer(
        domain,
        virtual_account,
        body.target,
        tag=body.tag,
        quantity=body.quantity,
        kind=body.kind,
        scope=principal,
    )
    return TransferPublic(smart_account=domain, source=virtual_account, **body.model_dump())
