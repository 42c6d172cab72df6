"""Server-side portal sessions: a logged-in browser is a row, not just a signed cookie.

The cookie (signed, HttpOnly) carries a random session id; the table holds its SHA-256, the
user and an absolute expiry. Every page looks the session up, so deleting the row ends it at
once, in every process on the database: logging out deletes this browser's row; changing or
resetting a password and disabling a user delete all of that user's rows (``end_sessions``,
which ``SqlUsersService`` calls in the same transaction as the change).

Usage::

    sessions = SqlPortalSessionsService(engine, clock)
    sid = sessions.open("alice", address="203.0.113.7")   # after a successful log-in
    sessions.username(sid)                                 # "alice", or None once ended
    sessions.close(sid)                                    # log out
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from smartlic.authority.services._base import ServiceBase
from smartlic.errors import NotFound
from smartlic.storage.models import PortalSession, User

__all__ = ["SESSION_LIFETIME", "SqlPortalSessionsService", "end_sessions"]

SESSION_LIFETIME = timedelta(hours=8)  # a working day; then log in again


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def end_sessions(s: Session, user_id: str, *, keep: str | None = None) -> None:
    """Delete every session of the user, except the one whose id is ``keep``."""
    query = delete(PortalSession).where(PortalSession.user_id == user_id)
    if keep is not None:
        query = query.where(PortalSession.id_hash != _hash(keep))
    s.execute(query)


class SqlPortalSessionsService(ServiceBase):
    def open(self, username: str, *, address: str) -> str:
        """A new session for ``username``; the returned id goes into the cookie only."""
        sid, now = secrets.token_urlsafe(32), self.now()
        with self.transaction() as s:
            user_id = s.scalar(select(User.id).where(User.username == username))
            if user_id is None:
                raise NotFound(f"no user {username!r}")
            s.execute(delete(PortalSession).where(PortalSession.expires_at <= now))
            s.add(
                PortalSession(
                    id_hash=_hash(sid),
                    user_id=user_id,
                    created_at=now,
                    expires_at=now + SESSION_LIFETIME,
                    address=address[:64],
                )
            )
        return sid

    def username(self, sid: str) -> str | None:
        """Who the session belongs to; ``None`` if it ended, expired or never existed."""
        with self.transaction() as s:
            row = s.execute(
                select(User.username, PortalSession.expires_at)
                .join(User, User.id == PortalSession.user_id)
                .where(PortalSession.id_hash == _hash(sid))
            ).first()
        if row is None or row.expires_at <= self.now():
            return None
        return str(row.username)

    def close(self, sid: str) -> None:
        """End one session (log out); ending an unknown one is not an error."""
        with self.transaction() as s:
            s.execute(delete(PortalSession).where(PortalSession.id_hash == _hash(sid)))
