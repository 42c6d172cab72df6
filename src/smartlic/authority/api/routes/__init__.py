"""One router per resource; ``ROUTERS`` is what ``create_app`` mounts, in this order."""

from __future__ import annotations

from fastapi import APIRouter

from smartlic.authority.api.routes import (
    accounts,
    api_clients,
    authority_ca,
    authorizations,
    catalogue,
    device,
    devices,
    events,
    health,
    holdings,
    notices,
    policies,
    reservations,
    tokens,
    trust,
    usage,
    virtual_accounts,
)

__all__ = ["ROUTERS"]

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    accounts.router,
    virtual_accounts.router,
    catalogue.router,
    holdings.router,
    tokens.router,
    devices.router,
    events.router,
    device.router,
    authority_ca.router,
    usage.router,
    authorizations.router,
    policies.router,
    trust.router,
    notices.router,
    api_clients.router,
    reservations.router,
)
