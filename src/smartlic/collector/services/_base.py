"""What every collector service shares: engine, clock, one transaction helper, alerts."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from smartlic.clock import Clock
from smartlic.collector.models import Alert, Device
from smartlic.collector.prefs import Preferences, load
from smartlic.crypto import Udi

# The alert texts of the CSLU alert table (smart-licensing-using-policy, "CSLU alerts").
FROM_DEVICE = "COMPLETE Usage report from product instance"
UPLOADED = "COMPLETE Usage report uploaded to CSSM"
ACK_RECEIVED = "COMPLETE Acknowledgement received from CSSM"
ACK_TO_DEVICE = "COMPLETE Usage report acknowledgement to product instance"
UPLOAD_FAILED = "FAILED Usage report upload to CSSM: {reason}"
ACK_FAILED = "FAILED Acknowledgement from CSSM: {reason}"
PULL_FAILED = "FAILED Usage report from product instance: {reason}"
DELIVERY_FAILED = "FAILED Usage report acknowledgement to product instance: {reason}"
EXPORTED = "COMPLETE Usage report exported for CSSM"
AUTH_FROM_DEVICE = "COMPLETE Authorization request from product instance"
AUTH_RECEIVED = "COMPLETE Authorization code received from CSSM"
AUTH_FAILED = "FAILED Authorization request to CSSM: {reason}"


class ServiceBase:
    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    def now(self) -> datetime:
        return self.clock.now()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One committed transaction: nothing is answered before its data is on disk."""
        with Session(self.engine, expire_on_commit=False) as s, s.begin():
            yield s

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """Reads that must not queue behind (or hold up) writers: on SQLite, a connection of
        its own without ``BEGIN IMMEDIATE`` (each statement reads a committed snapshot)."""
        if self.engine.dialect.name != "sqlite":
            with self.transaction() as s:
                yield s
            return
        with _reader(self.engine).connect() as conn, Session(bind=conn) as s:
            yield s

    def prefs(self) -> Preferences:
        with self.transaction() as s:
            return load(s)

    def alert(self, s: Session, device: Device | None, text: str) -> None:
        s.add(Alert(device_id=device.id if device else None, at=self.now(), text=text[:500]))


_readers: dict[str, Engine] = {}


def _reader(engine: Engine) -> Engine:
    """A plain engine on the same SQLite file (pysqlite autocommit: no BEGIN is sent)."""
    from sqlalchemy import create_engine

    url = engine.url.render_as_string(hide_password=False)
    if url not in _readers:
        _readers[url] = create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False}, pool_size=4
        )
    return _readers[url]


def find_device(s: Session, udi: Udi) -> Device | None:
    return s.scalar(select(Device).where(Device.udi_pid == udi.pid, Device.udi_sn == udi.sn))


def get_or_add_device(s: Session, udi: Udi, now: datetime) -> Device:
    device = find_device(s, udi)
    if device is None:
        device = Device.of(udi, now)
        s.add(device)
        s.flush()
    return device


def new_poll_id() -> int:
    return secrets.randbits(62) or 1
