"""Licenses in the vendor's shapes: the per-virtual-account list with compliance, the
subscriptions, and transfers between virtual accounts by display name."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import Header
from pydantic import BaseModel, Field

from smartlic.authority.api.cssm._common import (
    ACCOUNT,
    SA,
    TAG,
    VA,
    VENDOR_ERRORS,
    CssmModel,
    StatusOut,
)
from smartlic.authority.api.deps import PrincipalDep, ServicesDep
from smartlic.authority.services import Services
from smartlic.authority.services.interfaces import HoldingOut, LicenseMove, PoolLineOut
from smartlic.authority.services.scope import Principal
from smartlic.domain.enums import ComplianceStatus, HoldingKind
from smartlic.errors import InvalidInput
from smartlic.web.routing import GuardedRouter, SerialisedRoute

router = GuardedRouter(tags=[TAG], responses=VENDOR_ERRORS, route_class=SerialisedRoute)

MAX_VAS = 200
MAX_PAGE = 1000
# the vendor capitalises "Of"; tools filter on that exact text
VENDOR_STATUS = {
    ComplianceStatus.IN_COMPLIANCE: "In Compliance",
    ComplianceStatus.OUT_OF_COMPLIANCE: "Out Of Compliance",
}


class LicensesIn(CssmModel):
    virtualAccounts: list[str] = Field(default_factory=list, max_length=MAX_VAS)
    limit: int = Field(default=MAX_PAGE, ge=1, le=MAX_PAGE)
    offset: int = Field(default=0, ge=0, le=2**31 - 1)


class LicenseDetailOut(BaseModel):
    licenseType: str  # PERPETUAL | TERM | DEMO
    quantity: int
    startDate: datetime | None
    endDate: datetime | None
    subscriptionId: str | None
    status: str  # ACTIVE | INACTIVE


class LicenseOut(BaseModel):
    license: str  # the display name
    virtualAccount: str
    quantity: int
    inUse: int
    available: int
    reserved: int
    pendingQuantity: int = 0
    status: str
    billingType: str = "PREPAID"
    isPortable: bool = False
    ahaApps: bool = False
    licenseSubstitutions: list[str] = Field(default_factory=list)
    licenseDetails: list[LicenseDetailOut]


class LicensesOut(BaseModel):
    totalRecords: int
    licenses: list[LicenseOut]


class SubscriptionOut(BaseModel):
    subscriptionId: str
    virtualAccount: str
    license: str
    quantity: int
    startDate: datetime | None
    endDate: datetime | None
    status: str


class SubscriptionsOut(BaseModel):
    licenseSubscriptions: list[SubscriptionOut]


class TransferLineIn(CssmModel):
    license: str = Field(min_length=1, max_length=200)
    # only holdings of this kind move; absent: any kind, perpetual first then longest term
    licenseType: Literal["PERPETUAL", "TERM", "DEMO"] | None = None
    quantity: int = Field(ge=1, le=1_000_000_000)
    targetVirtualAccount: str = Field(min_length=1, max_length=200)


class TransferIn(CssmModel):
    licenses: list[TransferLineIn] = Field(min_length=1, max_length=100)


def _detail(h: HoldingOut) -> LicenseDetailOut:
    return LicenseDetailOut(
        licenseType=h.kind.value.upper(),
        quantity=h.quantity,
        startDate=h.starts_at,
        endDate=h.ends_at,
        subscriptionId=h.subscription_id,
        status="ACTIVE" if h.active else "INACTIVE",
    )


def _line(va: str, line: PoolLineOut) -> LicenseOut:
    return LicenseOut(
        license=line.display_name,
        virtualAccount=va,
        quantity=line.purchased,
        inUse=line.in_use,
        available=line.available,
        reserved=line.reserved,
        status=VENDOR_STATUS[line.status],
        licenseDetails=[_detail(h) for h in line.holdings],
    )


def pool_lines(
    services: Services, domain: str, vas: list[str], principal: Principal
) -> list[tuple[str, PoolLineOut]]:
    """Every (virtual account, line) of the named virtual accounts (all readable if none),
    from one compliance read."""
    reports = services.licenses.compliance_of(domain, vas or None, scope=principal)
    return [(r.virtual_account, line) for r in reports for line in r.lines]


@router.post(ACCOUNT + "/licenses", summary="Licenses of virtual accounts, with compliance")
def list_licenses(
    domain: str, body: LicensesIn, services: ServicesDep, principal: PrincipalDep
) -> LicensesOut:
    lines = pool_lines(services, domain, body.virtualAccounts, principal)
    page = lines[body.offset : body.offset + body.limit]
    return LicensesOut(totalRecords=len(lines), licenses=[_line(va, li) for va, li in page])


@router.post(ACCOUNT + "/license-subscriptions", summary="Term licenses of virtual accounts")
def list_subscriptions(
    domain: str, body: LicensesIn, services: ServicesDep, principal: PrincipalDep
) -> SubscriptionsOut:
    subs = [
        SubscriptionOut(
            subscriptionId=h.subscription_id or h.id,
            virtualAccount=va,
            license=line.display_name,
            quantity=h.quantity,
            startDate=h.starts_at,
            endDate=h.ends_at,
            status="ACTIVE" if h.active else "INACTIVE",
        )
        for va, line in pool_lines(services, domain, body.virtualAccounts, principal)
        for h in line.holdings
        if h.ends_at is not None
    ]
    return SubscriptionsOut(licenseSubscriptions=subs[:MAX_PAGE])


def tag_of(services: Services, display_name: str, line: int) -> str:
    """The entitlement tag of a license named as tools name it: its display name (or short
    name, or tag)."""
    for lic in services.licenses.list_catalogue():
        if display_name in (lic.display_name, lic.name, lic.tag):
            return lic.tag
    raise InvalidInput(f"no license named {display_name!r}", pointer=f"/licenses/{line}/license")


@router.post(VA + "/licenses/transfer", summary="Transfer licenses to other virtual accounts")
def transfer_licenses(
    domain: str,
    virtual_account: str,
    body: TransferIn,
    services: ServicesDep,
    principal: PrincipalDep,
) -> StatusOut:
    """Every line is made or none: one transaction. ``licenseType`` moves only holdings of
    that kind (PERPETUAL, TERM, DEMO), as the vendor's API does."""
    moves = [
        LicenseMove(
            tag_of(services, line.license, i),
            line.quantity,
            line.targetVirtualAccount,
            HoldingKind(line.licenseType.lower()) if line.licenseType else None,
        )
        for i, line in enumerate(body.licenses)
    ]
    services.licenses.transfer_many(domain, virtual_account, moves, scope=principal)
    return StatusOut(statusMessage=f"{len(moves)} license transfer(s) done")


class SummaryData(CssmModel):
    timestamp: int | None = None
    nonce: str | None = Field(default=None, max_length=64)
    tags: list[str] = Field(default_factory=list, max_length=1000)


class SummaryIn(CssmModel):
    data: SummaryData


class SummaryLineOut(BaseModel):
    tag: str
    display_name: str
    compliance_status: str
    enforced: bool
    export_restricted: bool
    prepaid_entitled: int
    prepaid_inuse: int
    prepaid_reserved: int
    license_details: list[LicenseDetailOut]


class SummaryOut(BaseModel):
    status: str = "SUCCESS"
    summary: list[SummaryLineOut]


def _summary(tag: str, lines: list[PoolLineOut]) -> SummaryLineOut:
    first = lines[0]
    bad = any(li.status is ComplianceStatus.OUT_OF_COMPLIANCE for li in lines)
    status = ComplianceStatus.OUT_OF_COMPLIANCE if bad else ComplianceStatus.IN_COMPLIANCE
    return SummaryLineOut(
        tag=tag,
        display_name=first.display_name,
        compliance_status=VENDOR_STATUS[status],
        enforced=first.enforcement.value != "unenforced",
        export_restricted=first.enforcement.value == "export-controlled",
        prepaid_entitled=sum(li.purchased for li in lines),
        prepaid_inuse=sum(li.in_use for li in lines),
        prepaid_reserved=sum(li.reserved for li in lines),
        license_details=[_detail(h) for li in lines for h in li.holdings],
    )


@router.post(SA + "/v3/licenses/summary", summary="License summary by tag (headers name the VA)")
def licenses_summary(
    body: SummaryIn,
    services: ServicesDep,
    principal: PrincipalDep,
    smart_account: Annotated[
        str | None, Header(alias="X-CSW-SMART-ACCOUNT-ID", max_length=255)
    ] = None,
    virtual_account: Annotated[
        str | None, Header(alias="X-CSW-VIRTUAL-ACCOUNT-ID", max_length=200)
    ] = None,
) -> SummaryOut:
    """The account (and virtual account) come from the headers as on the device API, by
    numeric id or by name; without them, the caller's own account."""
    domain, va = services.accounts.names_of(
        smart_account or principal.smart_account or "", virtual_account, scope=principal
    )
    if not domain:
        raise InvalidInput("name the account in X-CSW-SMART-ACCOUNT-ID")
    by_tag: dict[str, list[PoolLineOut]] = {}
    for _, line in pool_lines(services, domain, [va] if va else [], principal):
        if not body.data.tags or line.tag in body.data.tags:
            by_tag.setdefault(line.tag, []).append(line)
    return SummaryOut(summary=[_summary(tag, lines) for tag, lines in sorted(by_tag.items())])
