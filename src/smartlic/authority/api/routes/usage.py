"""Usage (RUM) reporting (docs/usage-protocol.md): the vendor-compatible device API, usage data
files with their ACKs, and a device's usage history.

The device API (``/services/api/smart-accounts-and-licensing/v2/...``, domain-notes 5.3) takes an
API key optionally: a device reporting on its own sends none and its reports must verify against
its trust code; a collector sends one, and ``X-CSW-SMART-ACCOUNT-ID`` /
``X-CSW-VIRTUAL-ACCOUNT-ID`` say where devices it introduces land. Answers are the service's
``OK_POLL`` / ``COMPLETE`` messages as they are.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Response, status

from smartlic.authority.api.deps import PrincipalDep, ServicesDep, SettingsDep
from smartlic.authority.api.deps_usage import (
    UPLOAD_BODY,
    DeviceChannelDep,
    OptionalPrincipalDep,
    UploadDep,
    VaWriterDep,
    attachment,
)
from smartlic.authority.api.routes._common import (
    ACCOUNT,
    COMMON_PROBLEMS,
    VIRTUAL_ACCOUNT,
    Limit,
    Offset,
)
from smartlic.authority.api.schemas._base import as_sent
from smartlic.authority.api.schemas.problem import problem_responses, vendor_failure_responses
from smartlic.authority.api.schemas.usage import (
    OkPollPublic,
    PollAnswerPublic,
    UsageFilePublic,
    UsageFilesPublic,
    UsageRecordsPublic,
    VendorRequest,
)
from smartlic.formats.device_api import VENDOR_PREFIX
from smartlic.web.routing import GuardedRouter

__all__ = ["VENDOR_PREFIX", "router"]

Answer = dict[str, Any]
OK_POLL: dict[int | str, dict[str, Any]] = {202: {"model": OkPollPublic}}
POLLED: dict[int | str, dict[str, Any]] = {200: {"model": PollAnswerPublic}}
FILE_DOWNLOAD: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/xml": {}, "application/gzip": {}},
        "description": "The ACK file (an archive of ACK files for a bulk upload)",
    }
}

# The body as sent, documented as {"data": {...}}: the services check it (formats/device_api.py
# data_of, then every report and signature), so it is not validated and dumped back here.
Vendor = Annotated[dict[str, Any], as_sent(VendorRequest)]

router = GuardedRouter(tags=["usage reporting"], responses=COMMON_PROBLEMS)
vendor = GuardedRouter(
    prefix=VENDOR_PREFIX,
    tags=["device API (policy mode)"],
    # 413 stays problem+json (app-wide): the body limit answers before any route is chosen
    responses=vendor_failure_responses(400, 401, 403, 404, 409, 422),
)


# ---------------------------------------------------------------- vendor device API


@vendor.post(
    "/v2/devices/reportusage",
    status_code=status.HTTP_202_ACCEPTED,  # the vendor's: accepted, poll for the answer
    response_model=None,
    responses=OK_POLL,
    summary="Report usage (signed RUM reports); answers OK_POLL",
)
def report_usage(body: Vendor, services: ServicesDep, channel: DeviceChannelDep) -> Answer:
    return services.usage.report_usage(body, channel.principal, channel.virtual_account)


@vendor.post(
    "/v2/devices/authrequest",
    status_code=status.HTTP_202_ACCEPTED,  # the vendor's: accepted, poll for the answer
    response_model=None,
    responses=OK_POLL,
    summary="Request or return authorization codes (SLAC); answers OK_POLL",
)
def auth_request(body: Vendor, services: ServicesDep, channel: DeviceChannelDep) -> Answer:
    return services.authorizations.authrequest(body, channel.principal, channel.virtual_account)


@vendor.post(
    "/v2/accounts/poll",
    response_model=None,
    responses=POLLED,
    summary="Poll for acknowledgements or authorizations: OK_POLL, then COMPLETE",
)
def poll(body: Vendor, services: ServicesDep, principal: OptionalPrincipalDep) -> Answer:
    return services.usage.poll(body, principal)


router.include_router(vendor)


# ---------------------------------------------------------------- usage data files


@router.post(
    VIRTUAL_ACCOUNT + "/usage-files",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=UPLOAD_BODY,
    responses={
        200: {"model": UsageFilePublic, "description": "The same bytes were uploaded before"},
        **problem_responses(413, 415),
    },
    summary="Upload a usage data file or a .tar.gz bulk archive of them",
)
def upload_usage_file(
    domain: str,
    virtual_account: str,
    principal: VaWriterDep,
    upload: UploadDep,
    services: ServicesDep,
    response: Response,
) -> UsageFilePublic:
    out = services.usage.upload_usage_file(
        domain,
        virtual_account,
        file_name=upload.file_name,
        content=upload.content,
        scope=principal,
    )
    if out.duplicate:  # nothing new was created: the first upload, as it was
        response.status_code = status.HTTP_200_OK
    return UsageFilePublic.model_validate(out)


@router.get(ACCOUNT + "/usage-files", summary="Usage data files received, newest first")
def list_usage_files(
    domain: str,
    services: ServicesDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    limit: Limit = 100,
    offset: Offset = 0,
) -> UsageFilesPublic:
    page = services.usage.list_usage_files(
        domain, limit=min(limit, settings.max_page_size), offset=offset, scope=principal
    )
    return UsageFilesPublic.model_validate(page)


@router.get(
    ACCOUNT + "/usage-files/{file_id}/ack",
    response_class=Response,
    responses=FILE_DOWNLOAD,
    summary="Download the acknowledgement (ACK) of a usage data file",
)
def download_ack(
    domain: str, file_id: str, services: ServicesDep, principal: PrincipalDep
) -> Response:
    name, data = services.usage.usage_file_ack(domain, file_id, scope=principal)
    return attachment(name, data)


@router.get(ACCOUNT + "/devices/{instance_id}/usage", summary="Usage history of a device")
def usage_history(
    domain: str,
    instance_id: str,
    services: ServicesDep,
    principal: PrincipalDep,
    tag: Annotated[str | None, Query(max_length=255, description="one license's tag")] = None,
) -> UsageRecordsPublic:
    items = services.usage.usage_history(domain, instance_id, tag=tag, scope=principal)
    return UsageRecordsPublic.model_validate({"items": items, "total": len(items)})
