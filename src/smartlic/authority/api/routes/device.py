"""Device protocol v1 (docs/device-protocol.md): ``/api/device/v1/{register,renew-id,...}``.

No API key here: a device proves itself with its registration token (register) or with the
signature of its identity key (everything else). Each route hands the body to the device
service and returns its signed envelope unchanged.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi.responses import JSONResponse

from smartlic.authority.api.deps import ServicesDep
from smartlic.authority.api.schemas._base import as_sent
from smartlic.authority.api.schemas.device import RegisterRequest, SignedEnvelope
from smartlic.authority.api.schemas.problem import problem_responses
from smartlic.formats.device_v1 import API_PREFIX
from smartlic.web.routing import GuardedRouter

router = GuardedRouter(
    prefix=API_PREFIX,
    tags=["device protocol v1"],
    responses=problem_responses(400, 401, 403, 404, 409, 422),
)

# Documented as a SignedEnvelope, returned exactly as the service signed it: a JSONResponse
# skips FastAPI's jsonable_encoder pass over a dict that is already plain JSON (bench findings).
SIGNED: dict[int | str, dict[str, Any]] = {200: {"model": SignedEnvelope}}

# The body as sent, documented as its model: the service checks every field itself
# (formats/device_v1.py, formats/signed.py), so it is not validated and dumped back here.
Register = Annotated[dict[str, Any], as_sent(RegisterRequest)]
Signed = Annotated[dict[str, Any], as_sent(SignedEnvelope)]


@router.post(
    "/register",
    response_model=None,
    responses=SIGNED,
    summary="Register with a token and a CSR; answers a signed envelope",
)
def register(body: Register, services: ServicesDep) -> JSONResponse:
    return JSONResponse(services.device.register(body))


@router.post(
    "/renew-id",
    response_model=None,
    responses=SIGNED,
    summary="Renew the identity certificate (signed request)",
)
def renew_id(body: Signed, services: ServicesDep) -> JSONResponse:
    return JSONResponse(services.device.renew_id(body))


@router.post(
    "/authorize",
    response_model=None,
    responses=SIGNED,
    summary="Report usage and get an authorization (signed request)",
)
def authorize(body: Signed, services: ServicesDep) -> JSONResponse:
    return JSONResponse(services.device.authorize(body))


@router.post(
    "/deregister",
    response_model=None,
    responses=SIGNED,
    summary="Deregister and free usage (signed request)",
)
def deregister(body: Signed, services: ServicesDep) -> JSONResponse:
    return JSONResponse(services.device.deregister(body))


@router.post(
    "/convert",
    response_model=None,
    responses=SIGNED,
    summary="Device-led conversion: node-locked license files become smart licenses (signed)",
)
def convert(body: Signed, services: ServicesDep) -> JSONResponse:
    return JSONResponse(services.device.convert(body))
