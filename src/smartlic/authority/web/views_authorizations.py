"""Portal: Smart Licensing Authorization Codes (SLAC) of a smart account.

The account's "Authorization Codes" tab lists the codes issued (outstanding, or all with the
returned ones), sortable and filterable; a user who may change a virtual account uploads a
device's authorization request file there and downloads the code file, or enters the return
code a device printed to free the licenses. The same services as the API
(``api/routes/authorizations.py``), the user as ``scope``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.datastructures import FormData, UploadFile

from smartlic.authority.api.deps import ServicesDep
from smartlic.authority.api.deps_usage import attachment
from smartlic.authority.api.routes.authorizations import CODE_FILE_NAME
from smartlic.authority.services import Services
from smartlic.authority.services.scope import scope_in
from smartlic.authority.services.users import UserPrincipal
from smartlic.authority.web.auth import (
    FormDep,
    UserDep,
    close_files,
    text_field,
    write_va,
)
from smartlic.authority.web.lists import listing
from smartlic.authority.web.render import PORTAL, PortalRoute, flash, page, redirect
from smartlic.authority.web.views import ACCOUNT, account_context
from smartlic.domain.event_text import short
from smartlic.errors import Conflict, Forbidden, InvalidInput, NotFound

__all__ = ["router"]

router = APIRouter(prefix=PORTAL, route_class=PortalRoute, include_in_schema=False)
CODES = ACCOUNT + "/authorization-codes"
_REFUSED = (InvalidInput, NotFound, Conflict, Forbidden)
_COLUMNS: dict[str, Any] = {
    "device": lambda c: c.udi,
    "va": lambda c: c.virtual_account,
    "license": lambda c: short(c.tag),
    "count": lambda c: c.count,
    "issued": lambda c: c.issued_at,
    "returned": lambda c: c.returned_at,
}


def _codes_page(
    request: Request,
    services: Services,
    user: UserPrincipal,
    domain: str,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    ctx = account_context(services, user, domain, "authorizations")
    every = request.query_params.get("all") == "1"
    lst = listing(request.query_params, tuple(_COLUMNS), default="issued", descending=True)
    codes = lst.apply(
        services.authorizations.list_codes(domain, include_returned=every, scope=user),
        _COLUMNS,
        text=lambda c: f"{c.udi} {c.virtual_account} {c.tag} {c.confirmation_code}",
    )
    allowed = scope_in(user, domain)
    writable = [v.name for v in ctx["vas"] if allowed.can_write(v.name)]
    return page(
        request, "authorization_codes.html", status, codes=codes, every=every, listing=lst,
        writable=writable, short=short, error=error, **ctx,
    )  # fmt: skip


@router.get(CODES)
def codes(request: Request, domain: str, services: ServicesDep, user: UserDep) -> Response:
    return _codes_page(request, services, user, domain)


def _upload(form: FormData) -> bytes:
    item = form.get("file")
    if not isinstance(item, UploadFile) or not item.filename:
        raise InvalidInput("choose the authorization request file the device saved")
    return item.file.read()


@router.post(CODES + "/requests")
def request_code(
    request: Request, domain: str, services: ServicesDep, user: UserDep, form: FormDep
) -> Response:
    """A device's request file in, the authorization code file out (a download)."""
    va = str(form.get("virtual_account") or "")
    try:
        if not va:
            raise InvalidInput("choose the virtual account whose licenses the device uses")
        write_va(user, domain, va)
        data = services.authorizations.request_file(domain, va, content=_upload(form), scope=user)
    except _REFUSED as exc:
        return _codes_page(request, services, user, domain, error=exc.detail, status=exc.status)
    finally:
        close_files(form)  # also when refused before the file was read
    return attachment(CODE_FILE_NAME, data)


@router.post(CODES + "/returns")
def return_code(
    request: Request, domain: str, services: ServicesDep, user: UserDep, form: FormDep
) -> Response:
    """The return code a device printed: its licenses go back to the pool."""
    try:
        code = text_field(form, "return_code", max_length=1000)
        freed = services.authorizations.return_code(code, domain=domain, scope=user)
    except _REFUSED as exc:
        return _codes_page(request, services, user, domain, error=exc.detail, status=exc.status)
    count = sum(c.count for c in freed)
    flash(
        request,
        "ok",
        f"{count} license(s) of {freed[0].udi} returned to {freed[0].virtual_account}.",
    )
    return redirect(f"{PORTAL}/accounts/{domain}/authorization-codes")
