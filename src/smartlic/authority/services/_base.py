"""What every service shares: a session per call, the clock, lookups, and the event log."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.services._files import FileSigner
from smartlic.authority.services._guard import RequestGuard
from smartlic.clock import Clock
from smartlic.errors import NotFound
from smartlic.storage.models import Event, License, SmartAccount, VirtualAccount

__all__ = ["ServiceBase", "SigningServiceBase"]


class ServiceBase:
    """Owns a session factory; ``transaction()`` is one unit of work, committed or rolled back."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def now(self) -> datetime:
        return self.clock.now()

    # ------------------------------------------------------------ lookups

    @staticmethod
    def smart_account(session: Session, domain: str) -> SmartAccount:
        sa = session.scalar(select(SmartAccount).where(SmartAccount.domain == domain))
        if sa is None:
            raise NotFound(f"no smart account {domain!r}")
        return sa

    @staticmethod
    def virtual_account(session: Session, sa: SmartAccount, name: str) -> VirtualAccount:
        va = session.scalar(
            select(VirtualAccount).where(
                VirtualAccount.smart_account_id == sa.id, VirtualAccount.name == name
            )
        )
        if va is None:
            raise NotFound(f"no virtual account {name!r} in {sa.domain!r}")
        return va

    @staticmethod
    def license_by_tag(session: Session, tag: str) -> License | None:
        return session.scalar(select(License).where(License.tag == tag))

    def record(
        self,
        session: Session,
        event_name: str,
        *,
        actor: str,
        smart_account: SmartAccount | None = None,
        virtual_account: str | None = None,
        subject: str | None = None,
        **properties: Any,
    ) -> None:
        """Append one event (dotted name) to the activity log in the caller's transaction."""
        session.add(
            Event(
                at=self.now(),
                name=event_name,
                actor=actor,
                smart_account_id=smart_account.id if smart_account else None,
                virtual_account=virtual_account,
                subject=subject,
                properties=properties,
            )
        )


class SigningServiceBase(ServiceBase):
    """A service that answers devices: signs authority files and refuses replayed requests."""

    def __init__(
        self, engine: Engine, clock: Clock, keys: AuthorityKeys, *, replay_window_s: float = 300.0
    ) -> None:
        super().__init__(engine, clock)
        self.files = FileSigner(keys)
        self.guard = RequestGuard(replay_window_s)
