"""Custom policies per smart account or virtual account ("Customized policies are also made
available through your Smart account in CSSM")."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from smartlic.authority.services._base import ServiceBase
from smartlic.authority.services._files import policy_for
from smartlic.authority.services.interfaces import PolicyOut
from smartlic.authority.services.scope import Principal, scope_in
from smartlic.domain.policy import Policy as PolicyDoc
from smartlic.storage.models import Policy, VirtualAccount


def _out(p: Policy, va_name: str | None) -> PolicyOut:
    return PolicyOut(
        id=p.id,
        name=p.name,
        virtual_account=va_name,
        document=dict(p.document),
        active=p.active,
        created_at=p.created_at,
    )


class SqlPoliciesService(ServiceBase):
    def create_policy(
        self,
        domain: str,
        *,
        document: dict[str, Any],
        virtual_account: str | None = None,
        scope: Principal,
    ) -> PolicyOut:
        """Validate and install a policy; it replaces the previous one of the same place.
        An account-wide policy needs a smart-account admin, a VA's one a writer there."""
        allowed = scope_in(scope, domain)
        if virtual_account is None:
            allowed.require_manage()
        else:
            allowed.require_write(virtual_account)
        doc = PolicyDoc.from_json({**document, "source": "Customer Policy"})
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            va = self.virtual_account(s, sa, virtual_account) if virtual_account else None
            va_id = va.id if va else None
            s.execute(
                update(Policy)
                .where(
                    Policy.smart_account_id == sa.id,
                    Policy.virtual_account_id.is_(va_id)
                    if va_id is None
                    else Policy.virtual_account_id == va_id,
                )
                .values(active=False)
            )
            row = Policy(
                smart_account_id=sa.id,
                virtual_account_id=va_id,
                name=doc.name,
                document=doc.to_json(),
                active=True,
                created_at=self.now(),
            )
            s.query(Policy).filter_by(smart_account_id=sa.id, name=doc.name).delete()
            s.add(row)
            s.flush()
            self.record(
                s,
                "policy.installed",
                actor=scope.label(),
                smart_account=sa,
                virtual_account=virtual_account,
                subject=doc.name,
            )
            return _out(row, virtual_account)

    def list_policies(self, domain: str, *, scope: Principal) -> list[PolicyOut]:
        """The account-wide policies (they apply to every virtual account) and those of the
        virtual accounts ``scope`` may read."""
        visible = scope_in(scope, domain)
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            rows = s.execute(
                select(Policy, VirtualAccount.name)
                .outerjoin(VirtualAccount, VirtualAccount.id == Policy.virtual_account_id)
                .where(
                    Policy.smart_account_id == sa.id,
                    Policy.virtual_account_id.is_(None) | visible.where(VirtualAccount.name),
                )
                .order_by(Policy.created_at)
            )
            return [_out(p, va) for p, va in rows]

    def policy_in_force(
        self, domain: str, virtual_account: str, *, scope: Principal
    ) -> dict[str, Any]:
        scope_in(scope, domain).require_read(virtual_account)
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            return policy_for(s, self.virtual_account(s, sa, virtual_account)).to_json()
