"""Smart and virtual accounts in the vendor's shapes: ``v2/accounts``, ``v1|v2/accounts/search``,
``v1/accounts/{d}/virtual-accounts`` (list, create, delete)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, Field

from smartlic.authority.api.cssm._common import (
    ACCOUNT,
    SA,
    TAG,
    VENDOR_ERRORS,
    CssmModel,
    StatusOut,
)
from smartlic.authority.api.deps import PrincipalDep, ServicesDep
from smartlic.authority.services import Services
from smartlic.authority.services.interfaces import SmartAccountOut, VirtualAccountOut
from smartlic.authority.services.scope import Principal
from smartlic.domain.enums import Role
from smartlic.web.routing import GuardedRouter, SerialisedRoute

router = GuardedRouter(tags=[TAG], responses=VENDOR_ERRORS, route_class=SerialisedRoute)

VENDOR_ROLES = {
    Role.ADMIN: "Smart Account Administrator",
    Role.SMART_ACCOUNT_ADMIN: "Smart Account Administrator",
    Role.SMART_ACCOUNT_USER: "Smart Account User",
    Role.VIRTUAL_ACCOUNT_ADMIN: "Virtual Account Administrator",
    Role.VIRTUAL_ACCOUNT_USER: "Virtual Account User",
}


class RoleOut(BaseModel):
    role: str
    virtualAccount: str | None


class AccountOut(BaseModel):
    accountDomain: str
    accountName: str
    accountStatus: str = "Active"
    accountType: str = "CUSTOMER"
    roles: list[RoleOut]


class AccountsOut(BaseModel):
    accounts: list[AccountOut]
    status: str = "SUCCESS"
    statusMessage: str = ""


class SearchAccountOut(BaseModel):
    domain: str
    name: str
    id: str
    type: str = "CUSTOMER"
    status: str = "Active"


class SearchOut(BaseModel):
    totalRecords: int
    accounts: list[SearchAccountOut]


class SearchVaOut(BaseModel):
    default: bool
    name: str
    virtual_account_id: str


class SearchAccountV2Out(BaseModel):
    account_id: str
    domain: str
    name: str
    virtual_accounts: list[SearchVaOut]


class SearchV2Out(BaseModel):
    status: str = "COMPLETE"
    message_code: str = ""
    message: str = ""
    accounts: list[SearchAccountV2Out]


class VirtualAccountVendorOut(BaseModel):
    name: str
    description: str
    isDefault: str  # "true" | "false", as the vendor writes it
    commerceAccessLevel: str = "FULL"


class VirtualAccountsOut(BaseModel):
    virtualAccounts: list[VirtualAccountVendorOut]


class VirtualAccountIn(CssmModel):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=1000)


class VirtualAccountCreatedOut(VirtualAccountVendorOut):
    status: str = "SUCCESS"
    statusMessage: str


def _roles(principal: Principal, domain: str) -> list[RoleOut]:
    grants = [
        g for g in principal.all_grants() if g.role is Role.ADMIN or g.smart_account == domain
    ]
    return [RoleOut(role=VENDOR_ROLES[g.role], virtualAccount=g.virtual_account) for g in grants]


def _accounts(
    services: Services, principal: Principal, domain: str | None
) -> list[SmartAccountOut]:
    accounts = services.accounts.list_smart_accounts(scope=principal)
    return [a for a in accounts if domain is None or a.domain == domain.strip().lower()]


def _va(va: VirtualAccountOut) -> VirtualAccountVendorOut:
    return VirtualAccountVendorOut(
        name=va.name, description=va.description, isDefault=str(va.is_default).lower()
    )


@router.get(SA + "/v2/accounts", summary="The smart accounts of the caller, with its roles")
def accounts_v2(services: ServicesDep, principal: PrincipalDep) -> AccountsOut:
    return AccountsOut(
        accounts=[
            AccountOut(
                accountDomain=a.domain, accountName=a.name, roles=_roles(principal, a.domain)
            )
            for a in _accounts(services, principal, None)
        ]
    )


@router.get(SA + "/v1/accounts/search", summary="Smart accounts by domain")
def search_v1(
    services: ServicesDep,
    principal: PrincipalDep,
    domain: Annotated[str | None, Query(max_length=200)] = None,
) -> SearchOut:
    found = _accounts(services, principal, domain)
    items = [SearchAccountOut(domain=a.domain, name=a.name, id=str(a.number)) for a in found]
    return SearchOut(totalRecords=len(items), accounts=items)


@router.get(SA + "/v2/accounts/search", summary="Smart accounts with numeric ids and their VAs")
def search_v2(
    services: ServicesDep,
    principal: PrincipalDep,
    domain: Annotated[str | None, Query(max_length=200)] = None,
) -> SearchV2Out:
    accounts = []
    for a in _accounts(services, principal, domain):
        vas = services.accounts.list_virtual_accounts(a.domain, scope=principal)
        accounts.append(
            SearchAccountV2Out(
                account_id=str(a.number),
                domain=a.domain,
                name=a.name,
                virtual_accounts=[
                    SearchVaOut(default=v.is_default, name=v.name, virtual_account_id=str(v.number))
                    for v in vas
                ],
            )
        )
    return SearchV2Out(accounts=accounts)


def list_virtual_accounts(
    domain: str, services: ServicesDep, principal: PrincipalDep
) -> VirtualAccountsOut:
    vas = services.accounts.list_virtual_accounts(domain, scope=principal)
    return VirtualAccountsOut(virtualAccounts=[_va(v) for v in vas])


for _path in (ACCOUNT + "/virtual-accounts", ACCOUNT + "/customer/virtual-accounts"):
    router.add_api_route(
        _path,
        list_virtual_accounts,
        methods=["GET"],
        summary="The virtual accounts of a smart account",
        name="cssm_list_virtual_accounts" + ("_customer" if "customer" in _path else ""),
    )


@router.post(ACCOUNT + "/virtual-accounts", summary="Create a virtual account (HTTP 200)")
def create_virtual_account(
    domain: str, body: VirtualAccountIn, services: ServicesDep, principal: PrincipalDep
) -> VirtualAccountCreatedOut:
    va = services.accounts.create_virtual_account(
        domain, name=body.name, description=body.description, scope=principal
    )
    return VirtualAccountCreatedOut(
        **_va(va).model_dump(), statusMessage=f"Virtual account {va.name} created"
    )


@router.post(
    ACCOUNT + "/virtual-accounts/{virtual_account}/delete",
    summary="Delete an empty virtual account",
)
def delete_virtual_account(
    domain: str, virtual_account: str, services: ServicesDep, principal: PrincipalDep
) -> StatusOut:
    services.accounts.delete_virtual_account(domain, virtual_account, scope=principal)
    return StatusOut(statusMessage=f"Virtual account {virtual_account} deleted")
