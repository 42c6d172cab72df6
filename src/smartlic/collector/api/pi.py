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

from fastapi import APIRouter, Body, Header
from fastapi.concurrency import run_in_threadpool

from smartlic.collector.api.deps import ServicesDep
from smartlic.errors import InvalidInput, NotFound

__all__ = ["router"]

BASE = "/cslu/v1/pi"
VENDOR = "/services/api/smart-accounts-and-licensing"
Json = Annotated[Any, Body()]
Answer = dict[str, Any]

router = APIRouter(tags=["product instance service"])


def _va(segment: str | None) -> str | None:
    """``<va>-1`` -> ``<va>`` (the vendor's per-virtual-account URL, domain-notes 4)."""
    if segment is None:
        return None
    if not segment.endswith("-1") or len(segment) < 3:
        raise NotFound(f"no product instance service {segment!r} (expected <va>-1)")
    return segment[:-2]


def _routes(path: str) -> list[str]:
    """``path`` under the base and under ``<va>-1``, with and without the vendor prefix."""
    return [f"{BASE}{t}{v}{path}" for v in ("", VENDOR) for t in ("", "/{tenant}")]


def _post(path: str, fn: Any, summary: str) -> None:
    first, *others = _routes(path)
    router.add_api_route(first, fn, methods=["POST"], summary=summary)
    for route in others:  # the same operation: documented once
        router.add_api_route(route, fn, methods=["POST"], summary=summary, include_in_schema=False)


async def report_usage(body: Json, services: ServicesDep, tenant: str | None = None) -> Answer:
    return await run_in_threadpool(services.intake.report_usage, body, _va(tenant))


async def auth_request(body: Json, services: ServicesDep, tenant: str | None = None) -> Answer:
    return await run_in_threadpool(services.intake.authrequest, body, _va(tenant))


async def poll(body: Json, services: ServicesDep, tenant: str | None = None) -> Answer:
    _va(tenant)
    return await run_in_threadpool(services.intake.poll, body)


async def trust(body: Json, services: ServicesDep, tenant: str | None = None) -> Answer:
    _va(tenant)
    return await run_in_threadpool(services.forwarder.trust, body)


async def hello(
    body: Json,
    services: ServicesDep,
    tenant: str | None = None,
    x_csw_requesting_system: Annotated[str | None, Header()] = None,
) -> Answer:
    _va(tenant)
    return await run_in_threadpool(services.intake.hello, body, x_csw_requesting_system)


async def dispatch(
    body: Json,
    services: ServicesDep,
    tenant: str | None = None,
    x_csw_requesting_system: Annotated[str | None, Header()] = None,
) -> Answer:
    """One URL for every message, as the vendor's device configuration names only the base."""
    data = body.get("data") if isinstance(body, dict) else None
    if isinstance(body, dict) and isinstance(body.get("payload"), str):
        return await trust(body, services, tenant)
    if not isinstance(data, dict):
        raise InvalidInput('the body is {"data": {...}} or a signed trust request')
    if "reports" in data:
        return await report_usage(body, services, tenant)
    if "requests" in data or "returns" in data:
        return await auth_request(body, services, tenant)
    if "poll_id" in data:
        return await poll(body, services, tenant)
    return await hello(body, services, tenant, x_csw_requesting_system)


_post("/v2/devices/reportusage", report_usage, "Report usage (signed RUM reports): OK_POLL")
_post("/v2/devices/authrequest", auth_request, "Authorization requests and returns: OK_POLL")
_post("/v2/accounts/poll", poll, "Poll: OK_POLL until the authority answered, then COMPLETE")
for _p in ("/v1/trust", "/api/device/v1/trust"):
    for _r in (f"{BASE}{_p}", f"{BASE}/{{tenant}}{_p}"):
        router.add_api_route(_r, trust, methods=["POST"], summary="Trust request (online)")
for _r in (f"{BASE}/v1/hello", f"{BASE}/{{tenant}}/v1/hello"):
    router.add_api_route(_r, hello, methods=["POST"], summary="Hello (last contact)")
for _r in (BASE, f"{BASE}/{{tenant}}"):
    router.add_api_route(_r, dispatch, methods=["POST"], summary="Any message, by its body")
