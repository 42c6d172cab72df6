"""The vendor-compatible (CSSM) surface: OAuth2 token endpoints and the Smart Software
Manager's management API, over the same services as ``/api/v1`` (docs/cssm-api.md).

``ROUTERS`` is what ``create_app`` mounts. Each module is one group of the vendor's API; a new
group is one more module here (reservations: ``reserve-licenses``, ``devices/remove``). The
vendor's device API (``v2/devices/reportusage``, ``authrequest``, ``accounts/poll``) lives in
``api/routes/usage.py``.
"""

from __future__ import annotations

from fastapi import APIRouter

from smartlic.authority.api.cssm import accounts, devices, licenses, oauth, reservations, tokens
from smartlic.authority.api.cssm._common import VendorPathMiddleware

__all__ = ["ROUTERS", "VendorPathMiddleware"]

ROUTERS: tuple[APIRouter, ...] = (
    oauth.router,
    accounts.router,
    tokens.router,
    licenses.router,
    devices.router,
    reservations.router,
)
