"""The activity log, read side: per smart account (only the events of the virtual accounts the
caller may read, when it may not read them all), and authority-wide for admins."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select

from smartlic.authority.services._base import ServiceBase
from smartlic.authority.services._keyset import after, check_cursor, split
from smartlic.authority.services.interfaces import EventFilter, EventOut, Page
from smartlic.authority.services.scope import Principal, require_admin, scope_in
from smartlic.formats.bounds import check_page
from smartlic.storage.models import Event, SmartAccount


def _filtered(q: Any, where: EventFilter) -> Any:
    """``q`` narrowed to the events ``where`` describes."""
    if where.name_prefixes:
        names = (Event.name.startswith(p, autoescape=True) for p in where.name_prefixes)
        q = q.where(or_(*names))
    if where.virtual_account:
        q = q.where(Event.virtual_account == where.virtual_account)
    if where.since is not None:
        q = q.where(Event.at >= where.since)
    if where.until is not None:
        q = q.where(Event.at < where.until)
    if where.subject is not None:
        q = q.where(Event.subject == where.subject)
    if where.search:
        text = where.search.lower()
        q = q.where(
            or_(
                func.lower(Event.subject).contains(text, autoescape=True),
                func.lower(Event.actor).contains(text, autoescape=True),
            )
        )
    return q


class SqlEventsService(ServiceBase):
    def list_events(
        self,
        domain: str | None,
        *,
        name_prefix: str | None = None,
        where: EventFilter | None = None,
        limit: int = 100,
        offset: int = 0,
        cursor: str | None = None,
        scope: Principal,
    ) -> Page[EventOut]:
        """Newest first; a page by ``offset`` (with the total) or after a ``cursor`` (keyset
        on ``id``, no total)."""
        check_page(limit, offset, 1000)
        check_cursor(cursor, offset)
        if domain is None:
            require_admin(scope)
        visible = scope_in(scope, domain) if domain is not None else None
        with self.transaction() as s:
            q = select(Event, SmartAccount.domain).outerjoin(SmartAccount)
            if domain is not None and visible is not None:
                q = q.where(Event.smart_account_id == self.smart_account(s, domain).id)
                # account-wide events (no virtual account) are the account's, not a VA's
                q = q.where(visible.where(Event.virtual_account))
            if name_prefix:
                q = q.where(Event.name.startswith(name_prefix, autoescape=True))
            if where is not None:
                q = _filtered(q, where)
            total = None
            if cursor is None:
                total = s.scalar(select(func.count()).select_from(q.subquery())) or 0
            newest_first = not (where and where.oldest_first)
            q = after(q, [Event.id], cursor, ("id",), descending=newest_first)
            order = Event.id.desc() if newest_first else Event.id.asc()
            found = s.execute(q.order_by(order).limit(limit + 1).offset(offset)).all()
            rows, token = split(found, limit, lambda r: [r[0].id])
            items = [_out(e, dom) for e, dom in rows]
        return Page(items=items, total=total, limit=limit, offset=offset, next_cursor=token)


def _out(e: Event, domain: str | None) -> EventOut:
    return EventOut(
        id=e.id,
        at=e.at,
        name=e.name,
        actor=e.actor,
        smart_account=domain,
        virtual_account=e.virtual_account,
        subject=e.subject,
        properties=dict(e.properties or {}),
    )
