"""Smart Licensing Authorization Codes (SLAC) offline: a request file saved on the device is
uploaded and answered with the code file; a return code typed in frees the licenses.

Online, devices and collectors use ``/v2/devices/authrequest`` (``routes/usage.py``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Response

from smartlic.authority.api.deps import PrincipalDep, ServicesDep
from smartlic.authority.api.deps_usage import (
    UPLOAD_BODY,
    UploadDep,
    VaWriterDep,
    attachment,
)
from smartlic.authority.api.routes._common import ACCOUNT, COMMON_PROBLEMS, VIRTUAL_ACCOUNT
from smartlic.authority.api.schemas.problem import problem_responses
from smartlic.authority.api.schemas.usage import AuthorizationCodesPublic, AuthorizationReturn
from smartlic.web.routing import GuardedRouter

__all__ = ["CODE_FILE_NAME", "router"]

CODE_FILE_NAME = "AuthorizationCode.xml"

router = GuardedRouter(tags=["authorization codes"], responses=COMMON_PROBLEMS)


@router.post(
    VIRTUAL_ACCOUNT + "/authorization-requests",
    response_class=Response,
    openapi_extra=UPLOAD_BODY,
    responses={
        200: {"content": {"application/xml": {}}, "description": "The authorization code file"},
        **problem_responses(409, 413, 415),
    },
    summary="Upload a device's authorization request file; answers the code file",
)
def request_code(
    domain: str,
    virtual_account: str,
    principal: VaWriterDep,
    upload: UploadDep,
    services: ServicesDep,
) -> Response:
    data = services.authorizations.request_file(
        domain, virtual_account, content=upload.content, scope=principal
    )
    return attachment(CODE_FILE_NAME, data)


@router.post(
    ACCOUNT + "/authorization-returns",
    summary="Enter a device's return code; the licenses go back to the pool",
)
def return_code(
    domain: str, body: AuthorizationReturn, services: ServicesDep, principal: PrincipalDep
) -> AuthorizationCodesPublic:
    freed = services.authorizations.return_code(body.return_code, domain=domain, scope=principal)
    return AuthorizationCodesPublic.model_validate({"items": freed, "total": len(freed)})


@router.get(ACCOUNT + "/authorization-codes", summary="Authorization codes issued")
def list_codes(
    domain: str,
    services: ServicesDep,
    principal: PrincipalDep,
    include_returned: Annotated[bool, Query(description="also codes already returned")] = False,
) -> AuthorizationCodesPublic:
    codes = services.authorizations.list_codes(
        domain, include_returned=include_returned, scope=principal
    )
    return AuthorizationCodesPublic.model_validate({"items": codes, "total": len(codes)})
