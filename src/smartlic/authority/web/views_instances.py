"""A product instance's own pages: its detail (UDI, status, licenses in use, reporting, events),
the preview of a transfer to another virtual account (what the target pool would look like,
before anything moves), and the confirmation of its removal.

The changes themselves are posted to the Product Instances tab's actions (``views.py``:
``.../instances/{id}/transfer`` with ``confirm=yes``, ``.../instances/{id}/remove``), which call
``services.instances`` with the user as ``scope``; these pages only read.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from smartlic.authority.api.deps import ServicesDep
from smartlic.authority.services import Services
from smartlic.authority.services.interfaces import EventFilter, InstanceOut
from smartlic.authority.services.users import UserPrincipal
from smartlic.authority.web.auth import UserDep, write_va
from smartlic.authority.web.manage import confirm_page, explain
from smartlic.authority.web.render import PORTAL, PortalRoute, page
from smartlic.authority.web.views import VA, instance_name, product_type, va_context, va_url
from smartlic.authority.web.views_reports import event_row
from smartlic.crypto import Udi
from smartlic.errors import InvalidInput, NotFound

__all__ = ["instance_url", "router"]

router = APIRouter(prefix=PORTAL, route_class=PortalRoute, include_in_schema=False)
INSTANCE = VA + "/instances/{instance_id}"
EVENTS_SHOWN = 50


def instance_url(domain: str, va: str, instance_id: str, action: str = "") -> str:
    return va_url(domain, va, f"instances/{instance_id}") + (f"/{action}" if action else "")


def instance_in(
    services: Services, user: UserPrincipal, domain: str, va: str, instance_id: str
) -> InstanceOut:
    """The instance, if it is in ``va``: another virtual account's (or tenant's) is not found."""
    instance = services.instances.get_instance(domain, instance_id[:64], scope=user)
    if instance.virtual_account != va:
        raise NotFound(f"no product instance {instance_id!r} in virtual account {va!r}")
    return instance


@router.get(INSTANCE)
def detail(
    request: Request, domain: str, va: str, instance_id: str, services: ServicesDep, user: UserDep
) -> Response:
    return _detail_page(request, services, user, domain, va, instance_id)


def _detail_page(
    request: Request,
    services: Services,
    user: UserPrincipal,
    domain: str,
    va: str,
    instance_id: str,
    *,
    error: str | None = None,
    target: str = "",
    status: int = 200,
) -> Response:
    ctx = va_context(services, user, domain, va, "instances")
    instance = instance_in(services, user, domain, va, instance_id)
    return page(
        request,
        "instance.html",
        status,
        i=instance,
        label=instance_name(instance),
        product_type=product_type(instance),
        licenses=_license_names(services),
        events=_events(services, user, instance),
        targets=[v.name for v in ctx["vas"] if v.name != va],
        target=target,
        error=error,
        **ctx,
    )


def _license_names(services: Services) -> dict[str, str]:
    return {lic.tag: lic.display_name for lic in services.licenses.list_catalogue()}


def _events(services: Services, user: UserPrincipal, i: InstanceOut) -> list[dict[str, Any]]:
    where = EventFilter(subject=str(Udi(i.udi_pid, i.udi_sn)))
    found = services.events.list_events(
        i.smart_account, where=where, limit=EVENTS_SHOWN, scope=user
    ).items
    return [event_row(e) for e in found]


@router.get(INSTANCE + "/transfer")
def transfer_preview(
    request: Request,
    domain: str,
    va: str,
    instance_id: str,
    services: ServicesDep,
    user: UserDep,
    target: str = "",
) -> Response:
    """What the transfer would do to the target's pool, and the button that makes it."""
    write_va(user, domain, va)
    instance = instance_in(services, user, domain, va, instance_id)
    try:
        if not target.strip():
            raise InvalidInput("Target virtual account: required", pointer="/target")
        preview = services.instances.preview_transfer(
            domain, instance.id, target=target.strip()[:200], scope=user
        )
    except (InvalidInput, NotFound) as exc:
        return _detail_page(
            request, services, user, domain, va, instance.id,
            error=explain(exc), target=target, status=exc.status,
        )  # fmt: skip
    ctx = va_context(services, user, domain, va, "instances")
    return page(
        request,
        "instance_transfer.html",
        i=instance,
        label=instance_name(instance),
        preview=preview,
        **ctx,
    )


@router.get(INSTANCE + "/remove")
def remove_confirmation(
    request: Request, domain: str, va: str, instance_id: str, services: ServicesDep, user: UserDep
) -> Response:
    write_va(user, domain, va)
    instance = instance_in(services, user, domain, va, instance_id)
    names = _license_names(services)
    used = ", ".join(f"{u.count} x {names.get(u.tag, u.tag)}" for u in instance.usage if u.count)
    return confirm_page(
        request,
        user,
        title=f"Remove {instance_name(instance)}?",
        lines=[
            f"The product instance leaves virtual account {va}; the licenses it uses "
            f"({used or 'none'}) are free again there.",
            "The device must register again (with a new token) to use licenses from here.",
        ],
        action=instance_url(domain, va, instance.id, "remove"),
        button="Remove",
        cancel=instance_url(domain, va, instance.id),
    )
