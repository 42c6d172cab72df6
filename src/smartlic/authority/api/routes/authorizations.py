"""Smart Licensing Authorization Codes (SLAC) offline: a request file saved on the device is
uploaded and answered with the code file; a return code typed in frees the licenses.

Online, devices and collectors use ``/v2/devices/authrequest`` (``routes/usage.py``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from smartlic.authority.api.deps import (
    PrincipalDep,
    ServicesDep,
    can_read_account,
)
from smartlic.authority.api.deps_usage import (
    UPLOAD_BODY,
    UploadDep,
    VaWriterDep,
    attachment,
    can_write_in_account,
)
from smartlic.authority.api.routes._common import ACCOUNT, COMMON_PROBLEMS, VIRTUAL_ACCOUNT
from smartlic.authority.api.schemas.problem import problem_responses
from smartlic.authority.api.schemas.usage import AuthorizationCodesPublic, AuthorizationReturn
from smartlic.authority.services.interfaces import AuthorizationCodeOut, Principal

__all__ = ["CODE_FILE_NAME", "router"]

CODE_FILE_NAME = "AuthorizationCode.xml"

router = APIRouter(tags=["authorization codes"], responses=COMMON_PROBLEMS)


def _visible(principal: Principal, codes: list[AuthorizationCodeOut]) -> AuthorizationCodesPublic:
    """A virtual-account key sees the codes of its own virtual account only."""
    scoped = principal.virtual_account
    items = [c for c in codes if scoped is None or c.virtual_account == scoped]
    return AuthorizationCodesPublic.model_validate({"items": items, "total": len(items)})


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
        domain, virtual_account, content=upload.content, actor=principal.label()
    )
    return attachment(CODE_FILE_NAME, data)


@router.post(
    ACCOUNT + "/authorization-returns",
    summary="Enter a device's return code; the licenses go back to the pool",
)
def return_code(
    domain: str, body: AuthorizationReturn, services: ServicesDep, principal: PrincipalDep
) -> AuthorizationCodesPublic:
    can_write_in_account(principal, domain)
    freed = services.authorizations.return_code(
        body.return_code, domain=domain, actor=principal.label()
    )
    return AuthorizationCodesPublic.model_validate({"items": freed, "total": len(freed)})


@router.get(ACCOUNT + "/authorization-codes", summary="Authorization codes issued")
def list_codes(
    domain: str,
    services: ServicesDep,
    principal: PrincipalDep,
    include_returned: Annotated[bool, Query(description="also codes already returned")] = False,
) -> AuthorizationCodesPublic:
    can_read_account(principal, domain)
    codes = services.authorizations.list_codes(domain, include_returned=include_returned)
    return _visible(principal, codes)
