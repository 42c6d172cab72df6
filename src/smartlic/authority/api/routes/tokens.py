"""Registration tokens: created per virtual account, revoked by id within the smart account."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, status

from smartlic.authority.api.deps import PrincipalDep, ServicesDep
from smartlic.authority.api.routes._common import ACCOUNT, COMMON_PROBLEMS, VIRTUAL_ACCOUNT
from smartlic.authority.api.schemas.tokens import (
    CreatedTokenPublic,
    TokenCreate,
    TokenPublic,
    TokensPublic,
)
from smartlic.web.routing import GuardedRouter

router = GuardedRouter(tags=["registration tokens"], responses=COMMON_PROBLEMS)


@router.post(
    VIRTUAL_ACCOUNT + "/tokens",
    status_code=status.HTTP_201_CREATED,
    summary="Create a registration token (its text is shown only in this response)",
)
def create_token(
    domain: str,
    virtual_account: str,
    body: TokenCreate,
    services: ServicesDep,
    principal: PrincipalDep,
) -> CreatedTokenPublic:
    created = services.tokens.create_token(
        domain,
        virtual_account,
        days=body.expires_after_days,
        description=body.description,
        max_uses=body.max_uses,
        export_controlled_allowed=body.export_controlled_allowed,
        scope=principal,
    )
    return CreatedTokenPublic.model_validate(created)


@router.get(VIRTUAL_ACCOUNT + "/tokens", summary="List the tokens of a virtual account")
def list_tokens(
    domain: str,
    virtual_account: str,
    services: ServicesDep,
    principal: PrincipalDep,
    with_text: Annotated[
        bool,
        Query(
            description="Also show each token's text (kept sealed at rest): only to a caller "
            "who may manage the virtual account's tokens; others are refused (403)."
        ),
    ] = False,
) -> TokensPublic:
    items = services.tokens.list_tokens(
        domain, virtual_account, with_text=with_text, scope=principal
    )
    return TokensPublic.model_validate({"items": items, "total": len(items)})


@router.post(ACCOUNT + "/tokens/{token_id}/actions/revoke", summary="Revoke a token")
def revoke_token(
    domain: str, token_id: str, services: ServicesDep, principal: PrincipalDep
) -> TokenPublic:
    revoked = services.tokens.revoke_token(domain, token_id, scope=principal)
    return TokenPublic.model_validate(revoked)
