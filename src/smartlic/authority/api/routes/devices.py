"""Product instances of a smart account: ``/api/v1/accounts/{domain}/devices``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response, status

from smartlic.authority.api.deps import PrincipalDep, ServicesDep, SettingsDep
from smartlic.authority.api.routes._common import (
    ACCOUNT,
    COMMON_PROBLEMS,
    Cursor,
    Limit,
    Offset,
    next_link,
)
from smartlic.authority.api.schemas._base import NAME_PATTERN
from smartlic.authority.api.schemas.instances import (
    InstancePublic,
    InstancesPublic,
    InstanceTransfer,
    TransferPreviewPublic,
)
from smartlic.web.routing import GuardedRouter

router = GuardedRouter(
    prefix=ACCOUNT + "/devices", tags=["product instances"], responses=COMMON_PROBLEMS
)


@router.get("", summary="List or search product instances")
def list_devices(
    request: Request,
    domain: str,
    services: ServicesDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    virtual_account: Annotated[str | None, Query(max_length=100)] = None,
    search: Annotated[
        str | None,
        Query(
            max_length=200,
            description="a substring of the hostname, PID or serial number (any case), or a "
            "UDI `PID:SN`",
        ),
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
    cursor: Cursor = None,
) -> InstancesPublic:
    page = services.instances.list_instances(
        domain,
        virtual_account,
        search=search,
        limit=min(limit, settings.max_page_size),
        offset=offset,
        cursor=cursor,
        scope=principal,
    )
    out = InstancesPublic.model_validate(page)
    out.next = next_link(request, page.next_cursor)
    return out


@router.get("/{instance_id}", summary="Read one product instance")
def read_device(
    domain: str, instance_id: str, services: ServicesDep, principal: PrincipalDep
) -> InstancePublic:
    instance = services.instances.get_instance(domain, instance_id, scope=principal)
    return InstancePublic.model_validate(instance)


@router.get(
    "/{instance_id}/transfer-preview",
    summary="What moving an instance would do to the target pool (changes nothing)",
)
def preview_transfer(
    domain: str,
    instance_id: str,
    target: Annotated[str, Query(min_length=1, max_length=100, pattern=NAME_PATTERN)],
    services: ServicesDep,
    principal: PrincipalDep,
) -> TransferPreviewPublic:
    preview = services.instances.preview_transfer(
        domain, instance_id, target=target, scope=principal
    )
    return TransferPreviewPublic.model_validate(preview)


@router.post(
    "/{instance_id}/actions/transfer", summary="Move an instance to another virtual account"
)
def transfer_device(
    domain: str,
    instance_id: str,
    body: InstanceTransfer,
    services: ServicesDep,
    principal: PrincipalDep,
) -> InstancePublic:
    moved = services.instances.transfer_instance(
        domain, instance_id, target=body.target, scope=principal
    )
    return InstancePublic.model_validate(moved)


@router.delete(
    "/{instance_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove an instance; its licenses are freed",
)
def remove_device(
    domain: str,
    instance_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
    return_code: Annotated[
        str | None,
        Query(max_length=300, description="the reservation return code of a reserved device"),
    ] = None,
) -> Response:
    services.instances.remove_instance(
        domain, instance_id, return_code=return_code, scope=principal
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
