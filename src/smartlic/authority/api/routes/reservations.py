"""Classic license reservations (SLR / PLR) and node-locked license files.

``POST .../virtual-accounts/{va}/reservations`` turns a device's request code into a signed
authorization code; a reserved device is removed with its return code
(``DELETE .../devices/{id}?return_code=``). The vendor's paths are in ``api/cssm/reservations``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, status

from smartlic.authority.api.deps import PrincipalDep, ServicesDep
from smartlic.authority.api.routes._common import ACCOUNT, COMMON_PROBLEMS, VIRTUAL_ACCOUNT
from smartlic.authority.api.schemas.problem import problem_responses
from smartlic.authority.api.schemas.reservations import (
    LicenseFileCreate,
    LicenseFilePublic,
    ReservationCreate,
    ReservationPublic,
    ReservationsPublic,
)
from smartlic.crypto import Udi
from smartlic.web.routing import GuardedRouter

__all__ = ["router"]

router = GuardedRouter(tags=["reservations"], responses=COMMON_PROBLEMS)


@router.post(
    VIRTUAL_ACCOUNT + "/reservations",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(400, 409),
    summary="Reserve licenses (SLR) or every license (PLR) for a device's request code",
)
def reserve(
    domain: str,
    virtual_account: str,
    body: ReservationCreate,
    services: ServicesDep,
    principal: PrincipalDep,
) -> ReservationPublic:
    out = services.reservations.reserve(
        domain, virtual_account, body.request_code, licenses=body.licenses,
        universal=body.universal, scope=principal,
    )  # fmt: skip
    return ReservationPublic.model_validate(out)


@router.get(ACCOUNT + "/reservations", summary="License reservations of a smart account")
def list_reservations(
    domain: str,
    services: ServicesDep,
    principal: PrincipalDep,
    virtual_account: Annotated[str | None, Query(max_length=100)] = None,
) -> ReservationsPublic:
    rows = services.reservations.list_reservations(domain, virtual_account, scope=principal)
    return ReservationsPublic.model_validate({"items": rows, "total": len(rows)})


@router.post(
    VIRTUAL_ACCOUNT + "/license-files",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(400, 409),
    summary="Issue a signed node-locked license file for a device",
)
def issue_file(
    domain: str,
    virtual_account: str,
    body: LicenseFileCreate,
    services: ServicesDep,
    principal: PrincipalDep,
) -> LicenseFilePublic:
    issued = services.reservations.issue_file(
        domain, virtual_account, Udi.parse(body.udi), body.feature, count=body.count,
        eval_days=body.eval_days, from_holdings=not body.standalone, scope=principal,
    )  # fmt: skip
    return LicenseFilePublic(
        serial=issued.serial, udi=issued.udi, feature=issued.feature, file=issued.data.decode()
    )
