"""``GET /api/device/v1/ca``: the authority's CA certificate (PEM), for pinning.

Public on purpose: a certificate is no secret. Fetching it proves nothing by itself, so whoever
pins it confirms its SHA-256 fingerprint out of band (``smartlic collector init
--authority-ca-fingerprint``, the pin inside a registration token), as kubeadm's discovery
hash does.
"""

from __future__ import annotations

from fastapi.responses import Response

from smartlic.authority.api.deps import ServicesDep
from smartlic.formats.device_v1 import API_PREFIX
from smartlic.web.routing import GuardedRouter

router = GuardedRouter(prefix=API_PREFIX, tags=["device protocol v1"])

PEM = "application/x-pem-file"


@router.get(
    "/ca",
    response_class=Response,
    responses={200: {"content": {PEM: {"schema": {"type": "string"}}}}},
    summary="The authority's CA certificate (PEM); confirm its fingerprint before pinning it",
)
def authority_ca(services: ServicesDep) -> Response:
    return Response(services.device.authority_ca(), media_type=PEM)
