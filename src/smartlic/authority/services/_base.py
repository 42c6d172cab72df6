"""What every service shares: a session per call, the clock, lookups, and the event log."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, ParamSpec, TypeVar, cast

from sqlalchemy import Connection, Engine, Table, bindparam, insert, select
from sqlalchemy.orm import Session, sessionmaker

from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.services._files import FileSigner
from smartlic.authority.services._guard import RequestGuard
from smartlic.authority.services._pool import NOTED, TOUCHED
from smartlic.clock import Clock
from smartlic.errors import NotFound, OwnershipNotProven, SmartlicError
from smartlic.formats import jsonsafe
from smartlic.formats.bounds import decimal
from smartlic.storage.models import Event, License, SmartAccount, VirtualAccount
from smartlic.storage.prepared import Prepared

__all__ = ["ServiceBase", "SigningServiceBase", "device_actor", "id_number", "insert_events"]

_log = logging.getLogger(__name__)
WATCH_ACTOR = "compliance"  # who raises a warning in the transaction that caused it


def device_actor(udi: object) -> str:
    """The actor of an event a device's own request caused (``udi``: its ``PID:SN``)."""
    return f"device:{udi}"


def id_number(digits: str) -> int:
    """A numeric account id as sent (digits), for a lookup: one beyond the column's range
    (32-bit) names no account, so it looks up -1 (PostgreSQL refuses the out-of-range
    parameter outright, an error where the answer is "not found"). So does text that
    ``str.isdigit`` (the callers' test) takes for digits but is no ASCII id: ``int`` refuses a
    superscript or more than 4300 digits (a 500) and reads other scripts' digits."""
    n = decimal(digits, max_digits=10)
    return n if n is not None and n < 2**31 else -1


class ServiceBase:
    """Owns a session factory; ``transaction()`` is one unit of work, committed or rolled back."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work. Pools it changed (``_pool.touch``, ``_compliance.bump_noted``) are
        judged before it commits: a pool it pushed out of compliance is warned about in it
        (``_compliance``)."""
        with self._sessions.begin() as session:
            yield session
            self._judge_pools(session)

    @contextmanager
    def core_transaction(self) -> Iterator[Connection]:
        """One transaction on a bare Core connection (no Session, no unit of work, no ORM
        objects): for the device protocol's hot paths, which run statements built once.
        A rare branch that needs ORM objects opens ``session_on`` the connection."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def session_on(self, conn: Connection) -> Iterator[Session]:
        """An ORM Session inside a ``core_transaction``: its work is flushed into the
        connection's transaction, and pools it changed are judged as ``transaction()`` judges
        them; committing (or rolling back) stays the connection's."""
        with Session(bind=conn, expire_on_commit=False) as session:
            yield session
            self._judge_pools(session)
            session.flush()  # what a commit would have flushed, the warnings included

    def _judge_pools(self, session: Session) -> None:
        pools = session.info.pop(TOUCHED, None)
        noted = session.info.pop(NOTED, None)
        if not pools and not noted:
            return
        from smartlic.authority.services._compliance import judge_noted, raise_warnings  # cycle

        if pools:
            raise_warnings(session, self.now(), self.record, WATCH_ACTOR, pools)
        if noted:
            judge_noted(session, self.now(), self.record, WATCH_ACTOR, noted, pools or set())

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

    @classmethod
    def virtual_account_by_ref(cls, session: Session, sa: SmartAccount, ref: str) -> VirtualAccount:
        """A virtual account as the vendor's API names it (``X-CSW-VIRTUAL-ACCOUNT-ID``,
        ``license_pool_id``): digits are its numeric id (``v2/accounts/search``), anything
        else its name."""
        if not ref.isdigit():
            return cls.virtual_account(session, sa, ref)
        va = session.scalar(
            select(VirtualAccount).where(
                VirtualAccount.smart_account_id == sa.id, VirtualAccount.number == id_number(ref)
            )
        )
        if va is None:
            raise NotFound(f"no virtual account {ref} in {sa.domain!r}")
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
        row = _event_row(
            self.now(), event_name, actor, smart_account, virtual_account, subject, properties
        )
        session.add(Event(**row))

    def record_now(
        self,
        session: Session | Connection,
        event_name: str,
        *,
        actor: str,
        smart_account: SmartAccount | None = None,
        smart_account_id: str | None = None,
        virtual_account: str | None = None,
        subject: str | None = None,
        **properties: Any,
    ) -> None:
        """``record`` as one INSERT sent now, outside the unit of work (no flush): for the
        device protocol's hot paths, whose event names only rows already stored. On a bare
        connection (``core_transaction``) the smart account is given by ``smart_account_id``."""
        row = self.event_row(
            event_name,
            actor=actor,
            smart_account=smart_account,
            smart_account_id=smart_account_id,
            virtual_account=virtual_account,
            subject=subject,
            **properties,
        )
        insert_events(session, [row])

    def event_row(
        self,
        event_name: str,
        *,
        actor: str,
        smart_account: SmartAccount | None = None,
        smart_account_id: str | None = None,
        virtual_account: str | None = None,
        subject: str | None = None,
        **properties: Any,
    ) -> dict[str, Any]:
        """The row ``record_now`` inserts (``insert_events``, or a caller sending it with its
        other writes in one statement)."""
        row = _event_row(
            self.now(), event_name, actor, smart_account, virtual_account, subject, properties
        )
        if smart_account_id is not None:
            row["smart_account_id"] = smart_account_id
        return row

    def refused(
        self,
        event_name: str,
        exc: SmartlicError,
        *,
        actor: str,
        domain: str | None = None,
        subject: str | None = None,
        **properties: Any,
    ) -> None:
        """Log a refused request. The refused work rolled back with its transaction, so this
        writes its own; a failure here never hides the original error (the caller re-raises)."""
        try:
            with self.transaction() as s:
                sa = None
                if domain:
                    sa = s.scalar(select(SmartAccount).where(SmartAccount.domain == domain))
                self.record(
                    s,
                    event_name,
                    actor=actor,
                    smart_account=sa,
                    subject=subject,
                    code=exc.code,
                    reason=exc.detail[:500],
                    **properties,
                )
        except Exception:  # logging a refusal must not replace the refusal itself
            _log.exception("could not record %s", event_name)


class SigningServiceBase(ServiceBase):
    """A service that answers devices: signs authority files and refuses replayed requests."""

    def __init__(
        self, engine: Engine, clock: Clock, keys: AuthorityKeys, *, replay_window_s: float = 300.0
    ) -> None:
        super().__init__(engine, clock)
        self.files = FileSigner(keys)
        self.guard = RequestGuard(replay_window_s)


# ``inline()``: no ``RETURNING events.id`` on PostgreSQL (nobody reads the new event's id)
_EVENTS = cast(Table, Event.__table__)
# One event row at the driver's cost (``storage.prepared``): every column but the id, which
# nobody reads back (no RETURNING on PostgreSQL).
_EVENT_INSERT = Prepared(
    insert(_EVENTS).values({c.name: bindparam(c.name) for c in _EVENTS.c if c.name != "id"})
)


def insert_events(db: Session | Connection, rows: list[dict[str, Any]]) -> None:
    """Insert event rows (``ServiceBase.event_row``), one prepared INSERT each."""
    for row in rows:
        _EVENT_INSERT.run(db, row)


def _event_row(
    at: datetime,
    name: str,
    actor: str,
    smart_account: SmartAccount | None,
    virtual_account: str | None,
    subject: str | None,
    properties: dict[str, Any],
) -> dict[str, Any]:
    return {
        "at": at,
        "name": name,
        "actor": actor,
        "smart_account_id": smart_account.id if smart_account else None,
        "virtual_account": virtual_account,
        "subject": subject,
        "properties": properties,
    }


P = ParamSpec("P")
R = TypeVar("R")


def _actor_of(kwargs: dict[str, Any]) -> str:
    scope = kwargs.get("scope")
    if scope is not None and hasattr(scope, "label"):
        return str(scope.label())
    return str(kwargs.get("actor") or "device")


def logs_refusals(event_name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Record every ``SmartlicError`` a service method raises as ``event_name`` in the event
    log (bad input, bad signatures, replays, refused tokens), then re-raise it.

    Context: the actor from the keyword arguments (``scope``'s label, else ``actor``, else
    "device"), ``domain`` from them or a leading positional ``domain``; the subject is the UDI
    the request claims. An ``OwnershipNotProven`` goes to the log of the account that holds the
    device (the one under attack), naming the account that tried (``claimed_by``) when there is
    one.
    """

    def wrap(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def inner(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(*args, **kwargs)
            except SmartlicError as exc:
                service, rest = args[0], args[1:]
                domain = kwargs.get("domain")
                if domain is None and rest and isinstance(rest[0], str):
                    domain = rest[0]
                extra = {}
                if isinstance(exc, OwnershipNotProven) and exc.holder:
                    domain, extra = exc.holder, {"claimed_by": exc.claimant}
                service.refused(  # type: ignore[attr-defined]
                    event_name,
                    exc,
                    actor=_actor_of(kwargs),
                    domain=domain if isinstance(domain, str) else None,
                    subject=_claimed_udi(rest[0] if rest else None),
                    **extra,
                )
                raise

        return inner

    return wrap


def _claimed_udi(request: Any) -> str | None:
    """The UDI a request claims, best effort, for the log (never trusted for anything)."""
    if not isinstance(request, dict):
        return None
    data = request
    if isinstance(request.get("payload"), str):
        try:
            data = jsonsafe.loads(request["payload"])
        except (ValueError, SmartlicError):
            return None
    udi = data.get("udi") if isinstance(data, dict) else None
    if isinstance(udi, dict):
        return f"PID:{str(udi.get('pid'))[:64]},SN:{str(udi.get('sn'))[:64]}"
    return None
