"""The product instance service: ``/cslu/v1/pi`` (and ``/cslu/v1/pi/<virtual account>-1``).

Devices speak the authority's vendor device API here (docs/usage-protocol.md), under the CSLU
base instead of the authority's::

    POST /cslu/v1/pi[/<va>-1]/v2/devices/reportusage     -> OK_POLL (action acknowledgements)
    POST /cslu/v1/pi[/<va>-1]/v2/devices/authrequest     -> OK_POLL (action authorizations)
    POST /cslu/v1/pi[/<va>-1]/v2/accounts/poll           -> OK_POLL ... COMPLETE
    POST /cslu/v1/pi[/<va>-1]/v1/trust                   -> the authority's trust answer
    POST /cslu/v1/pi[/<va>-1]/v1/hello                   -> {"status": "OK"}
    POST /cslu/v1/pi[/<va>-1]                            -> any of them, told apart by the body

The vendor's full prefix ``/services/api/smart-accounts-and-licensing`` is accepted between the
base and ``/v2/...`` too, so a device configured with the authority's URL layout works unchanged.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from smartlic.authority.api.schemas.device import SignedEnvelope
from smartlic.authority.api.schemas.problem import vendor_failure_responses
from smartlic.authority.api.schemas.usage import VendorRequest
from smartlic.collector.api.deps import ServicesDep
from smartlic.collector.services import CollectorServices
from smartlic.errors import NotFound
from smartlic.formats.device_api import CSLU_PI_BASE, VENDOR_PREFIX

__all__ = ["router"]

BASE = CSLU_PI_BASE
VENDOR = VENDOR_PREFIX
# The bodies as the authority documents them; the services check every field themselves.
Vendor = Annotated[VendorRequest, Body()]
Signed = Annotated[SignedEnvelope, Body()]
Message = Annotated[VendorRequest | SignedEnvelope, Body()]


class HelloRequest(BaseModel):
    """``{"data": {"sudi": {...}}}``, or ``{}`` with the UDI in ``X-CSW-REQUESTING-SYSTEM``."""

    model_config = ConfigDict(extra="allow")

    data: dict[str, Any] = Field(default_factory=dict)


Answer = dict[str, Any]

# what devices can get wrong: a signature (401), another device's report (403), an unknown
# poll or <va>-1 (404), a replayed request (409)
router = APIRouter(
    tags=["product instance service"],
    # 413 stays problem+json (app-wide): the body limit answers before any route is chosen
    responses=vendor_failure_responses(400, 401, 403, 404, 409, 422),
)


def _va(segment: str | None) -> str | None:
    """``<va>-1`` -> ``<va>`` (the vendor's per-virtual-account URL, domain-notes 4)."""
    if segment is None:
        return None
    if not segment.endswith("-1") or len(segment) < 3:
        raise NotFound(f"no product instance service {segment!r} (expected <va>-1)")
    return segment[:-2]


def _tenant(request: Request) -> str | None:
    """The ``<va>-1`` path segment of a per-virtual-account URL; None under the base URL.
    Read from the path, so that the base URL's operations take no ``tenant`` parameter."""
    segment = request.path_params.get("tenant")
    return segment if isinstance(segment, str) else None


Tenant = Annotated[str | None, Depends(_tenant)]
# A ``{tenant}`` URL declares its path parameter itself (the handler reads it via ``_tenant``).
_TENANT_PARAMETER = {
    "parameters": [
        {
            "name": "tenant",
            "in": "path",
            "required": True,
            "description": "`<virtual account>-1`",
            "schema": {"type": "string"},
        }
    ]
}


def _add(route: str, fn: Any, summary: str, *, documented: bool = True) -> None:
    extra = _TENANT_PARAMETER if "{tenant}" in route else None
    router.add_api_route(
        route,
        fn,
        methods=["POST"],
        summary=summary,
        include_in_schema=documented,
        openapi_extra=extra,
    )


def _routes(path: str) -> list[str]:
    """``path`` under the base and under ``<va>-1``, with and without the vendor prefix."""
    return [f"{BASE}{t}{v}{path}" for v in ("", VENDOR) for t in ("", "/{tenant}")]


def _post(path: str, fn: Any, summary: str) -> None:
    first, *others = _routes(path)
    _add(first, fn, summary)
    for route in others:  # the same operation: documented once
        _add(route, fn, summary, documented=False)


def _raw(body: BaseModel) -> dict[str, Any]:
    """What the device sent (unknown fields included); the services check every field."""
    return body.model_dump(exclude_unset=True)


async def report_usage(body: Vendor, services: ServicesDep, tenant: Tenant) -> Answer:
    return await _report_usage(_raw(body), services, tenant)


async def auth_request(body: Vendor, services: ServicesDep, tenant: Tenant) -> Answer:
    return await _auth_request(_raw(body), services, tenant)


async def poll(body: Vendor, services: ServicesDep, tenant: Tenant) -> Answer:
    return await _poll(_raw(body), services, tenant)


async def trust(body: Signed, services: ServicesDep, tenant: Tenant) -> Answer:
    return await _trust(_raw(body), services, tenant)


async def hello(
    body: Annotated[HelloRequest, Body()],
    services: ServicesDep,
    tenant: Tenant,
    x_csw_requesting_system: Annotated[str | None, Header()] = None,
) -> Answer:
    return await _hello(_raw(body), services, tenant, x_csw_requesting_system)


async def dispatch(
    body: Message,
    services: ServicesDep,
    tenant: Tenant,
    x_csw_requesting_system: Annotated[str | None, Header()] = None,
) -> Answer:
    """One URL for every message, as the vendor's device configuration names only the base."""
    raw = _raw(body)
    if isinstance(body, SignedEnvelope):
        return await _trust(raw, services, tenant)
    data = raw["data"]
    if "reports" in data:
        return await _report_usage(raw, services, tenant)
    if "requests" in data or "returns" in data:
        return await _auth_request(raw, services, tenant)
    if "poll_id" in data:
        return await _poll(raw, services, tenant)
    return await _hello(raw, services, tenant, x_csw_requesting_system)


async def _report_usage(raw: Answer, services: CollectorServices, tenant: str | None) -> Answer:
    return await run_in_threadpool(services.intake.report_usage, raw, _va(tenant))


async def _auth_request(raw: Answer, services: CollectorServices, tenant: str | None) -> Answer:
    return await run_in_threadpool(services.intake.authrequest, raw, _va(tenant))


async def _poll(raw: Answer, services: CollectorServices, tenant: str | None) -> Answer:
    _va(tenant)
    return await run_in_threadpool(services.intake.poll, raw)


async def _trust(raw: Answer, services: CollectorServices, tenant: str | None) -> Answer:
    _va(tenant)
    return await run_in_threadpool(services.forwarder.trust, raw)


async def _hello(
    raw: Answer, services: CollectorServices, tenant: str | None, system: str | None
) -> Answer:
    _va(tenant)
    return await run_in_threadpool(services.intake.hello, raw, system)


_post("/v2/devices/reportusage", report_usage, "Report usage (signed RUM reports): OK_POLL")
_post("/v2/devices/authrequest", auth_request, "Authorization requests and returns: OK_POLL")
_post("/v2/accounts/poll", poll, "Poll: OK_POLL until the authority answered, then COMPLETE")
for _p in ("/v1/trust", "/api/device/v1/trust"):
    for _r in (f"{BASE}{_p}", f"{BASE}/{{tenant}}{_p}"):
        _add(_r, trust, "Trust request (online)")
for _r in (f"{BASE}/v1/hello", f"{BASE}/{{tenant}}/v1/hello"):
    _add(_r, hello, "Hello (last contact)")
for _r in (BASE, f"{BASE}/{{tenant}}"):
    _add(_r, dispatch, "Any message, by its body")
