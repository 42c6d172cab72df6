"""The General tab of a virtual account: Product Instance Registration Tokens.

A new token's text is in the answer to the form that created it and nowhere else (only its hash
is stored): the page says so and offers to copy it, as CSSM's "New Token" dialog does.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.datastructures import FormData

from smartlic.authority.api.deps import ServicesDep
from smartlic.authority.services import Services
from smartlic.authority.services.interfaces import CreatedToken
from smartlic.authority.services.users import UserPrincipal
from smartlic.authority.web.auth import FormDep, UserDep, text_field, write_va
from smartlic.authority.web.lists import listing
from smartlic.authority.web.render import PORTAL, PortalRoute, flash, page, redirect
from smartlic.authority.web.views import VA, va_context, va_url
from smartlic.errors import InvalidInput, NotFound
from smartlic.formats.bounds import decimal

__all__ = ["router"]

router = APIRouter(prefix=PORTAL, route_class=PortalRoute, include_in_schema=False)
MAX_DAYS = 365
# The New Token form's fields as the page names them (an error names what the user sees).
_COLUMNS: dict[str, Any] = {
    "description": lambda t: t.description,
    "created": lambda t: t.created_at,
    "expires": lambda t: t.expires_at,
    "uses": lambda t: t.uses,
    "created_by": lambda t: t.created_by,
    "status": lambda t: t.status,
}
_LABELS = {"expires_after_days": "Expire after (days)", "max_uses": "Max. number of uses"}


@router.get(VA + "/general")
def general(
    request: Request, domain: str, va: str, services: ServicesDep, user: UserDep
) -> Response:
    return _general_page(request, services, user, domain, va)


def _general_page(
    request: Request,
    services: Services,
    user: UserPrincipal,
    domain: str,
    va: str,
    *,
    created: CreatedToken | None = None,
    error: str | None = None,
    status: int = 200,
    form: FormData | None = None,
) -> Response:
    ctx = va_context(services, user, domain, va, "general")
    lst = listing(request.query_params, tuple(_COLUMNS), default="created", descending=True)
    tokens = lst.apply(
        reversed(services.tokens.list_tokens(domain, va, scope=user)),  # newest first on ties
        _COLUMNS,
        text=lambda t: f"{t.description} {t.created_by} {t.status}",
    )
    return page(
        request,
        "va_general.html",
        status,
        tokens=tokens,
        created=created,
        error=error,
        max_days=MAX_DAYS,
        values=_kept(form),
        listing=lst,
        **ctx,
    )


def _kept(form: FormData | None) -> dict[str, str]:
    """What the user typed into the New Token form, to show it again beside an error."""
    if form is None:
        return {"expires_after_days": "30", "export_controlled_allowed": "on"}
    return {k: v[:1000] for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}


def _int_field(
    form: FormData, name: str, *, low: int, high: int, default: int | None
) -> int | None:
    text = text_field(form, name, max_length=10, required=False)
    if not text:
        return default
    number = decimal(text)
    if number is None or not low <= number <= high:
        label = _LABELS.get(name, name)
        raise InvalidInput(f"{label}: a whole number from {low} to {high}", pointer=f"/{name}")
    return number


@router.post(VA + "/tokens")
def create_token(
    request: Request,
    domain: str,
    va: str,
    services: ServicesDep,
    user: UserDep,
    form: FormDep,
) -> Response:
    write_va(user, domain, va)
    try:
        days = _int_field(form, "expires_after_days", low=1, high=MAX_DAYS, default=30)
        created = services.tokens.create_token(
            domain,
            va,
            days=days or 30,
            description=text_field(form, "description", max_length=1000, required=False),
            max_uses=_int_field(form, "max_uses", low=1, high=1_000_000, default=None),
            export_controlled_allowed=form.get("export_controlled_allowed") == "on",
            scope=user,
        )
    except InvalidInput as exc:
        return _general_page(
            request, services, user, domain, va, error=exc.detail, status=422, form=form
        )
    return _general_page(request, services, user, domain, va, created=created, status=201)


@router.post(VA + "/tokens/{token_id}/revoke")
def revoke_token(
    request: Request,
    domain: str,
    va: str,
    token_id: str,
    services: ServicesDep,
    user: UserDep,
    form: FormDep,
) -> Response:
    write_va(user, domain, va)
    token = next(
        (t for t in services.tokens.list_tokens(domain, va, scope=user) if t.id == token_id), None
    )
    if token is None:
        raise NotFound(f"no registration token {token_id!r} in virtual account {va!r}")
    if form.get("confirm") != "yes":  # first ask, as CSSM's "Revoke Token" dialog does
        ctx = va_context(services, user, domain, va, "general")
        return page(request, "confirm_revoke.html", token=token, **ctx)
    services.tokens.revoke_token(domain, token_id, scope=user)
    flash(request, "ok", "The token is revoked: no device can register with it any more.")
    return redirect(va_url(domain, va, "general"))
