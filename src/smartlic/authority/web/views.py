"""Portal pages of the inventory: smart accounts, a smart account's virtual accounts, and a
virtual account's tabs (General: registration tokens; Licenses; Product Instances).

Each view calls the same services as the REST API with the logged-in user as ``scope``, so the
one set of tenant rules (``services/scope.py``) decides what it shows; ``auth.read_va`` ...
refuse a page before it is built. Failed actions show their message on the
page they came from, with the error's status, and change nothing.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from smartlic.authority.api.deps import ServicesDep
from smartlic.authority.services import Services
from smartlic.authority.services.interfaces import ComplianceOut, InstanceOut, VirtualAccountOut
from smartlic.authority.services.scope import scope_in
from smartlic.authority.services.users import UserPrincipal
from smartlic.authority.web.auth import (
    FormDep,
    UserDep,
    read_account,
    read_va,
    text_field,
    write_account,
    write_va,
)
from smartlic.authority.web.lists import listing
from smartlic.authority.web.render import PORTAL, PortalRoute, flash, page, redirect, segment
from smartlic.domain.products import PROFILES
from smartlic.errors import Conflict, InvalidInput, NotFound

__all__ = [
    "account_context",
    "instance_name",
    "license_lines",
    "product_type",
    "router",
    "va_context",
    "va_url",
    "visible_vas",
]

router = APIRouter(prefix=PORTAL, route_class=PortalRoute, include_in_schema=False)
ACCOUNT = "/accounts/{domain}"
VA = ACCOUNT + "/va/{va}"
PAGE_SIZE = 50
_PRODUCT_TYPES = {p.pid: p.product_name for p in PROFILES.values()}


def va_url(domain: str, va: str, tab: str) -> str:
    return f"{PORTAL}/accounts/{domain}/va/{segment(va)}/{tab}"


def visible_vas(services: Services, user: UserPrincipal, domain: str) -> list[VirtualAccountOut]:
    """The virtual accounts of ``domain`` this user may read."""
    return services.accounts.list_virtual_accounts(domain, scope=user)


def instance_name(i: InstanceOut) -> str:
    """The portal's product instance name ("UDI_PID:...; UDI_SN:...", as CSSM shows it)."""
    return f"UDI_PID:{i.udi_pid}; UDI_SN:{i.udi_sn}"


def product_type(i: InstanceOut) -> str:
    return _PRODUCT_TYPES.get(i.udi_pid, i.udi_pid)


def account_context(
    services: Services, user: UserPrincipal, domain: str, tab: str, *, manage: bool = False
) -> dict[str, Any]:
    """What every page of a smart account shows: the account and the virtual accounts the user
    may read; refused first unless the user may read (``manage``: change) the account."""
    (write_account if manage else read_account)(user, domain)
    sa = services.accounts.get_smart_account(domain, scope=user)
    vas = visible_vas(services, user, domain)
    return {"user": user, "domain": domain, "sa": sa, "vas": vas, "tab": tab}


def va_context(
    services: Services, user: UserPrincipal, domain: str, va: str, tab: str
) -> dict[str, Any]:
    read_va(user, domain, va)
    services.accounts.get_smart_account(domain, scope=user)  # 404 for an unknown account
    vas = visible_vas(services, user, domain)
    if va not in {v.name for v in vas}:  # read_va passed: it does not exist
        raise NotFound(f"no virtual account {va!r} in {domain!r}")
    return {
        "user": user,
        "domain": domain,
        "va": va,
        "vas": vas,
        "tab": tab,
        "can_write": scope_in(user, domain).can_write(va),
    }


# ---------------------------------------------------------------- smart accounts


@router.get("/")
def home(request: Request, services: ServicesDep, user: UserDep) -> Response:
    lst = listing(request.query_params, ("name", "domain", "created"), default="name")
    accounts = lst.apply(
        services.accounts.list_smart_accounts(scope=user),
        {"name": lambda a: a.name, "domain": lambda a: a.domain, "created": lambda a: a.created_at},
        text=lambda a: f"{a.name} {a.domain}",
    )
    return page(request, "home.html", user=user, accounts=accounts, listing=lst)


@router.get(ACCOUNT)
def account(request: Request, domain: str, services: ServicesDep, user: UserDep) -> Response:
    read_account(user, domain)
    sa = services.accounts.get_smart_account(domain, scope=user)
    rows: list[dict[str, Any]] = [
        {
            "va": va,
            "compliance": services.licenses.compliance(domain, va.name, scope=user),
            "instances": services.instances.list_instances(
                domain, va.name, limit=1, scope=user
            ).total,
        }
        for va in visible_vas(services, user, domain)
    ]
    lst = listing(request.query_params, tuple(_VA_COLUMNS), default="name")
    rows = lst.apply(rows, _VA_COLUMNS, text=lambda r: f"{r['va'].name} {r['va'].description}")
    return page(request, "account.html", user=user, sa=sa, domain=domain, rows=rows, listing=lst)


_INSTANCE_COLUMNS = ("name", "hostname", "contact", "registered")  # sorted by the service
_VA_COLUMNS: dict[str, Any] = {
    "name": lambda r: r["va"].name,
    "description": lambda r: r["va"].description,
    "licenses": lambda r: len(r["compliance"].lines),
    "instances": lambda r: r["instances"],
    "status": lambda r: r["compliance"].status.value,
}
_LICENSE_COLUMNS: dict[str, Any] = {
    "license": lambda ln: ln.display_name,
    "purchased": lambda ln: ln.purchased,
    "in_use": lambda ln: ln.in_use,
    "reserved": lambda ln: ln.reserved,
    "available": lambda ln: ln.available,
    "status": lambda ln: ln.status.value,
}


# ---------------------------------------------------------------- virtual account tabs


@router.get(VA + "/licenses")
def licenses(
    request: Request, domain: str, va: str, services: ServicesDep, user: UserDep
) -> Response:
    ctx = va_context(services, user, domain, va, "licenses")
    compliance = services.licenses.compliance(domain, va, scope=user)
    return page(request, "va_licenses.html", **license_lines(request, compliance), **ctx)


def license_lines(request: Request, compliance: ComplianceOut) -> dict[str, Any]:
    """The Licenses tab's table: the compliance lines sorted and filtered as the reader chose."""
    lst = listing(request.query_params, tuple(_LICENSE_COLUMNS), default="license")
    lines = lst.apply(
        compliance.lines, _LICENSE_COLUMNS, text=lambda ln: f"{ln.display_name} {ln.tag}"
    )
    return {"compliance": compliance, "lines": lines, "listing": lst}


@router.get(VA + "/instances")
def instances(
    request: Request,
    domain: str,
    va: str,
    services: ServicesDep,
    user: UserDep,
    offset: int = 0,
) -> Response:
    return _instances_page(request, services, user, domain, va, offset=offset)


def _instances_page(
    request: Request,
    services: Services,
    user: UserPrincipal,
    domain: str,
    va: str,
    *,
    offset: int = 0,
    error: str | None = None,
    status: int = 200,
) -> Response:
    ctx = va_context(services, user, domain, va, "instances")
    lst = listing(request.query_params, _INSTANCE_COLUMNS, default="name")
    search = lst.filter or request.query_params.get("search", "")[:200]  # older links: search=
    found = services.instances.list_instances(
        domain,
        va,
        search=search or None,
        order=lst.sort,
        descending=lst.descending,
        limit=PAGE_SIZE,
        offset=max(offset, 0),
        scope=user,
    )
    rows = [
        {"i": i, "name": instance_name(i), "product_type": product_type(i)} for i in found.items
    ]
    targets = [v.name for v in ctx["vas"] if v.name != va]
    return page(
        request,
        "va_instances.html",
        status,
        found=found,
        rows=rows,
        search=search,
        targets=targets,
        error=error,
        listing=lst,
        **ctx,
    )


@router.post(VA + "/instances/{instance_id}/transfer")
def transfer_instance(
    request: Request,
    domain: str,
    va: str,
    instance_id: str,
    services: ServicesDep,
    user: UserDep,
    form: FormDep,
) -> Response:
    write_va(user, domain, va)
    instance = _instance_in(services, user, domain, va, instance_id)
    try:
        target = text_field(form, "target", max_length=100)
        write_va(user, domain, target)
        # Warn first: a transfer the target pool cannot cover needs a second, explicit post.
        if form.get("confirm") != "yes":
            preview = services.instances.preview_transfer(
                domain, instance_id, target=target, scope=user
            )
            if preview.out_of_compliance:
                ctx = va_context(services, user, domain, va, "instances")
                return page(
                    request,
                    "va_transfer.html",
                    200,
                    instance=instance,
                    instance_label=instance_name(instance),
                    preview=preview,
                    **ctx,
                )
        services.instances.transfer_instance(domain, instance_id, target=target, scope=user)
    except (InvalidInput, NotFound, Conflict) as exc:
        return _instances_page(
            request, services, user, domain, va, error=exc.detail, status=exc.status
        )
    flash(request, "ok", f"{instance_name(instance)} moved to {target}.")
    return redirect(va_url(domain, va, "instances"))


@router.post(VA + "/instances/{instance_id}/remove")
def remove_instance(
    request: Request,
    domain: str,
    va: str,
    instance_id: str,
    services: ServicesDep,
    user: UserDep,
    form: FormDep,
) -> Response:
    write_va(user, domain, va)
    instance = _instance_in(services, user, domain, va, instance_id)
    services.instances.remove_instance(domain, instance_id, scope=user)
    flash(request, "ok", f"{instance_name(instance)} removed; its licenses are free again.")
    return redirect(va_url(domain, va, "instances"))


def _instance_in(
    services: Services, user: UserPrincipal, domain: str, va: str, instance_id: str
) -> InstanceOut:
    """The instance, if it is in ``va`` (a form cannot reach into another virtual account)."""
    instance = services.instances.get_instance(domain, instance_id, scope=user)
    if instance.virtual_account != va:
        raise NotFound(f"no product instance {instance_id!r} in virtual account {va!r}")
    return instance
