"""OAuth2 API clients of the vendor-compatible API (``/as/token.oauth2``): client credentials
holding one grant like an API key (``scope.check_grant_shape``), and the short-lived access
tokens they obtain (one hour, revocable). Only SHA-256 hashes of secrets and tokens are stored.

An access token authenticates as a ``Principal``, exactly as an API key does: a client's
token carries the client's grant; a token of the password grant carries the portal user's
grants (``users.principal_of``), so tenant scope is decided by ``scope.py`` in both cases.

Usage::

    created = services.api_clients.create_client("acme.example", role=Role.SMART_ACCOUNT_ADMIN,
                                                  actor="cli:alice")
    issued = services.api_clients.issue_token(created.client_id, created.client_secret)
    principal = services.api_clients.authenticate(issued.access_token)
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from smartlic.authority.services._base import ServiceBase
from smartlic.authority.services._principal_cache import PrincipalCache
from smartlic.authority.services.scope import Principal, check_grant_shape
from smartlic.authority.services.users import SqlUsersService, user_principal
from smartlic.clock import Clock
from smartlic.crypto import hash_secret
from smartlic.domain.enums import Role
from smartlic.errors import AuthenticationFailed, NotFound
from smartlic.storage.models import AccessToken, ApiClient, SmartAccount, User, VirtualAccount

__all__ = [
    "ACCESS_TOKEN_PREFIX",
    "TOKEN_LIFETIME",
    "ApiClientOut",
    "CreatedApiClient",
    "IssuedToken",
    "SqlApiClientsService",
]

ACCESS_TOKEN_PREFIX = "slat_"
TOKEN_LIFETIME = timedelta(hours=1)


@dataclass(frozen=True)
class ApiClientOut:
    client_id: str
    role: Role
    smart_account: str | None
    virtual_account: str | None
    created_at: datetime
    created_by: str
    revoked_at: datetime | None


@dataclass(frozen=True)
class CreatedApiClient:
    client: ApiClientOut
    client_secret: str  # shown once

    @property
    def client_id(self) -> str:
        return self.client.client_id


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int  # seconds
    token_type: str = "Bearer"


class ClientAuthFailed(AuthenticationFailed):
    """RFC 6749 ``invalid_client``: unknown client, wrong secret or revoked client."""


class GrantRefused(AuthenticationFailed):
    """RFC 6749 ``invalid_grant``: the user's name or password is wrong."""


class SqlApiClientsService(ServiceBase):
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        users: SqlUsersService | None = None,
        cache: PrincipalCache | None = None,
    ) -> None:
        super().__init__(engine, clock)
        self.users = users  # checks the password grant's user (None: no password grant)
        # principals of client tokens; emptied on every revocation (_principal_cache.py)
        self.cache = cache or PrincipalCache(clock)

    def create_client(
        self,
        domain: str,
        *,
        role: Role = Role.SMART_ACCOUNT_ADMIN,
        virtual_account: str | None = None,
        actor: str,
    ) -> CreatedApiClient:
        role = Role(role)
        smart_account = None if role is Role.ADMIN else domain
        check_grant_shape(role, smart_account, virtual_account)
        secret = secrets.token_urlsafe(32)
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            va = self.virtual_account(s, sa, virtual_account) if virtual_account else None
            client = ApiClient(
                client_id=secrets.token_hex(16),
                secret_hash=hash_secret(secret),
                role=role,
                smart_account_id=sa.id if smart_account else None,
                virtual_account_id=va.id if va else None,
                created_at=self.now(),
                created_by=actor[:200],
            )
            s.add(client)
            s.flush()
            self.record(
                s,
                "apiclient.created",
                actor=actor,
                smart_account=sa,
                virtual_account=virtual_account,
                subject=client.client_id,
                role=role.value,
            )
            out = ApiClientOut(
                client.client_id,
                role,
                smart_account,
                virtual_account,
                client.created_at,
                client.created_by,
                None,
            )
            return CreatedApiClient(out, secret)

    def list_clients(self, domain: str | None = None) -> list[ApiClientOut]:
        """Every client (of smart account ``domain`` if given), oldest first."""
        q = (
            select(ApiClient, SmartAccount.domain, VirtualAccount.name)
            .outerjoin(SmartAccount, SmartAccount.id == ApiClient.smart_account_id)
            .outerjoin(VirtualAccount, VirtualAccount.id == ApiClient.virtual_account_id)
            .order_by(ApiClient.created_at, ApiClient.client_id)
        )
        if domain is not None:
            q = q.where(SmartAccount.domain == domain)
        with self.transaction() as s:
            return [_out(c, d, va) for c, d, va in s.execute(q)]

    def get_client(self, client_id: str) -> ApiClientOut:
        for c in self.list_clients():
            if c.client_id == client_id:
                return c
        raise NotFound(f"no API client {client_id!r}")

    def revoke_client(self, client_id: str, *, actor: str) -> ApiClientOut:
        """Revoke a client and every access token it holds (they stop working at once)."""
        with self.transaction() as s:
            client = s.scalar(select(ApiClient).where(ApiClient.client_id == client_id[:64]))
            if client is None:
                raise NotFound(f"no API client {client_id!r}")
            if client.revoked_at is None:
                now = self.now()
                client.revoked_at = now
                s.execute(
                    update(AccessToken)
                    .where(AccessToken.client_id == client.id, AccessToken.revoked_at.is_(None))
                    .values(revoked_at=now)
                )
                self.record(s, "apiclient.revoked", actor=actor, subject=client.client_id)
        self.cache.invalidate()
        return self.get_client(client_id)

    def issue_token(
        self,
        client_id: str,
        client_secret: str,
        *,
        username: str | None = None,
        password: str | None = None,
    ) -> IssuedToken:
        """An access token for the client (``client_credentials``), or for a portal user
        through the client (``password``: ``username`` and ``password`` given)."""
        with self.transaction() as s:
            client_pk = self._client(s, client_id, client_secret).id
        user_id = None
        if username is not None:
            user_id = self._user_id(username, password or "")
        text = ACCESS_TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = self.now()
        with self.transaction() as s:
            s.add(
                AccessToken(
                    token_hash=hash_secret(text),
                    client_id=client_pk,
                    user_id=user_id,
                    issued_at=now,
                    expires_at=now + TOKEN_LIFETIME,
                )
            )
        # the vendor answers 3599: a client renewing at expires_in is never a second late
        return IssuedToken(text, int(TOKEN_LIFETIME.total_seconds()) - 1)

    def revoke_token(self, text: str) -> None:
        """Revoke one access token (unknown ones are ignored, as RFC 7009 asks)."""
        with self.transaction() as s:
            s.execute(
                update(AccessToken)
                .where(
                    AccessToken.token_hash == hash_secret(text), AccessToken.revoked_at.is_(None)
                )
                .values(revoked_at=self.now())
            )
        self.cache.invalidate()

    def cached(self, text: str) -> Principal | None:
        """The principal of a client's access token seen lately and not revoked since (no
        database read: safe to call from the event loop); None: ``authenticate`` it."""
        return self.cache.get(hash_secret(text))

    def authenticate(self, text: str) -> Principal:
        """The principal of a live access token; ``AuthenticationFailed`` otherwise."""
        key = hash_secret(text)
        found = self.cache.get(key)
        if found is not None:
            return found
        generation = self.cache.generation()  # before the read: a racing revocation wins
        principal, expires_at, cacheable = self._lookup(key)
        if cacheable:
            self.cache.put(key, principal, expires_at, generation)
        return principal

    def _lookup(self, key: str) -> tuple[Principal, datetime, bool]:
        """(principal, token expiry, whether it may be cached: a client's own token; a user's
        carries the user's grants, which change without a revocation)."""
        with self.transaction() as s:
            row = s.execute(
                select(AccessToken, ApiClient, SmartAccount.domain, VirtualAccount.name)
                .join(ApiClient, ApiClient.id == AccessToken.client_id)
                .outerjoin(SmartAccount, SmartAccount.id == ApiClient.smart_account_id)
                .outerjoin(VirtualAccount, VirtualAccount.id == ApiClient.virtual_account_id)
                .where(AccessToken.token_hash == key)
            ).first()
            if row is None:
                raise AuthenticationFailed("unknown access token")
            token, client, domain, va = row
            if token.revoked_at is not None or client.revoked_at is not None:
                raise AuthenticationFailed("the access token was revoked")
            if self.now() >= token.expires_at:
                raise AuthenticationFailed("the access token has expired: request a new one")
            if token.user_id is not None:
                user = s.get(User, token.user_id)
                if user is None or user.disabled:
                    raise AuthenticationFailed("the user of this access token is disabled")
                return user_principal(s, user), token.expires_at, False
        name = f"client:{client.client_id}"
        return Principal(name, client.role, domain, va, key_id=client.id), token.expires_at, True

    def _user_id(self, username: str, password: str) -> str:
        if self.users is None:
            raise GrantRefused("the password grant is not available")
        try:
            self.users.authenticate(username, password)
        except AuthenticationFailed as exc:
            raise GrantRefused("unknown user or wrong password") from exc
        with self.transaction() as s:
            user_id = s.scalar(select(User.id).where(User.username == username[:100]))
        if user_id is None:  # deleted in between
            raise GrantRefused("unknown user or wrong password")
        return user_id

    def _client(self, s: Session, client_id: str, client_secret: str) -> ApiClient:
        client = s.scalar(select(ApiClient).where(ApiClient.client_id == client_id[:64]))
        good = client is not None and secrets.compare_digest(
            client.secret_hash, hash_secret(client_secret)
        )
        if client is None or not good or client.revoked_at is not None:
            raise ClientAuthFailed("unknown client, wrong secret or revoked client")
        return client


def _out(c: ApiClient, domain: str | None, va: str | None) -> ApiClientOut:
    return ApiClientOut(c.client_id, c.role, domain, va, c.created_at, c.created_by, c.revoked_at)
