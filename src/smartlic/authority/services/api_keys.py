"""Management API keys: shown once, stored as SHA-256, scoped like a user's grant: the whole
authority (``admin``), one smart account, or one virtual account (``scope.check_grant_shape``).
"""

from __future__ import annotations

from sqlalchemy import select

from smartlic.authority.services._base import ServiceBase
from smartlic.authority.services.interfaces import ApiKeyOut, CreatedApiKey
from smartlic.authority.services.scope import Principal, check_grant_shape
from smartlic.crypto import hash_secret, make_api_key
from smartlic.domain.enums import Role
from smartlic.errors import AuthenticationFailed, NotFound
from smartlic.storage.models import ApiKey, SmartAccount, VirtualAccount


class SqlApiKeysService(ServiceBase):
    def create_api_key(
        self,
        *,
        name: str,
        role: Role,
        smart_account: str | None,
        virtual_account: str | None = None,
        actor: str,
    ) -> CreatedApiKey:
        role = Role(role)
        check_grant_shape(role, smart_account, virtual_account)
        text = make_api_key()
        with self.transaction() as s:
            sa = self.smart_account(s, smart_account) if smart_account else None
            va = self.virtual_account(s, sa, virtual_account) if sa and virtual_account else None
            key = ApiKey(
                name=name[:200],
                key_hash=hash_secret(text),
                role=role,
                smart_account_id=sa.id if sa else None,
                virtual_account_id=va.id if va else None,
                created_at=self.now(),
                created_by=actor,
            )
            s.add(key)
            s.flush()
            self.record(
                s,
                "apikey.created",
                actor=actor,
                smart_account=sa,
                virtual_account=virtual_account,
                subject=key.id,
                name=name,
                role=role.value,
            )
            return CreatedApiKey(
                id=key.id,
                name=key.name,
                role=role,
                smart_account=smart_account,
                text=text,
                virtual_account=virtual_account,
            )

    def authenticate(self, text: str) -> Principal:
        with self.transaction() as s:
            row = s.execute(
                select(ApiKey, SmartAccount.domain, VirtualAccount.name)
                .outerjoin(SmartAccount, SmartAccount.id == ApiKey.smart_account_id)
                .outerjoin(VirtualAccount, VirtualAccount.id == ApiKey.virtual_account_id)
                .where(ApiKey.key_hash == hash_secret(text))
            ).first()
            if row is None or row[0].revoked_at is not None:
                raise AuthenticationFailed("unknown or revoked API key")
            key, domain, va = row
            return Principal(key.name, key.role, domain, va, key_id=key.id)

    def revoke_api_key(self, key_id: str, *, actor: str) -> None:
        with self.transaction() as s:
            key = s.get(ApiKey, key_id)
            if key is None:
                raise NotFound(f"no API key {key_id!r}")
            if key.revoked_at is None:
                key.revoked_at = self.now()
                self.record(s, "apikey.revoked", actor=actor, subject=key.id)

    def list_api_keys(self, domain: str) -> list[ApiKeyOut]:
        """The keys of smart account ``domain`` (its own and its virtual accounts'), oldest
        first; who may see them is the caller's to check (``scope_in(...).require_manage()``)."""
        q = (
            select(ApiKey, SmartAccount.domain, VirtualAccount.name)
            .join(SmartAccount, SmartAccount.id == ApiKey.smart_account_id)
            .outerjoin(VirtualAccount, VirtualAccount.id == ApiKey.virtual_account_id)
            .where(SmartAccount.domain == domain)
            .order_by(ApiKey.created_at, ApiKey.id)
        )
        with self.transaction() as s:
            return [
                ApiKeyOut(k.id, k.name, k.role, d, va, k.created_at, k.created_by, k.revoked_at)
                for k, d, va in s.execute(q)
            ]
