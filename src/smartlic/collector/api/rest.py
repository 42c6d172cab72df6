"""The collector's own REST API (port 8180): status, preferences, devices to collect from,
and the actions of the CSLU screen (sync, collect, Download All for Cisco, Upload from Cisco)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, model_validator

from smartlic.authority.api.schemas.problem import problem_responses
from smartlic.collector.api.deps import ServicesDep, TokenDep
from smartlic.collector.prefs import PreferencesChange, Url
from smartlic.crypto import Udi
from smartlic.formats.disposition import attachment_header

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["collector"])
# every route but /health needs the REST API token (deps.require_token)
_protected = APIRouter(dependencies=[TokenDep], responses=problem_responses(401))


class PullDeviceCreate(BaseModel):
    """A device the collector knows (Validate Device); with an address, a collector-initiated
    one: where its on-box API answers and how to log in."""

    pid: str = Field(min_length=1, max_length=64)
    sn: str = Field(min_length=1, max_length=64)
    address: Url = Field(None, max_length=255, description="e.g. https://10.0.0.5")
    username: str | None = Field(None, max_length=100)
    password: str | None = Field(None, max_length=255)
    hostname: str = ""

    @model_validator(mode="after")
    def _login_for_an_address(self) -> PullDeviceCreate:
        if self.address and not (self.username and self.password):
            raise ValueError("a device collected from an address needs its username and password")
        return self


@router.get("/health", summary="Liveness")
def health() -> dict[str, str]:
    return {"status": "ok"}


@_protected.get("/devices", summary="Product instances with their latest alerts")
def devices(services: ServicesDep) -> list[dict[str, Any]]:
    return [asdict(d) for d in services.status.devices(alerts=3)]


@_protected.post("/devices", status_code=201, summary="Add a known (or collector-initiated) device")
def add_device(body: PullDeviceCreate, services: ServicesDep) -> dict[str, Any]:
    d = services.puller.add_device(
        Udi(body.pid, body.sn), body.address, body.username, body.password, body.hostname
    )
    return {"id": d.id, "name": d.name, "mode": d.mode}


@_protected.get("/status", summary="Report counts by state")
def totals(services: ServicesDep) -> dict[str, Any]:
    return asdict(services.status.totals())


@_protected.get("/alerts", summary="Latest alerts")
def alerts(
    services: ServicesDep, limit: Annotated[int, Query(ge=1, le=1000)] = 50
) -> list[dict[str, Any]]:
    return [{"at": at, "text": t} for at, t in services.status.alerts(limit=limit)]


@_protected.get("/preferences", summary="Preferences (the API key is shown as set / not set)")
def get_preferences(services: ServicesDep) -> dict[str, Any]:
    return services.status.prefs().public()


@_protected.patch("/preferences", summary="Change preferences (strict types; all or nothing)")
def patch_preferences(services: ServicesDep, changes: PreferencesChange) -> dict[str, Any]:
    return services.status.change_preferences(changes.model_dump(exclude_unset=True))


@_protected.post("/actions/sync", summary="Forward to the authority and fetch its answers now")
async def sync(services: ServicesDep) -> dict[str, Any]:
    return asdict(await run_in_threadpool(services.forwarder.sync))


@_protected.post("/actions/pull", summary="Collect from every collector-initiated device now")
async def pull(services: ServicesDep) -> dict[str, Any]:
    return asdict(await run_in_threadpool(services.puller.pull_all))


@_protected.get(
    "/export",
    response_class=Response,
    responses={200: {"content": {"application/gzip": {}}, "description": "a .tar.gz archive"}},
    summary="Download All for Cisco: a .tar.gz of everything unacknowledged",
)
def export(services: ServicesDep, virtual_account: str | None = None) -> Response:
    result = services.transfer.export(virtual_account)
    return Response(
        result.content,
        media_type="application/gzip",
        headers={"Content-Disposition": attachment_header(result.name)},
    )


@_protected.post(
    "/import", summary="Upload from Cisco: an ACK archive (or file) from the authority"
)
async def import_acks(
    services: ServicesDep, content: Annotated[bytes, Body(media_type="application/octet-stream")]
) -> dict[str, Any]:
    return asdict(await run_in_threadpool(services.transfer.import_acks, content))


router.include_router(_protected)
