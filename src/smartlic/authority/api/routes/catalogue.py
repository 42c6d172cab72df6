"""The license catalogue: ``/api/v1/licenses`` (what each entitlement tag is)."""

from __future__ import annotations

from fastapi import status

from smartlic.authority.api.deps import PrincipalDep, ServicesDep
from smartlic.authority.api.routes._common import API_PREFIX, COMMON_PROBLEMS
from smartlic.authority.api.schemas.licenses import LicenseCreate, LicensePublic, LicensesPublic
from smartlic.authority.api.schemas.problem import problem_responses
from smartlic.web.routing import GuardedRouter

router = GuardedRouter(
    prefix=API_PREFIX + "/licenses", tags=["catalogue"], responses=COMMON_PROBLEMS
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(409),
    summary="Define a license (authority admins)",
)
def define_license(
    body: LicenseCreate, services: ServicesDep, principal: PrincipalDep
) -> LicensePublic:
    created = services.licenses.define_license(**body.model_dump(), scope=principal)
    return LicensePublic.model_validate(created)


@router.get("", summary="List the license catalogue")
def list_licenses(services: ServicesDep, principal: PrincipalDep) -> LicensesPublic:
    items = services.licenses.list_catalogue()
    return LicensesPublic.model_validate({"items": items, "total": len(items)})
