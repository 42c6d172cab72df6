"""Replay protection and verified-key caching shared by every signed device request.

The checks themselves are ``formats.signed``'s (``check_request``, ``require_unseen``), the
same the rest of the system uses; this module gives them the authority's durable memory, the
``SeenNonce`` table (``SeenNonces``, a ``NonceStore``), and a cache of parsed keys."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, Table, bindparam
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from smartlic.formats.signed import check_request, require_unseen
from smartlic.storage.engine import on_postgresql
from smartlic.storage.models import SeenNonce
from smartlic.storage.prepared import Prepared

KEEP = "k:"  # key ids of nonces that are never pruned (see ``once``)
_KEY_CACHE = 50_000


class RequestGuard:
    """Refuses stale timestamps and reused nonces (per signing key), and caches parsed public
    keys by key id so a busy authority does not re-parse certificates on every request."""

    def __init__(self, window_s: float) -> None:
        self.window = window_s
        self._keys: OrderedDict[str, Ed25519PublicKey] = OrderedDict()
        self._lock = threading.Lock()

    def check(
        self,
        s: Session | Connection,
        key_id: str,
        payload: dict[str, Any],
        now: datetime,
        later: LaterClaim | None = None,
    ) -> None:
        """Fresh ``timestamp`` and first use of ``nonce`` for ``key_id``, else ReplayDetected
        (the nonce claimed now, or by the caller before it commits: ``later``)."""
        check_request(later or SeenNonces(s), _fit(key_id), payload, now, self.window)

    def once(
        self,
        s: Session | Connection,
        key_id: str,
        payload: dict[str, Any],
        now: datetime,
        later: LaterClaim | None = None,
    ) -> None:
        """First use of ``nonce`` for ``key_id`` at any age (a file made offline, a request a
        collector kept while cut off), else ReplayDetected. A stale timestamp cannot retire
        these nonces, so they are kept for good (``KEEP``), not pruned."""
        require_unseen(later or SeenNonces(s), KEEP + _fit(key_id), payload, now)

    def key(self, key_id: str, load: Callable[[], Ed25519PublicKey]) -> Ed25519PublicKey:
        with self._lock:
            key = self._keys.get(key_id)
            if key is not None:
                self._keys.move_to_end(key_id)
                return key
        key = load()
        with self._lock:
            self._keys[key_id] = key
            while len(self._keys) > _KEY_CACHE:
                self._keys.popitem(last=False)
        return key

    def forget(self, key_id: str | None) -> None:
        if key_id is None:
            return
        with self._lock:
            self._keys.pop(key_id, None)


class SeenNonces:
    """The ``SeenNonce`` table as a ``formats.signed.NonceStore``, in session (or connection)
    ``s``."""

    def __init__(self, s: Session | Connection) -> None:
        self.s = s

    def claim(self, scope: str, nonce: str, at: datetime) -> bool:
        """Insert-if-absent in one statement: two requests racing with one nonce cannot both
        see it absent (the primary key decides), on SQLite and PostgreSQL alike."""
        stmt = _CLAIM[on_postgresql(self.s)]
        # nonces older than twice the window are pruned by the job "prune" (services/schedule.py)
        row = {"key_id": scope, "nonce": nonce, "at": at}
        return bool(stmt.run(self.s, row).rows)


class LaterClaim:
    """A ``NonceStore`` for a request whose last write claims its nonce in the same statement
    (PostgreSQL: ``usage`` writes its poll task, events and claim at once, one round trip
    less): it answers "unseen" now and keeps the claim (``row``, the parameters of
    ``CLAIMS``) for that write, which refuses a nonce already taken (``refuse_reused``) before
    the transaction commits, so everything the request wrote rolls back with it. A twin of
    the request racing it waits on the other's claim (the primary key) and is refused when
    that one commits. Until then a replayed request is worked on and rolled back: the claim
    comes last, not first."""

    def __init__(self) -> None:
        self.row: dict[str, Any] | None = None

    def claim(self, scope: str, nonce: str, at: datetime) -> bool:
        self.row = {"key_id": scope, "nonce": nonce, "at": at}
        return True


_NONCES = cast(Table, SeenNonce.__table__)
# The claim of every signed request, by dialect (PostgreSQL?): a Core statement on the table
# (nothing of it lives in the session), built once, run at the driver's cost
# (``storage.prepared``) or inside another statement (``LaterClaim``).
CLAIMS = {
    pg: ins(_NONCES)
    .values(key_id=bindparam("key_id"), nonce=bindparam("nonce"), at=bindparam("at"))
    .on_conflict_do_nothing()
    .returning(_NONCES.c.nonce)
    for pg, ins in ((True, pg_insert), (False, sqlite_insert))
}
_CLAIM = {pg: Prepared(stmt) for pg, stmt in CLAIMS.items()}


def _fit(key_id: str) -> str:
    """Key ids longer than the column (e.g. ``reportusage:apikey:<name>``) are hashed."""
    return key_id if len(key_id) <= 62 else hashlib.sha256(key_id.encode()).hexdigest()[:62]
