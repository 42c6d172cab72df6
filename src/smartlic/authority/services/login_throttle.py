"""Log-in throttling for the portal: failed log-ins counted per user and per client address,
in the database, so every authority process on one database applies the same counts.

Three sliding windows (``LoginPolicy``, settings ``portal_login_*``), checked before the
password is (a refused guess costs no Argon2id work and is not counted):

1. one user from one address: ``per_user_address`` failures (5) in ``window`` (15 min);
2. one address, whatever the users: ``per_address`` failures (20) - password spraying;
3. one user, from every address together: ``per_user`` failures (50) - a botnet guessing one
   user from many addresses. This one spares the user's *familiar* addresses (a successful
   log-in as this user from there in the last ``familiar_for``, 30 days), so a guesser
   elsewhere can never lock a user out of the place they normally work from.

Nothing locks for longer than ``window``: a guess refused while throttled is not counted, so
hammering does not extend the lock, and once the oldest counted failure leaves the window the
next attempt is allowed. This is the shape of OWASP's "Authentication Cheat Sheet: login
throttling" and of Microsoft Entra's "smart lockout" (familiar vs. unfamiliar locations).

Two processes checking at the same instant may both let one more guess through (check and
count are separate statements); the excess is bounded by the number of concurrent requests.

Usage::

    throttle = SqlLoginThrottle(engine, clock, LoginPolicy())
    throttle.check("alice", "203.0.113.7")        # raises TooManyAttempts(retry_after=...)
    throttle.failed("alice", "203.0.113.7")       # after a wrong password
    throttle.succeeded("alice", "203.0.113.7")    # after a right one
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Engine, and_, delete, exists, select
from sqlalchemy.orm import Session

from smartlic.authority.services._base import ServiceBase
from smartlic.clock import Clock
from smartlic.errors import TooManyAttempts
from smartlic.storage.models import LoginAttempt

__all__ = ["LoginPolicy", "SqlLoginThrottle", "client_key"]

_MAX_NAME = 100


@dataclass(frozen=True)
class LoginPolicy:
    """How many failed log-ins are allowed in ``window`` (see the module docstring)."""

    window: timedelta = timedelta(minutes=15)
    per_user_address: int = 5
    per_address: int = 20
    per_user: int = 50
    familiar_for: timedelta = timedelta(days=30)


def client_key(host: str | None) -> str:
    """The address a failure is counted against: an IPv4 address, or the /64 of an IPv6 one
    (one subscriber holds a whole /64, so counting single IPv6 addresses counts nothing)."""
    try:
        ip = ipaddress.ip_address(host or "")
    except ValueError:
        return (host or "unknown")[:64]
    if ip.version == 6 and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip.ipv4_mapped or ip) if ip.version == 6 else str(ip)


def _minutes(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


class SqlLoginThrottle(ServiceBase):
    def __init__(self, engine: Engine, clock: Clock, policy: LoginPolicy | None = None) -> None:
        super().__init__(engine, clock)
        self.policy = policy or LoginPolicy()

    def check(self, username: str, address: str) -> None:
        """Raise ``TooManyAttempts`` if ``username`` may not try a password from ``address``."""
        username, p = username[:_MAX_NAME], self.policy
        with self.transaction() as s:
            since = self.now() - p.window
            rules: list[tuple[ColumnElement[bool], int, str]] = [
                (
                    and_(LoginAttempt.username == username, LoginAttempt.address == address),
                    p.per_user_address,
                    f"too many failed log-ins as {username!r} from your address",
                ),
                (LoginAttempt.address == address, p.per_address, "too many failed log-ins from "
                 "your address"),
            ]  # fmt: skip
            if not self._familiar(s, username, address):
                rules.append(
                    (LoginAttempt.username == username, p.per_user,
                     f"too many failed log-ins as {username!r}"),
                )  # fmt: skip
            for where, limit, reason in rules:
                retry_at = self._locked_until(s, where, limit, since)
                if retry_at is not None:
                    wait = math.ceil((retry_at - self.now()).total_seconds())
                    raise TooManyAttempts(
                        f"{reason}: try again in {_minutes(wait)}", retry_after=max(1, wait)
                    )

    def failed(self, username: str, address: str) -> None:
        """Count one failed log-in; forget failures that have left every window."""
        now = self.now()
        with self.transaction() as s:
            s.add(LoginAttempt(at=now, username=username[:_MAX_NAME], address=address))
            s.execute(
                delete(LoginAttempt).where(
                    LoginAttempt.at < now - self.policy.window, LoginAttempt.succeeded.is_(False)
                )
            )

    def succeeded(self, username: str, address: str) -> None:
        """Remember ``address`` as familiar to ``username`` and clear the pair's failures."""
        now, username = self.now(), username[:_MAX_NAME]
        with self.transaction() as s:
            s.execute(
                delete(LoginAttempt).where(
                    LoginAttempt.username == username, LoginAttempt.address == address
                )
            )
            s.execute(
                delete(LoginAttempt).where(
                    LoginAttempt.at < now - self.policy.familiar_for,
                    LoginAttempt.succeeded.is_(True),
                )
            )
            s.add(LoginAttempt(at=now, username=username, address=address, succeeded=True))

    # ------------------------------------------------------------ helpers

    def _familiar(self, s: Session, username: str, address: str) -> bool:
        since = self.now() - self.policy.familiar_for
        query = select(
            exists().where(
                LoginAttempt.username == username,
                LoginAttempt.address == address,
                LoginAttempt.succeeded.is_(True),
                LoginAttempt.at >= since,
            )
        )
        return bool(s.scalar(query))

    def _locked_until(
        self, s: Session, where: ColumnElement[bool], limit: int, since: datetime
    ) -> datetime | None:
        """When the ``limit``-th most recent failure in the window leaves it, if there are
        that many; ``None`` when an attempt is allowed now."""
        times = s.scalars(
            select(LoginAttempt.at)
            .where(where, LoginAttempt.succeeded.is_(False), LoginAttempt.at > since)
            .order_by(LoginAttempt.at.desc())
            .limit(limit)
        ).all()
        return times[-1] + self.policy.window if len(times) >= limit else None
