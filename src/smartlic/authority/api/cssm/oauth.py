"""The vendor's OAuth2 token endpoints (RFC 6749 section 4.3 / 4.4).

``POST /as/token.oauth2`` and ``POST /oauth2/default/v1/token`` take form-encoded fields (or the
same fields in the query string, as some tools send them): ``grant_type=client_credentials``
with ``client_id`` and ``client_secret``, or ``grant_type=password`` with ``username`` and
``password`` too. Client credentials may also come as HTTP Basic (RFC 6749 2.3.1). Errors are
RFC 6749 bodies ``{"error", "error_description"}``, never problem+json.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from smartlic.authority.api.deps import ServicesDep
from smartlic.authority.services import Services
from smartlic.authority.services.api_clients import ClientAuthFailed, GrantRefused
from smartlic.authority.services.login_throttle import client_key
from smartlic.errors import TooManyAttempts
from smartlic.web.routing import GuardedRouter

__all__ = ["TOKEN_PATHS", "router"]

TOKEN_PATHS = ("/as/token.oauth2", "/oauth2/default/v1/token")
MAX_FIELD = 1000
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

router = GuardedRouter(tags=["CSSM OAuth2"])


class AccessTokenResponse(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int


class OAuthError(BaseModel):
    error: str
    error_description: str


def oauth_error(status: int, error: str, description: str) -> JSONResponse:
    headers = dict(_NO_STORE)
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="smartlic"'
    body = {"error": error, "error_description": description}
    return JSONResponse(body, status_code=status, headers=headers)


async def _fields(request: Request) -> dict[str, str]:
    """Query-string fields, overridden by form fields, then HTTP Basic client credentials."""
    fields = {k: v[:MAX_FIELD] for k, v in request.query_params.items()}
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        # the body (within the body limit) parsed as Starlette's form parser would, a few
        # fields without its streaming machinery (a tenth of the token's cost)
        text = (await request.body()).decode("latin-1")
        form = dict(parse_qsl(text, keep_blank_values=True))
        fields.update({k: v[:MAX_FIELD] for k, v in form.items()})
    basic = _basic(request.headers.get("authorization", ""))
    if basic is not None:
        fields.setdefault("client_id", basic[0])
        fields.setdefault("client_secret", basic[1])
    return fields


def _basic(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, secret = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, secret) if sep else None


_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {
        "model": OAuthError,
        "description": "unsupported_grant_type, invalid_request, invalid_grant",
    },
    401: {"model": OAuthError, "description": "invalid_client"},
    429: {"model": OAuthError, "description": "too many failed password guesses"},
}


async def token(request: Request, services: ServicesDep) -> Any:
    """Issue an access token (one hour; ``expires_in`` 3599)."""
    fields = await _fields(request)
    grant = fields.get("grant_type", "")
    # RFC 6749 5.2: a missing parameter is invalid_request, an unknown grant type is not
    if not grant:
        return oauth_error(400, "invalid_request", "grant_type is required")
    if grant not in ("client_credentials", "password"):
        return oauth_error(400, "unsupported_grant_type", f"grant_type {grant!r} is not supported")
    client_id, secret = fields.get("client_id", ""), fields.get("client_secret", "")
    if not client_id or not secret:
        return oauth_error(401, "invalid_client", "client_id and client_secret are required")
    username = fields.get("username") if grant == "password" else None
    if grant == "password" and not (username and fields.get("password")):
        return oauth_error(400, "invalid_request", "the password grant needs username, password")
    address = client_key(request.client.host if request.client else None)
    # the database and a password check (Argon2id, ~0.2 s of CPU) block: off the event loop
    return await run_in_threadpool(_issue, services, fields, username, address)


def _issue(
    services: Services, fields: dict[str, str], username: str | None, address: str
) -> JSONResponse:
    # the password grant guesses passwords as the portal's log-in does: the same throttle
    throttle = services.login_throttle
    try:
        if username is not None:
            throttle.check(username, address)
        issued = services.api_clients.issue_token(
            fields["client_id"],
            fields["client_secret"],
            username=username,
            password=fields.get("password", ""),
        )
    except TooManyAttempts as exc:
        return oauth_error(429, "invalid_grant", exc.detail)
    except ClientAuthFailed as exc:
        return oauth_error(401, "invalid_client", exc.detail)
    except GrantRefused as exc:
        assert username is not None
        throttle.failed(username, address)
        return oauth_error(400, "invalid_grant", exc.detail)
    if username is not None:
        throttle.succeeded(username, address)
    body = AccessTokenResponse(access_token=issued.access_token, expires_in=issued.expires_in)
    return JSONResponse(body.model_dump(), headers=_NO_STORE)


for _path in TOKEN_PATHS:
    router.add_api_route(
        _path,
        token,
        methods=["POST"],
        response_model=AccessTokenResponse,
        responses=_RESPONSES,
        summary="OAuth2 token (client_credentials or password grant)",
        name=f"oauth_token{_path.replace('/', '_').replace('.', '_')}",
    )
