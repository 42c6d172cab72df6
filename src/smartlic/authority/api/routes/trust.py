"""Trust establishment in policy mode (docs/usage-protocol.md): ``POST /api/device/v1/trust``.

``license smart trust idtoken <token> local`` on a device: the body is a trust request signed
with the device's trust key, carrying a registration token. No API key; the token is the proof.
"""

from __future__ import annotations

from typing import Any

from smartlic.authority.api.deps import ServicesDep
from smartlic.authority.api.schemas.device import SignedEnvelope
from smartlic.authority.api.schemas.problem import problem_responses
from smartlic.authority.api.schemas.usage import TrustPublic
from smartlic.formats.device_v1 import API_PREFIX
from smartlic.web.routing import GuardedRouter

__all__ = ["router"]

router = GuardedRouter(
    prefix=API_PREFIX,
    tags=["device API (policy mode)"],
    responses=problem_responses(401, 403, 409, 422),
)


@router.post(
    "/trust",
    response_model=None,
    responses={200: {"model": TrustPublic}},
    summary="Establish trust with a token; answers trust code, policy and account info",
)
def establish_trust(body: SignedEnvelope, services: ServicesDep) -> dict[str, Any]:
    return services.trust.establish(body.model_dump(exclude_unset=True))
