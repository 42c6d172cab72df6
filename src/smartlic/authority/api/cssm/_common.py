"""What the CSSM routers share: the vendor's base path, the path spellings tools send, the
caller (the same ``get_principal`` as ``/api/v1``: an API key or an OAuth2 access token) and
the vendor's answer shapes."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict
from starlette.types import ASGIApp, Receive, Scope, Send

from smartlic.authority.api.schemas.problem import vendor_failure_responses
from smartlic.formats.device_api import VENDOR_PREFIX

__all__ = [
    "ACCOUNT",
    "SA",
    "TAG",
    "VA",
    "VENDOR_ERRORS",
    "CssmModel",
    "StatusOut",
    "VendorPathMiddleware",
    "success",
]

SA = VENDOR_PREFIX  # /services/api/smart-accounts-and-licensing
ACCOUNT = SA + "/v1/accounts/{domain}"
VA = ACCOUNT + "/virtual-accounts/{virtual_account}"
TAG = "CSSM management API"
# on these paths a refusal is {"status": "FAILED", "message", "statusMessage", "code", ...}
# (413 stays problem+json, app-wide: the body limit answers before any route is chosen)
VENDOR_ERRORS = vendor_failure_responses(400, 401, 403, 404, 409, 422)

_VENDOR_PATHS = ("/services/", "/as/", "/oauth2/")
_SLASHES = re.compile(r"/{2,}")


class VendorPathMiddleware:
    """Route the spellings tools send on the vendor's paths: ``//services/api`` (doubled
    slashes) and trailing slashes are taken as the canonical path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            canonical = _SLASHES.sub("/", path)
            if canonical.startswith(_VENDOR_PATHS):
                canonical = canonical.rstrip("/") or "/"
                if canonical != path:
                    scope = dict(scope, path=canonical, raw_path=canonical.encode())
        await self.app(scope, receive, send)


class CssmModel(BaseModel):
    """A request body in the vendor's field names: unknown fields are ignored, as tools send
    more than each call reads."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class StatusOut(BaseModel):
    status: str = "SUCCESS"
    statusMessage: str = ""


def success(message: str, **more: Any) -> dict[str, Any]:
    return {"status": "SUCCESS", "statusMessage": message, **more}
