"""Dependencies of the policy-mode routes that ``deps.py`` does not have: an optional API key
(the vendor device API answers devices and collectors alike), the ``X-CSW-*`` account headers,
bounded file uploads and file downloads.

Usage in a route::

    @router.post(VIRTUAL_ACCOUNT + "/usage-files")
    async def upload(upload: UploadDep, ...) -> UsageFilePublic: ...

    @router.post(VENDOR + "/v2/devices/reportusage")
    def report(body: Vendor, channel: DeviceChannelDep, ...) -> dict[str, Any]: ...
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated

from fastapi import Depends, Header, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from smartlic.authority.api.deps import (
    PrincipalDep,
    ServicesDep,
    _api_key,
    _bearer,
    can_read_account,
    can_write_va,
    resolve,
)
from smartlic.authority.services.scope import Principal
from smartlic.errors import InvalidInput, SmartlicError
from smartlic.formats.disposition import attachment_header

__all__ = [
    "DeviceChannel",
    "DeviceChannelDep",
    "OptionalPrincipalDep",
    "UnsupportedMediaType",
    "Upload",
    "UploadDep",
    "VaWriterDep",
    "attachment",
]


class UnsupportedMediaType(SmartlicError):
    code = "unsupported-media-type"
    status = 415
    title = "Unsupported media type"


# ---------------------------------------------------------------- who is calling


async def get_optional_principal(
    services: ServicesDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal | None:
    """The API key's principal, or ``None`` when no key was sent (a bad key is still 401)."""
    text = bearer.credentials if bearer is not None else api_key
    return await resolve(services, text) if text else None


OptionalPrincipalDep = Annotated[Principal | None, Depends(get_optional_principal)]


@dataclass(frozen=True)
class DeviceChannel:
    """How a vendor device API request arrived: directly from a device (no principal), or from
    a collector whose key is scoped to ``principal.smart_account`` and lands unknown devices in
    ``virtual_account``."""

    principal: Principal | None = None
    virtual_account: str | None = None


async def get_device_channel(
    principal: OptionalPrincipalDep,
    services: ServicesDep,
    smart_account: Annotated[
        str | None,
        Header(
            alias="X-CSW-SMART-ACCOUNT-ID",
            max_length=255,
            description="smart account: its domain or its numeric id (v2/accounts/search)",
        ),
    ] = None,
    virtual_account: Annotated[
        str | None,
        Header(
            alias="X-CSW-VIRTUAL-ACCOUNT-ID",
            max_length=200,
            description="virtual account: its name or its numeric id (v2/accounts/search)",
        ),
    ] = None,
) -> DeviceChannel:
    """Tenant isolation for collectors: the key must be allowed on the account it names.

    Async: a device reporting on its own (the common call) costs no hop to the thread pool;
    only the account lookup of a collector's ``X-CSW-SMART-ACCOUNT-ID`` goes there."""
    if principal is None:
        return DeviceChannel()  # a device on its own: its trust code is what counts
    if smart_account is not None:  # numeric ids as tools send them, or domain / name
        smart_account, virtual_account = await run_in_threadpool(
            services.accounts.names_of, smart_account, virtual_account, scope=principal
        )
    domain = smart_account or principal.smart_account
    va = virtual_account or principal.virtual_account
    if domain is None:
        if va is not None:
            raise InvalidInput("X-CSW-VIRTUAL-ACCOUNT-ID needs X-CSW-SMART-ACCOUNT-ID")
        return DeviceChannel(principal)
    if va is None:
        can_read_account(principal, domain)
    else:
        can_write_va(principal, domain, va)
    return DeviceChannel(replace(principal, smart_account=domain), va)


DeviceChannelDep = Annotated[DeviceChannel, Depends(get_device_channel)]


def get_va_writer(domain: str, virtual_account: str, principal: PrincipalDep) -> Principal:
    """The caller, once allowed to change ``virtual_account``; declared before an upload so a
    stranger is refused before the body is read."""
    can_write_va(principal, domain, virtual_account)
    return principal


VaWriterDep = Annotated[Principal, Depends(get_va_writer)]


# ---------------------------------------------------------------- uploads


@dataclass(frozen=True)
class Upload:
    file_name: str
    content: bytes


def _check_headers(request: Request) -> None:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "multipart/form-data":
        raise UnsupportedMediaType("send the file as multipart/form-data, field 'file'")


async def read_upload(request: Request) -> Upload:
    """The multipart field ``file``, read in memory; its size is bounded while it streams in
    (``max_upload_bytes``, web/limits.py)."""
    _check_headers(request)
    parser = MultiPartParser(request.headers, request.stream(), max_files=1, max_fields=10)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise InvalidInput(
            f"malformed multipart body: {exc.message}", code="bad-multipart"
        ) from exc
    try:
        item = form.get("file")
        if not isinstance(item, UploadFile):
            raise InvalidInput("the multipart field 'file' is required", pointer="/file")
        return Upload(item.filename or "usage", await item.read())
    finally:
        await form.close()


UploadDep = Annotated[Upload, Depends(read_upload)]

UPLOAD_BODY: dict[str, object] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


# ---------------------------------------------------------------- downloads


def attachment(name: str, data: bytes) -> Response:
    """A file download: ``application/gzip`` for an archive, else ``application/xml``."""
    media = "application/gzip" if data[:2] == b"\x1f\x8b" else "application/xml"
    return Response(
        data, media_type=media, headers={"Content-Disposition": attachment_header(name)}
    )
