"""Registration tokens."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from smartlic.authority.api.schemas._base import InputModel, PublicModel

__all__ = ["CreatedTokenPublic", "TokenCreate", "TokenPublic", "TokensPublic"]


class TokenCreate(InputModel):
    description: str = Field(default="", max_length=1000)
    # CSSM offers 1-365 days ("Licenses, Product Instances, and Registration Tokens").
    expires_after_days: int = Field(default=30, ge=1, le=365, strict=True)
    max_uses: int | None = Field(default=None, ge=1, le=1_000_000, strict=True)
    export_controlled_allowed: bool = True


class TokenPublic(PublicModel):
    id: str
    virtual_account: str
    description: str
    created_at: datetime
    expires_at: datetime
    max_uses: int | None
    uses: int
    export_controlled_allowed: bool
    revoked_at: datetime | None
    created_by: str
    status: str
    text: str | None = Field(
        default=None,
        description="The token text: only when listed with ``with_text=true`` by a caller who "
        "may manage the tokens (null for a token made before texts were kept).",
    )


class TokensPublic(PublicModel):
    items: list[TokenPublic]
    total: int


class CreatedTokenPublic(PublicModel):
    token: TokenPublic
    text: str = Field(
        description="The token text (later: the list with ``with_text=true``, to a caller who "
        "may manage the tokens)."
    )
