"""License reservations in the vendor's shapes (domain-notes 5.2): ``reserve-licenses`` turns
device request codes into authorization codes, ``devices/remove`` removes reserved devices with
their return codes. The same service as ``/api/v1/.../reservations`` (services/reservations.py).

A call with one request answers a refusal in the vendor's failure body (4xx); with several,
each item carries its own ``status`` and ``statusMessage`` and the call's ``status`` is
``ERROR`` when any failed (what the vendor's tools read)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from smartlic.authority.api.cssm._common import SA, TAG, VENDOR_ERRORS, CssmModel
from smartlic.authority.api.cssm.devices import SudiIn, instance_id
from smartlic.authority.api.deps import PrincipalDep, ServicesDep
from smartlic.authority.services import Services
from smartlic.authority.services.scope import Principal
from smartlic.errors import InvalidInput, SmartlicError
from smartlic.formats.bounds import decimal
from smartlic.web.routing import GuardedRouter, SerialisedRoute

router = GuardedRouter(tags=[TAG], responses=VENDOR_ERRORS, route_class=SerialisedRoute)

VA_V2 = SA + "/v2/accounts/{domain}/virtual-accounts/{virtual_account}"
VA_V1 = SA + "/v1/accounts/{domain}/virtual-accounts/{virtual_account}"  # older tools' spelling


class LicenseIn(CssmModel):
    entitlementTag: str = Field(min_length=1, max_length=255)
    quantity: int | str = Field(description="a count; the vendor's tools send it as a string")
    precedence: str = Field(default="LONGEST_TERM_FIRST", max_length=40)

    def count(self) -> int:
        quantity = decimal(str(self.quantity).strip())
        if quantity is None or not 1 <= quantity <= 1_000_000:
            raise InvalidInput(f"quantity of {self.entitlementTag} must be 1-1000000")
        return quantity


class ReservationRequestIn(CssmModel):
    reservationCode: str = Field(min_length=8, max_length=300)
    reservationType: Literal["SPECIFIC", "UNIVERSAL"] = "SPECIFIC"
    licenses: list[LicenseIn] = Field(default_factory=list, max_length=200)


class ReserveIn(CssmModel):
    reservationRequests: list[ReservationRequestIn] = Field(min_length=1, max_length=100)


class AuthorizationCodeOut(BaseModel):
    reservationCode: str
    authorizationCode: str | None
    status: str
    statusMessage: str


class ReserveOut(BaseModel):
    status: str
    authorizationCodes: list[AuthorizationCodeOut]


class RemoveRequestIn(CssmModel):
    sudi: SudiIn
    productTagName: str = Field(default="", max_length=500)
    returnCode: str = Field(default="", max_length=300)


class RemoveIn(CssmModel):
    # the vendor's spelling ("Instaces")
    productInstacesRemoveRequests: list[RemoveRequestIn] = Field(min_length=1, max_length=100)


class RemoveOut(BaseModel):
    status: str = "SUCCESS"


def _reserve_one(
    services: Services, domain: str, va: str, req: ReservationRequestIn, p: Principal
) -> AuthorizationCodeOut:
    universal = req.reservationType == "UNIVERSAL"
    counts = {lic.entitlementTag: lic.count() for lic in req.licenses}
    out = services.reservations.reserve(
        domain, va, req.reservationCode, licenses=counts, universal=universal, scope=p
    )
    return AuthorizationCodeOut(
        reservationCode=req.reservationCode, authorizationCode=out.authorization_code,
        status="SUCCESS", statusMessage=f"{req.reservationType} reservation authorized",
    )  # fmt: skip


@router.post(VA_V2 + "/reserve-licenses", summary="Reserve licenses for devices' request codes")
@router.post(VA_V1 + "/reserve-licenses", summary="Reserve licenses (v1 path)")
def reserve_licenses(
    domain: str,
    virtual_account: str,
    body: ReserveIn,
    services: ServicesDep,
    principal: PrincipalDep,
) -> ReserveOut:
    if len(body.reservationRequests) == 1:
        req = body.reservationRequests[0]
        return ReserveOut(
            status="SUCCESS",
            authorizationCodes=[_reserve_one(services, domain, virtual_account, req, principal)],
        )
    codes = []
    for req in body.reservationRequests:
        try:
            codes.append(_reserve_one(services, domain, virtual_account, req, principal))
        except SmartlicError as exc:
            codes.append(AuthorizationCodeOut(reservationCode=req.reservationCode,
                                              authorizationCode=None, status="ERROR",
                                              statusMessage=exc.detail))  # fmt: skip
    failed = any(c.status != "SUCCESS" for c in codes)
    return ReserveOut(status="ERROR" if failed else "SUCCESS", authorizationCodes=codes)


@router.post(VA_V2 + "/devices/remove", summary="Remove devices, reserved ones with return codes")
@router.post(VA_V1 + "/devices/remove", summary="Remove devices (v1 path)")
def remove_devices(
    domain: str,
    virtual_account: str,
    body: RemoveIn,
    services: ServicesDep,
    principal: PrincipalDep,
) -> RemoveOut:
    removals = [
        (instance_id(services, domain, virtual_account, r.sudi, principal), r.returnCode or None)
        for r in body.productInstacesRemoveRequests
    ]
    services.instances.remove_instances(domain, removals, scope=principal)  # all or none
    return RemoveOut()
