"""Management API keys: shown once, stored as SHA-256, scoped by role and smart account."""

from __future__ import annotations

from sqlalchemy import select

from smartlic.authority.services._base import ServiceBase
from smartlic.authority.services.interfaces import CreatedApiKey, Principal
from smartlic.crypto import hash_secret, make_api_key
from smartlic.domain.enums import Role
from smartlic.errors import AuthenticationFailed, InvalidInput, NotFound
from smartlic.storage.models import ApiKey, SmartAccount


class SqlApiKeysService(ServiceBase):
    def create_api_key(
        self, *, name: str, role: Role, smart_account: str | None, actor: str
    ) -> CreatedApiKey:
        role = Role(role)
        if (role is Role.ADMIN) != (smart_account is None):
            raise InvalidInput(
                "an admin key has no smart account; every other role needs one",
                pointer="/smart_account",
            )
        text = make_api_key()
        with self.transaction() as s:
            sa = self.smart_account(s, smart_account) if smart_account else None
            key = ApiKey(
                name=name[:200],
                key_hash=hash_secret(text),
                role=role,
                smart_account_id=sa.id if sa else None,
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
                subject=key.id,
                name=name,
                role=role.value,
            )
            return CreatedApiKey(
                id=key.id, name=key.name, role=role, smart_account=smart_account, text=text
            )

    def authenticate(self, text: str) -> Principal:
        with self.transaction() as s:
            row = s.execute(
                select(ApiKey, SmartAccount.domain)
                .outerjoin(SmartAccount)
                .where(ApiKey.key_hash == hash_secret(text))
            ).first()
            if row is None or row[0].revoked_at is not None:
                raise AuthenticationFailed("unknown or revoked API key")
            key, domain = row
            return Principal(name=key.name, role=key.role, smart_account=domain)

    def revoke_api_key(self, key_id: str, *, actor: str) -> None:
        with self.transaction() as s:
            key = s.get(ApiKey, key_id)
            if key is None:
                raise NotFound(f"no API key {key_id!r}")
            if key.revoked_at is None:
                key.revoked_at = self.now()
                self.record(s, "apikey.revoked", actor=actor, subject=key.id)
