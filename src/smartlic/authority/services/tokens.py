"""Product instance registration tokens: valid 1-365 days, optional use limit, revocable.

The token text is returned once; only its SHA-256 is stored. Consuming a use is one
conditional UPDATE, so several authority processes on one database never let more than
``max_uses`` registrations through (the race is between "check uses" and "increment").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Any, Protocol, cast

from sqlalchemy import (
    Connection,
    CursorResult,
    Engine,
    Executable,
    Row,
    Select,
    Table,
    bindparam,
    select,
    update,
)
from sqlalchemy.orm import Session

from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.services._base import ServiceBase
from smartlic.authority.services.interfaces import CreatedToken, TokenOut
from smartlic.authority.services.scope import Principal, scope_in
from smartlic.clock import Clock
from smartlic.crypto import hash_secret, make_token_text, open_sealed, parse_token_text, seal
from smartlic.errors import InvalidInput, NotFound, TokenRejected
from smartlic.storage.models import RegistrationToken, SmartAccount, VirtualAccount

MAX_DAYS = 365


class _TokenState(Protocol):
    revoked_at: datetime | None
    expires_at: datetime
    max_uses: int | None
    uses: int


def token_status(t: _TokenState, now: datetime) -> str:
    if t.revoked_at is not None:
        return "revoked"
    if now >= t.expires_at:
        return "expired"
    if t.max_uses is not None and t.uses >= t.max_uses:
        return "used-up"
    return "active"


def token_out(
    t: RegistrationToken, va_name: str, now: datetime, text: str | None = None
) -> TokenOut:
    return TokenOut(
        id=t.id,
        virtual_account=va_name,
        description=t.description,
        created_at=t.created_at,
        expires_at=t.expires_at,
        max_uses=t.max_uses,
        uses=t.uses,
        export_controlled_allowed=t.export_controlled_allowed,
        revoked_at=t.revoked_at,
        created_by=t.created_by,
        status=token_status(t, now),
        text=text,
    )


@dataclass(frozen=True)
class ConsumedToken:
    token: RegistrationToken
    virtual_account: VirtualAccount
    smart_account: SmartAccount


class SqlTokensService(ServiceBase):
    def __init__(self, engine: Engine, clock: Clock, keys: AuthorityKeys) -> None:
        super().__init__(engine, clock)
        self.keys = keys

    def create_token(
        self,
        domain: str,
        virtual_account: str,
        *,
        days: int = 30,
        description: str = "",
        max_uses: int | None = None,
        export_controlled_allowed: bool = True,
        scope: Principal,
    ) -> CreatedToken:
        scope_in(scope, domain).require_write(virtual_account)
        if isinstance(days, bool) or not 1 <= days <= MAX_DAYS:
            raise InvalidInput(f"a token is valid 1-{MAX_DAYS} days", pointer="/days")
        if max_uses is not None and (isinstance(max_uses, bool) or not 1 <= max_uses <= 1_000_000):
            raise InvalidInput("max_uses must be 1-1000000", pointer="/max_uses")
        text = make_token_text(self.keys.ca_fingerprint)
        now = self.now()
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            va = self.virtual_account(s, sa, virtual_account)
            t = RegistrationToken(
                virtual_account_id=va.id,
                token_hash=hash_secret(text),
                text_sealed=self._seal(text),
                description=description[:1000],
                created_at=now,
                expires_at=now + timedelta(days=days),
                max_uses=max_uses,
                uses=0,
                export_controlled_allowed=export_controlled_allowed,
                created_by=scope.label(),
            )
            s.add(t)
            s.flush()
            self.record(
                s,
                "token.created",
                actor=scope.label(),
                smart_account=sa,
                virtual_account=va.name,
                subject=t.id,
                days=days,
                max_uses=max_uses,
            )
            return CreatedToken(token=token_out(t, va.name, now), text=text)

    def _seal(self, text: str) -> bytes | None:
        key = self.keys.sealing_key
        return seal(key, text, hash_secret(text)) if key else None

    def _text(self, t: RegistrationToken) -> str | None:
        key = self.keys.sealing_key
        if not key or t.text_sealed is None:
            return None  # made before texts were kept, or by keys without token.key
        return open_sealed(key, t.text_sealed, t.token_hash)

    def list_tokens(
        self, domain: str, virtual_account: str, *, with_text: bool = False, scope: Principal
    ) -> list[TokenOut]:
        """The tokens of a virtual account; ``with_text`` also opens their texts, which only
        a caller who may manage the tokens (create and revoke them) is shown."""
        allowed = scope_in(scope, domain)
        allowed.require_read(virtual_account)
        if with_text:
            allowed.require_write(virtual_account)
        now = self.now()
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            va = self.virtual_account(s, sa, virtual_account)
            rows = s.scalars(
                select(RegistrationToken)
                .where(RegistrationToken.virtual_account_id == va.id)
                .order_by(RegistrationToken.created_at)
            )
            return [token_out(t, va.name, now, self._text(t) if with_text else None) for t in rows]

    def token_id_by_text(
        self, domain: str, virtual_account: str, text: str, *, scope: Principal
    ) -> str:
        """The id of the token of ``virtual_account`` with this text (looked up by hash)."""
        scope_in(scope, domain).require_read(virtual_account)
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            va = self.virtual_account(s, sa, virtual_account)
            token_id = s.scalar(
                select(RegistrationToken.id).where(
                    RegistrationToken.virtual_account_id == va.id,
                    RegistrationToken.token_hash == hash_secret(text),
                )
            )
        if token_id is None:
            raise NotFound(f"no such token in virtual account {virtual_account!r}")
        return token_id

    def revoke_token(self, domain: str, token_id: str, *, scope: Principal) -> TokenOut:
        """Revoke a token of a virtual account ``scope`` may change (another one's: 404)."""
        allowed = scope_in(scope, domain)
        now = self.now()
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            row = s.execute(
                select(RegistrationToken, VirtualAccount)
                .join(VirtualAccount)
                .where(RegistrationToken.id == token_id, VirtualAccount.smart_account_id == sa.id)
            ).first()
            if row is None:
                raise NotFound(f"no token {token_id!r} in {domain!r}")
            t, va = row
            allowed.require_visible(va.name, f"token {token_id!r}")
            allowed.require_write(va.name)
            if t.revoked_at is None:
                t.revoked_at = now
                self.record(
                    s,
                    "token.revoked",
                    actor=scope.label(),
                    smart_account=sa,
                    virtual_account=va.name,
                    subject=t.id,
                )
            return token_out(t, va.name, now)


def consume_token(s: Session, text: str, now: datetime) -> ConsumedToken:
    """Check a token and take one use of it, atomically, in the caller's transaction."""
    checked = check_token(s, text, now)
    take_use(s, checked.token.id)
    return checked


# Built once (with bound parameters) rather than per registration: constructing a statement
# costs more than running its cached compiled form (bench/authority.py, issue 14).
_TOKENS = cast(Table, RegistrationToken.__table__)
_VAS, _SAS = cast(Table, VirtualAccount.__table__), cast(Table, SmartAccount.__table__)
_WITH_ACCOUNTS = _TOKENS.join(_VAS, _VAS.c.id == _TOKENS.c.virtual_account_id).join(
    _SAS, _SAS.c.id == _VAS.c.smart_account_id
)
_HASH_IS = _TOKENS.c.token_hash == bindparam("token_hash")
_BY_HASH = (
    select(RegistrationToken, VirtualAccount, SmartAccount)
    .select_from(_WITH_ACCOUNTS)
    .where(_HASH_IS)
)
GRANT_BY_HASH = (  # the same row as plain columns, for a Core connection
    select(
        _TOKENS.c.id,
        _TOKENS.c.expires_at,
        _TOKENS.c.revoked_at,
        _TOKENS.c.max_uses,
        _TOKENS.c.uses,
        _TOKENS.c.export_controlled_allowed,
        _VAS.c.id.label("va_id"),
        _VAS.c.name.label("va_name"),
        _SAS.c.id.label("sa_id"),
        _SAS.c.name.label("sa_name"),
    )
    .select_from(_WITH_ACCOUNTS)
    .where(_HASH_IS)
)
_TAKE_USE = (
    update(_TOKENS)
    .where(
        _TOKENS.c.id == bindparam("token_id"),
        _TOKENS.c.revoked_at.is_(None),
        (_TOKENS.c.max_uses.is_(None)) | (_TOKENS.c.uses < _TOKENS.c.max_uses),
    )
    .values(uses=_TOKENS.c.uses + 1)
)


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """An active token as registration needs it (ids and names, no ORM objects)."""

    token_id: str
    export_controlled_allowed: bool
    va_id: str
    va_name: str
    sa_id: str
    sa_name: str


def check_grant(
    c: Connection, text: str, now: datetime, query: Select[Any] = GRANT_BY_HASH, **params: Any
) -> tuple[TokenGrant, Row[Any]]:
    """``check_token`` on a bare connection (``ServiceBase.core_transaction``): the same
    checks and refusals (``_active_row``), the token and its accounts read as columns.
    ``query`` may be ``GRANT_BY_HASH`` with more columns (bound by ``params``), so that a
    caller's other lookup rides on the same round trip; the row is returned with the grant."""
    row = _active_row(c, query, text, now, params, lambda row: row)  # the token's columns
    return TokenGrant(row.id, row.export_controlled_allowed, *row[6:10]), row


def check_token(s: Session, text: str, now: datetime) -> ConsumedToken:
    """The token and its accounts, or ``TokenRejected`` with the reason (no use taken yet)."""
    row = _active_row(s, _BY_HASH, text, now, {}, itemgetter(0))  # (token, VA, SA)
    return ConsumedToken(row[0], row[1], row[2])


def _active_row(
    db: Session | Connection,
    query: Executable,
    text: str,
    now: datetime,
    params: dict[str, Any],
    token_of: Callable[[Any], Any],
) -> Any:  # a Row of ``query``
    """The one home of a registration token's refusals, whatever shape its row is read in
    (``token_of`` finds the token's state in it): malformed text, unknown hash, then
    ``token_status`` (revoked, expired, used-up) - each a ``TokenRejected`` with its code."""
    parse_token_text(text)
    row = db.execute(query, {"token_hash": hash_secret(text), **params}).first()
    if row is None:
        raise TokenRejected("the registration token is not known", code="token-unknown")
    status = token_status(token_of(row), now)
    if status != "active":
        raise TokenRejected(f"the registration token is {status}", code=f"token-{status}")
    return row


def take_use(s: Session | Connection, token_id: str) -> None:
    """Take one use with one conditional UPDATE; the row lock it takes is held until commit,
    so callers run it as the last statement of their transaction (see bench findings)."""
    result = s.execute(_TAKE_USE, {"token_id": token_id})
    if cast(CursorResult[Any], result).rowcount != 1:
        raise TokenRejected("the registration token is used-up", code="token-used-up")
