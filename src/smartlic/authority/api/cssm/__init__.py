"""The vendor-compatible (CSSM) surface: OAuth2 token endpoints and the Smart Software
Manager's management API, over the same services as ``/api/v1`` (docs/cssm-api.md).

``ROUTERS`` is what ``create_app`` mounts. Each module is one group of the vendor's API; a new
group (reservations: ``reserve-licenses``, ``devices/remove``) is one more module here.
"""

from __future__ import annotations

from fastapi import APIRouter

from smartlic.authority.api.cssm import oauth

__all__ = ["ROUTERS"]

ROUTERS: tuple[APIRouter, ...] = (oauth.router,)
