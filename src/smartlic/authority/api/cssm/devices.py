"""Product instances in the vendor's shapes: list per virtual account (GET) or per account
(POST), and transfer between virtual accounts by UDI."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, Field

from smartlic.authority.api.cssm._common import (
    ACCOUNT,
    TAG,
    VA,
    VENDOR_ERRORS,
    CssmModel,
    StatusOut,
)
from smartlic.authority.api.deps import PrincipalDep, ServicesDep
from smartlic.authority.services import Services
from smartlic.authority.services.interfaces import InstanceOut
from smartlic.authority.services.scope import Principal
from smartlic.errors import NotFound
from smartlic.web.routing import GuardedRouter, SerialisedRoute

router = GuardedRouter(tags=[TAG], responses=VENDOR_ERRORS, route_class=SerialisedRoute)

PAGE = 1000  # the services' page cap (instances.MAX_PAGE)


class SudiOut(BaseModel):
    udiPid: str
    udiSerialNumber: str
    udiVid: str | None = None
    uuid: str | None = None
    suvi: str | None = None
    hostIdentifier: str | None = None
    macAddress: str | None = None


class UsageLineOut(BaseModel):
    license: str
    quantity: int


class DeviceOut(BaseModel):
    hostName: str
    displayName: str
    sudi: SudiOut
    productTagName: str
    productName: str
    productDescription: str
    productType: str = "PRODUCT_INSTANCE"
    virtualAccount: str
    registrationDate: datetime
    lastContactDate: datetime | None
    status: str
    licenseUsage: list[UsageLineOut]


class DevicesOut(BaseModel):
    totalRecords: int
    devices: list[DeviceOut]
    status: str = "SUCCESS"
    statusMessage: str = ""


class DevicesIn(CssmModel):
    virtualAccounts: list[str] = Field(default_factory=list, max_length=200)
    limit: int = Field(default=PAGE, ge=1, le=PAGE)
    offset: int = Field(default=0, ge=0, le=1_000_000)


class SudiIn(CssmModel):
    udiPid: str = Field(default="", max_length=100)
    udiSerialNumber: str = Field(min_length=1, max_length=100)


class ProductInstanceIn(CssmModel):
    sudi: SudiIn
    productTagName: str = Field(default="", max_length=500)
    targetVirtualAccount: str = Field(min_length=1, max_length=200)


class TransferIn(CssmModel):
    productInstances: list[ProductInstanceIn] = Field(min_length=1, max_length=100)


def _device(d: InstanceOut) -> DeviceOut:
    return DeviceOut(
        hostName=d.hostname,
        displayName=d.hostname or f"{d.udi_pid}:{d.udi_sn}",
        sudi=SudiOut(udiPid=d.udi_pid, udiSerialNumber=d.udi_sn),
        productTagName=d.software_tag,
        productName=d.udi_pid,
        productDescription=d.udi_pid,
        virtualAccount=d.virtual_account,
        registrationDate=d.registered_at,
        lastContactDate=d.last_contact_at,
        status=d.status,
        licenseUsage=[
            UsageLineOut(license=u.display_name or u.tag, quantity=u.count) for u in d.usage
        ],
    )


def devices_page(
    services: Services, domain: str, vas: list[str], limit: int, offset: int, p: Principal
) -> DevicesOut:
    """One page over the named virtual accounts (every readable one if none)."""
    if len(vas) <= 1:
        page = services.instances.list_instances(
            domain, vas[0] if vas else None, limit=limit, offset=offset, scope=p
        )
        return DevicesOut(totalRecords=page.total, devices=[_device(d) for d in page.items])
    total, found = 0, list[InstanceOut]()
    for va in dict.fromkeys(vas):  # page through the concatenation, one service page at a time
        first = services.instances.list_instances(domain, va, limit=1, scope=p)
        count = first.total or 0  # an offset page always counts
        start = max(0, offset - total)
        while len(found) < limit and start < count:
            chunk = services.instances.list_instances(
                domain, va, limit=min(PAGE, limit - len(found)), offset=start, scope=p
            )
            found.extend(chunk.items)
            start += len(chunk.items) or count
        total += count
    return DevicesOut(totalRecords=total, devices=[_device(d) for d in found])


@router.get(VA + "/devices", summary="The devices of a virtual account")
def list_va_devices(
    domain: str,
    virtual_account: str,
    services: ServicesDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=PAGE)] = PAGE,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> DevicesOut:
    return devices_page(services, domain, [virtual_account], limit, offset, principal)


@router.post(ACCOUNT + "/devices", summary="The devices of virtual accounts")
def list_devices(
    domain: str, body: DevicesIn, services: ServicesDep, principal: PrincipalDep
) -> DevicesOut:
    return devices_page(services, domain, body.virtualAccounts, body.limit, body.offset, principal)


def instance_id(
    services: Services, domain: str, va: str, sudi: SudiIn, principal: Principal
) -> str:
    """The id of the instance of ``va`` with this UDI (serial number, and PID if given)."""
    page = services.instances.list_instances(
        domain, va, search=sudi.udiSerialNumber, limit=PAGE, scope=principal
    )
    for d in page.items:
        if d.udi_sn == sudi.udiSerialNumber and sudi.udiPid in ("", d.udi_pid):
            return d.id
    raise NotFound(f"no device {sudi.udiPid}:{sudi.udiSerialNumber} in {va!r}")


@router.post(VA + "/devices/transfer", summary="Transfer devices to other virtual accounts")
def transfer_devices(
    domain: str,
    virtual_account: str,
    body: TransferIn,
    services: ServicesDep,
    principal: PrincipalDep,
) -> StatusOut:
    moves = [
        (
            instance_id(services, domain, virtual_account, pi.sudi, principal),
            pi.targetVirtualAccount,
        )
        for pi in body.productInstances
    ]
    services.instances.transfer_instances(domain, moves, scope=principal)  # all or none
    return StatusOut(statusMessage=f"{len(moves)} device(s) transferred")
