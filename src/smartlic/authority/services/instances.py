"""Product instances: list, search, transfer between virtual accounts, remove (frees licenses)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from smartlic.authority.services._base import ServiceBase
from smartlic.authority.services._usage import claim_all, current_usage, release_all
from smartlic.authority.services.interfaces import InstanceOut, Page, UsageOut
from smartlic.authority.services.scope import AccountScope, Principal, scope_in
from smartlic.domain.enums import InstanceStatus
from smartlic.errors import InvalidInput, NotFound
from smartlic.storage.models import License, ProductInstance, SmartAccount, VirtualAccount

DEADLINE = timedelta(days=90)  # no contact for this long: authorization expired
MAX_PAGE = 1000


def effective_status(inst: ProductInstance, now: datetime) -> InstanceStatus:
    last = inst.last_contact_at or inst.registered_at
    if now - last > DEADLINE:
        return InstanceStatus.AUTHORIZATION_EXPIRED
    return inst.status


def _alerts(status: InstanceStatus) -> list[str]:
    return {
        InstanceStatus.IN_COMPLIANCE: [],
        InstanceStatus.OUT_OF_COMPLIANCE: ["Licenses are Out of Compliance"],
        InstanceStatus.AUTHORIZATION_EXPIRED: ["Failed to Connect: authorization expired"],
    }[status]


class SqlInstancesService(ServiceBase):
    def list_instances(
        self,
        domain: str,
        virtual_account: str | None = None,
        *,
        search: str | None = None,
        limit: int = 50,
        offset: int = 0,
        scope: Principal,
    ) -> Page[InstanceOut]:
        """Instances of one virtual account, or of every one ``scope`` may read."""
        if not 1 <= limit <= MAX_PAGE or offset < 0:
            raise InvalidInput(f"limit must be 1-{MAX_PAGE} and offset >= 0", pointer="/limit")
        visible = scope_in(scope, domain)
        if virtual_account is not None:
            visible.require_read(virtual_account)
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            q = (
                select(ProductInstance, VirtualAccount)
                .join(VirtualAccount)
                .where(VirtualAccount.smart_account_id == sa.id, visible.where(VirtualAccount.name))
            )
            if virtual_account is not None:
                q = q.where(VirtualAccount.id == self.virtual_account(s, sa, virtual_account).id)
            if search:
                like = f"%{search.lower()}%"
                q = q.where(
                    or_(
                        func.lower(ProductInstance.hostname).like(like),
                        func.lower(ProductInstance.udi_sn).like(like),
                        func.lower(ProductInstance.udi_pid).like(like),
                    )
                )
            total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
            rows = s.execute(
                q.order_by(ProductInstance.registered_at, ProductInstance.id)
                .limit(limit)
                .offset(offset)
            ).all()
            items = [self._out(s, sa, va, inst) for inst, va in rows]
        return Page(items=items, total=total, limit=limit, offset=offset)

    def get_instance(self, domain: str, instance_id: str, *, scope: Principal) -> InstanceOut:
        visible = scope_in(scope, domain)
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            inst, va = self._find(s, sa, instance_id, visible)
            return self._out(s, sa, va, inst)

    def transfer_instance(
        self, domain: str, instance_id: str, *, target: str, scope: Principal
    ) -> InstanceOut:
        """Move an instance between two virtual accounts ``scope`` may both change."""
        allowed = scope_in(scope, domain)
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            inst, va = self._find(s, sa, instance_id, allowed)
            allowed.require_write(va.name)
            allowed.require_write(target)
            dst = self.virtual_account(s, sa, target)
            if dst.id != va.id:
                held = {lid: u.count for lid, u in current_usage(s, inst.id).items()}
                release_all(s, inst)
                inst.virtual_account_id = dst.id
                claim_all(s, inst, held)
                self._restore(s, inst, held)
                self.record(
                    s,
                    "instance.transferred",
                    actor=scope.label(),
                    smart_account=sa,
                    virtual_account=va.name,
                    subject=self._label(inst),
                    target=dst.name,
                )
            return self._out(s, sa, dst, inst)

    def remove_instance(self, domain: str, instance_id: str, *, scope: Principal) -> None:
        allowed = scope_in(scope, domain)
        with self.transaction() as s:
            sa = self.smart_account(s, domain)
            inst, va = self._find(s, sa, instance_id, allowed)
            allowed.require_write(va.name)
            release_all(s, inst)
            s.delete(inst)
            self.record(
                s,
                "instance.removed",
                actor=scope.label(),
                smart_account=sa,
                virtual_account=va.name,
                subject=self._label(inst),
            )

    # ------------------------------------------------------------ helpers

    @staticmethod
    def _restore(s: Session, inst: ProductInstance, held: dict[str, int]) -> None:
        from smartlic.storage.models import InstanceUsage

        for lid, count in held.items():
            s.add(
                InstanceUsage(instance_id=inst.id, license_id=lid, count=count, status="AUTHORIZED")
            )

    @staticmethod
    def _find(
        s: Session, sa: SmartAccount, instance_id: str, visible: AccountScope
    ) -> tuple[ProductInstance, VirtualAccount]:
        row = s.execute(
            select(ProductInstance, VirtualAccount)
            .join(VirtualAccount)
            .where(ProductInstance.id == instance_id, VirtualAccount.smart_account_id == sa.id)
        ).first()
        if row is None:
            raise NotFound(f"no product instance {instance_id!r} in {sa.domain!r}")
        visible.require_visible(row[1].name, f"product instance {instance_id!r}")
        return row[0], row[1]

    @staticmethod
    def _label(inst: ProductInstance) -> str:
        return f"PID:{inst.udi_pid},SN:{inst.udi_sn}"

    def _out(
        self, s: Session, sa: SmartAccount, va: VirtualAccount, inst: ProductInstance
    ) -> InstanceOut:
        usage = current_usage(s, inst.id)
        tags = (
            {
                row[0]: row[1]
                for row in s.execute(
                    select(License.id, License.tag).where(License.id.in_(list(usage)))
                )
            }
            if usage
            else {}
        )
        status = effective_status(inst, self.now())
        return InstanceOut(
            id=inst.id,
            smart_account=sa.domain,
            virtual_account=va.name,
            udi_pid=inst.udi_pid,
            udi_sn=inst.udi_sn,
            hostname=inst.hostname,
            software_tag=inst.software_tag,
            registered_at=inst.registered_at,
            last_contact_at=inst.last_contact_at,
            status=status.value,
            alerts=_alerts(status),
            usage=sorted(
                (
                    UsageOut(tag=tags[lid], count=u.count, status=u.status)
                    for lid, u in usage.items()
                ),
                key=lambda u: u.tag,
            ),
            certificate_expires=inst.cert_expires_at,
        )
