"""The event log: per smart account, and authority-wide for admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request

from smartlic.authority.api.deps import PrincipalDep, ServicesDep, SettingsDep
from smartlic.authority.api.routes._common import (
    ACCOUNT,
    API_PREFIX,
    COMMON_PROBLEMS,
    Cursor,
    Limit,
    Offset,
    next_link,
)
from smartlic.authority.api.schemas.instances import EventsPublic
from smartlic.authority.services import Services
from smartlic.authority.services.scope import Principal
from smartlic.authority.settings import AuthoritySettings
from smartlic.web.routing import GuardedRouter

router = GuardedRouter(tags=["events"], responses=COMMON_PROBLEMS)

NamePrefix = Annotated[
    str | None, Query(max_length=100, description="e.g. `instance.` or `token.revoked`")
]


@router.get(ACCOUNT + "/events", summary="Event log of a smart account, newest first")
def account_events(
    request: Request,
    domain: str,
    services: ServicesDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    name_prefix: NamePrefix = None,
    limit: Limit = 100,
    offset: Offset = 0,
    cursor: Cursor = None,
) -> EventsPublic:
    return _events(
        request, services, principal, settings, domain, name_prefix, limit, offset, cursor
    )


@router.get(API_PREFIX + "/events", summary="Authority-wide event log (authority admins)")
def all_events(
    request: Request,
    services: ServicesDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    name_prefix: NamePrefix = None,
    limit: Limit = 100,
    offset: Offset = 0,
    cursor: Cursor = None,
) -> EventsPublic:
    return _events(request, services, principal, settings, None, name_prefix, limit, offset, cursor)


def _events(
    request: Request,
    services: Services,
    principal: Principal,
    settings: AuthoritySettings,
    domain: str | None,
    name_prefix: str | None,
    limit: int,
    offset: int,
    cursor: str | None,
) -> EventsPublic:
    """One page of the log of ``domain`` (None: every account's), with its next link."""
    page = services.events.list_events(
        domain,
        name_prefix=name_prefix,
        limit=min(limit, settings.max_page_size),
        offset=offset,
        cursor=cursor,
        scope=principal,
    )
    out = EventsPublic.model_validate(page)
    out.next = next_link(request, page.next_cursor)
    return out
