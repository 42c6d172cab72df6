"""Portal pages that change a smart account's virtual accounts: licenses moved between two
virtual accounts (a form on the Licenses tab), and virtual accounts created, renamed and
deleted (the *Virtual Accounts* page of the inventory).

Each action calls the service the API calls (``licenses.transfer``,
``accounts.create/rename/delete_virtual_account``) with the user as ``scope``; a refused form
is drawn again with what was typed and the reason, and nothing is stored.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from smartlic.authority.api.deps import ServicesDep
from smartlic.authority.services import Services
from smartlic.authority.services.users import UserPrincipal
from smartlic.authority.web.auth import FormDep, UserDep, write_account, write_va
from smartlic.authority.web.lists import listing
from smartlic.authority.web.manage import (
    confirm_page,
    explain,
    field,
    form_values,
    whole_number,
)
from smartlic.authority.web.render import PORTAL, PortalRoute, flash, page, redirect, segment
from smartlic.authority.web.views import (
    ACCOUNT,
    VA,
    account_context,
    license_lines,
    va_context,
    va_url,
)
from smartlic.domain.compliance import MAX_QUANTITY
from smartlic.errors import Conflict, Forbidden, InvalidInput, NotEmpty, NotFound

__all__ = ["router", "vas_url"]

router = APIRouter(prefix=PORTAL, route_class=PortalRoute, include_in_schema=False)
REFUSED = (InvalidInput, NotFound, Conflict, Forbidden)


def vas_url(domain: str, *parts: str) -> str:
    return "/".join([f"{PORTAL}/accounts/{domain}/virtual-accounts", *map(segment, parts)])


# ---------------------------------------------------------------- licenses between VAs


@router.post(VA + "/licenses/transfer")
def transfer_licenses(
    request: Request, domain: str, va: str, services: ServicesDep, user: UserDep, form: FormDep
) -> Response:
    write_va(user, domain, va)
    values = form_values(form, "license", "count", "target")
    try:
        tag = field(form, "license", "License", max_length=300)
        count = whole_number(form, "count", "Count", low=1, high=MAX_QUANTITY)
        target = field(form, "target", "Target virtual account")
        services.licenses.transfer(domain, va, target, tag=tag, quantity=count, scope=user)
    except REFUSED as exc:
        error = explain(exc, quantity="Count", tag="License", target="Target virtual account")
        return _licenses_page(request, services, user, domain, va, values, error, exc.status)
    name = _license_name(services, tag)
    flash(request, "ok", f"{count} {name} moved from {va} to {target}.")
    return redirect(va_url(domain, va, "licenses"))


def _license_name(services: Services, tag: str) -> str:
    names = {lic.tag: lic.display_name for lic in services.licenses.list_catalogue()}
    return names.get(tag, tag)


def _licenses_page(
    request: Request,
    services: Services,
    user: UserPrincipal,
    domain: str,
    va: str,
    values: dict[str, str],
    error: str,
    status: int,
) -> Response:
    ctx = va_context(services, user, domain, va, "licenses")
    compliance = services.licenses.compliance(domain, va, scope=user)
    return page(
        request,
        "va_licenses.html",
        status,
        **license_lines(request, compliance),
        transfer=values,
        transfer_error=error,
        **ctx,
    )


# ---------------------------------------------------------------- virtual accounts


@router.get(ACCOUNT + "/virtual-accounts")
def virtual_accounts(
    request: Request, domain: str, services: ServicesDep, user: UserDep
) -> Response:
    return _vas_page(request, services, user, domain)


_COLUMNS: dict[str, Any] = {
    "name": lambda v: v.name,
    "description": lambda v: v.description,
    "created": lambda v: v.created_at,
}


def _vas_page(
    request: Request,
    services: Services,
    user: UserPrincipal,
    domain: str,
    *,
    error: str | None = None,
    status: int = 200,
    **values: Any,
) -> Response:
    ctx = account_context(services, user, domain, "inventory")
    lst = listing(request.query_params, tuple(_COLUMNS), default="name")
    ctx["vas"] = lst.apply(ctx["vas"], _COLUMNS, text=lambda v: f"{v.name} {v.description}")
    return page(
        request, "virtual_accounts.html", status, listing=lst, error=error, values=values, **ctx
    )


@router.post(ACCOUNT + "/virtual-accounts")
def create_va(
    request: Request, domain: str, services: ServicesDep, user: UserDep, form: FormDep
) -> Response:
    write_account(user, domain)
    values = form_values(form, "name", "description")
    try:
        name = field(form, "name", "Name")
        description = field(form, "description", "Description", max_length=1000, required=False)
        services.accounts.create_virtual_account(
            domain, name=name, description=description, scope=user
        )
    except REFUSED as exc:
        return _vas_page(request, services, user, domain, error=explain(exc, name="Name"),
                         status=exc.status, create=values)  # fmt: skip
    flash(request, "ok", f"Virtual account {name} created.")
    return redirect(vas_url(domain))


@router.post(ACCOUNT + "/virtual-accounts/{va}/rename")
def rename_va(
    request: Request, domain: str, va: str, services: ServicesDep, user: UserDep, form: FormDep
) -> Response:
    write_account(user, domain)
    values = {"va": va, **form_values(form, "new_name")}
    try:
        new_name = field(form, "new_name", "New name")
        services.accounts.rename_virtual_account(domain, va, new_name=new_name, scope=user)
    except REFUSED as exc:
        return _vas_page(request, services, user, domain, error=explain(exc, name="New name"),
                         status=exc.status, rename=values)  # fmt: skip
    flash(request, "ok", f"Virtual account {va} is now {new_name}.")
    return redirect(vas_url(domain))


@router.get(ACCOUNT + "/virtual-accounts/{va}/delete")
def delete_va_confirmation(
    request: Request, domain: str, va: str, services: ServicesDep, user: UserDep
) -> Response:
    write_account(user, domain)
    va_context(services, user, domain, va, "general")  # 404 for a virtual account not there
    return confirm_page(
        request,
        user,
        title=f"Delete virtual account {va}?",
        lines=[
            "Its registration tokens are deleted with it. A virtual account that still holds "
            "licenses or product instances is not deleted: transfer or remove them first."
        ],
        action=vas_url(domain, va, "delete"),
        button="Delete",
        cancel=vas_url(domain),
    )


@router.post(ACCOUNT + "/virtual-accounts/{va}/delete")
def delete_va(
    request: Request, domain: str, va: str, services: ServicesDep, user: UserDep, form: FormDep
) -> Response:
    write_account(user, domain)
    try:
        services.accounts.delete_virtual_account(domain, va, scope=user)
    except (Conflict, NotFound) as exc:
        hint = ": transfer or remove them first" if isinstance(exc, NotEmpty) else ""
        return _vas_page(
            request, services, user, domain, error=explain(exc) + hint, status=exc.status
        )
    flash(request, "ok", f"Virtual account {va} deleted.")
    return redirect(vas_url(domain))
