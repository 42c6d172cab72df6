"""Registration tokens in the vendor's shapes: list (with the token text, for a caller who
may manage them), create, revoke by text."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from smartlic.authority.api.cssm._common import TAG, VA, VENDOR_ERRORS, CssmModel, StatusOut
from smartlic.authority.api.deps import PrincipalDep, ServicesDep
from smartlic.authority.services.interfaces import TokenOut
from smartlic.authority.services.scope import scope_in
from smartlic.errors import InvalidInput
from smartlic.web.routing import GuardedRouter, SerialisedRoute

router = GuardedRouter(tags=[TAG], responses=VENDOR_ERRORS, route_class=SerialisedRoute)

MAX_REVOKE = 100


class TokenVendorOut(BaseModel):
    token: str | None  # null for a caller who may only read, or a token made before texts
    description: str
    expirationDate: datetime
    exportControlled: str  # "Allowed" | "Not Allowed"
    createdBy: str
    createdDate: datetime
    status: str  # ACTIVE | EXPIRED | REVOKED | USED-UP
    usageCount: int
    maxUsageCount: int | None


class TokensOut(BaseModel):
    tokens: list[TokenVendorOut]


class TokenIn(CssmModel):
    expiresAfterDays: int = 30
    description: str = Field(default="", max_length=1000)
    exportControlled: Literal["Allowed", "Not Allowed"] = "Allowed"


class TokenCreatedOut(StatusOut):
    tokenInfo: TokenVendorOut


class RevokeIn(CssmModel):
    tokens: list[str] = Field(min_length=1, max_length=MAX_REVOKE)


def _token(t: TokenOut, text: str | None = None) -> TokenVendorOut:
    return TokenVendorOut(
        token=text or t.text,
        description=t.description,
        expirationDate=t.expires_at,
        exportControlled="Allowed" if t.export_controlled_allowed else "Not Allowed",
        createdBy=t.created_by,
        createdDate=t.created_at,
        status=t.status.upper(),
        usageCount=t.uses,
        maxUsageCount=t.max_uses,
    )


@router.get(VA + "/tokens", summary="The registration tokens of a virtual account, with text")
def list_tokens(
    domain: str, virtual_account: str, services: ServicesDep, principal: PrincipalDep
) -> TokensOut:
    # the text is shown to callers who may manage the tokens; others get the list without it
    manages = scope_in(principal, domain).can_write(virtual_account)
    items = services.tokens.list_tokens(domain, virtual_account, with_text=manages, scope=principal)
    return TokensOut(tokens=[_token(t) for t in items])


@router.post(VA + "/tokens", summary="Create a registration token (HTTP 200)")
def create_token(
    domain: str,
    virtual_account: str,
    body: TokenIn,
    services: ServicesDep,
    principal: PrincipalDep,
) -> TokenCreatedOut:
    created = services.tokens.create_token(
        domain,
        virtual_account,
        days=body.expiresAfterDays,
        description=body.description,
        export_controlled_allowed=body.exportControlled == "Allowed",
        scope=principal,
    )
    return TokenCreatedOut(
        statusMessage="Token created", tokenInfo=_token(created.token, created.text)
    )


@router.post(VA + "/tokens/revoke", summary="Revoke registration tokens by their text")
def revoke_tokens(
    domain: str,
    virtual_account: str,
    body: RevokeIn,
    services: ServicesDep,
    principal: PrincipalDep,
) -> StatusOut:
    scope_in(principal, domain).require_write(virtual_account)
    ids = [
        services.tokens.token_id_by_text(domain, virtual_account, text[:2000], scope=principal)
        for text in body.tokens
    ]  # every text is known before any is revoked
    if len(set(ids)) != len(ids):
        raise InvalidInput("a token is named twice", pointer="/tokens")
    for token_id in ids:
        services.tokens.revoke_token(domain, token_id, scope=principal)
    return StatusOut(statusMessage=f"{len(ids)} token(s) revoked")
