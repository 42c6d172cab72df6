"""Portal: license reservations and node-locked license files (issue 11).

On a virtual account's Licenses tab: "Reserve Licenses" (a device's request code, then the
licenses and counts of a specific reservation or a universal one; the answer shows the
authorization code to install on the device) and "Issue License File" (a signed node-locked
file, downloaded). On the Product Instances tab: Remove with a "Reservation Return Code" (the
second document's Actions -> Remove). The same services as the API, the user as ``scope``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.datastructures import FormData

from smartlic.authority.api.deps import ServicesDep
from smartlic.authority.services import Services
from smartlic.authority.services.users import UserPrincipal
from smartlic.authority.web.auth import FormDep, UserDep, text_field, write_va
from smartlic.authority.web.render import PORTAL, PortalRoute, flash, page, redirect
from smartlic.authority.web.views import VA, instance_name, license_lines, va_context, va_url
from smartlic.crypto import Udi
from smartlic.errors import Conflict, InvalidInput, NotFound, SmartlicError
from smartlic.formats.bounds import decimal

__all__ = ["router"]

router = APIRouter(prefix=PORTAL, route_class=PortalRoute, include_in_schema=False)
_REFUSED = (InvalidInput, NotFound, Conflict)


def _licenses_page(
    request: Request, services: Services, user: UserPrincipal, domain: str, va: str,
    status: int, **more: Any,
) -> Response:  # fmt: skip
    ctx = va_context(services, user, domain, va, "licenses")
    compliance = services.licenses.compliance(domain, va, scope=user)
    reservations = services.reservations.list_reservations(domain, va, scope=user)
    return page(request, "va_licenses.html", status, **license_lines(request, compliance),
                reservations=reservations, **more, **ctx)  # fmt: skip


def _counts(form: FormData) -> dict[str, int]:
    """``qty:<tag>`` fields with a count above zero."""
    out: dict[str, int] = {}
    for name, value in form.multi_items():
        if not name.startswith("qty:") or not isinstance(value, str) or not value.strip():
            continue
        quantity = decimal(value.strip())
        if quantity is None or quantity > 1_000_000:
            raise InvalidInput(f"{name[4:]}: a whole number from 0 to 1000000")
        if quantity:
            out[name[4:]] = quantity
    return out


@router.get(VA + "/reservations")
def reservations(
    request: Request, domain: str, va: str, services: ServicesDep, user: UserDep
) -> Response:
    """The Licenses tab with the virtual account's license reservations listed."""
    return _licenses_page(request, services, user, domain, va, 200)


@router.post(VA + "/reservations")
def reserve(
    request: Request, domain: str, va: str, services: ServicesDep, user: UserDep, form: FormDep
) -> Response:
    write_va(user, domain, va)
    try:
        code = text_field(form, "request_code", max_length=300)
        universal = form.get("reservation_type") == "UNIVERSAL"
        made = services.reservations.reserve(
            domain, va, code, licenses={} if universal else _counts(form),
            universal=universal, scope=user,
        )  # fmt: skip
    except _REFUSED as exc:
        return _licenses_page(request, services, user, domain, va, exc.status,
                              reserve_error=exc.detail)  # fmt: skip
    return _licenses_page(request, services, user, domain, va, 201, reserved=made)


def _optional_int(form: FormData, name: str) -> int | None:
    text = text_field(form, name, max_length=10, required=False)
    if not text:
        return None
    number = decimal(text)
    if number is None:
        raise InvalidInput(f"{name.replace('_', ' ')}: a whole number")
    return number


@router.post(VA + "/license-files")
def issue_file(
    request: Request, domain: str, va: str, services: ServicesDep, user: UserDep, form: FormDep
) -> Response:
    write_va(user, domain, va)
    try:
        issued = services.reservations.issue_file(
            domain, va, Udi.parse(text_field(form, "udi", max_length=140)),
            text_field(form, "feature", max_length=255), count=_optional_int(form, "count"),
            eval_days=_optional_int(form, "eval_days"),
            from_holdings=form.get("standalone") != "on", scope=user,
        )  # fmt: skip
    except _REFUSED as exc:
        return _licenses_page(request, services, user, domain, va, exc.status,
                              file_error=exc.detail)  # fmt: skip
    disposition = f'attachment; filename="{issued.serial}.lic"'
    return Response(issued.data, media_type="application/xml",
                    headers={"Content-Disposition": disposition})  # fmt: skip


@router.post(VA + "/instances/{instance_id}/remove-reserved")
def remove_reserved(
    request: Request,
    domain: str,
    va: str,
    instance_id: str,
    services: ServicesDep,
    user: UserDep,
    form: FormDep,
) -> Response:
    """Actions -> Remove with the device's "Reservation Return Code"."""
    write_va(user, domain, va)
    instance = services.instances.get_instance(domain, instance_id, scope=user)
    if instance.virtual_account != va:
        raise NotFound(f"no product instance {instance_id!r} in virtual account {va!r}")
    try:
        code = text_field(form, "return_code", max_length=300)
        services.instances.remove_instance(domain, instance_id, return_code=code, scope=user)
    except SmartlicError as exc:
        flash(request, "error", f"{instance_name(instance)} was not removed: {exc.detail}")
        return redirect(va_url(domain, va, "instances"))
    flash(request, "ok", f"{instance_name(instance)} removed; its reservation is returned.")
    return redirect(va_url(domain, va, "instances"))
