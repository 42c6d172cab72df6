"""The resolved principals of live OAuth2 access tokens, kept for a short while so that a
request does not look its bearer token up in the database every time.

Revocation is honoured at once. Whatever can change what a cached principal may do (an access
token or API client revoked, a virtual account renamed or deleted) calls ``invalidate()``,
which empties this process's cache and rewrites the *stamp file* (in the key directory, which
every server process and the CLI of one authority share). Every lookup compares the stamp's
identity (inode, size, mtime) with the one it last saw and empties the cache when it changed,
so a revocation made by the CLI or by another worker is seen by the next request.

An entry is stored only if no invalidation happened while its principal was being read from
the database (``generation()`` before the read, ``put(..., generation)`` after), so a
revocation racing a lookup can never leave a stale entry behind.

Usage::

    cache = PrincipalCache(clock, stamp=key_dir / "revoked.stamp")
    gen = cache.generation()
    principal = cache.get(token_hash) or read_from_db(...)
    cache.put(token_hash, principal, expires_at, gen)
    cache.invalidate()                       # on any revocation
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections import OrderedDict
from datetime import datetime, timedelta
from pathlib import Path

from smartlic.authority.services.scope import Principal
from smartlic.clock import Clock

__all__ = ["MAX_ENTRIES", "TTL", "PrincipalCache"]

_log = logging.getLogger(__name__)

MAX_ENTRIES = 10_000
TTL = timedelta(seconds=60)  # an entry never outlives its token either

_Stamp = tuple[int, int, int] | None


class PrincipalCache:
    def __init__(self, clock: Clock, *, stamp: Path | None = None, size: int = MAX_ENTRIES):
        self.clock = clock
        self.stamp = stamp
        self.size = size
        self._entries: OrderedDict[str, tuple[Principal, datetime]] = OrderedDict()
        self._lock = threading.Lock()
        self._generation = 0
        self._seen: _Stamp = self._read_stamp()

    def generation(self) -> int:
        """The invalidation count, after catching up with the stamp file."""
        with self._lock:
            self._catch_up()
            return self._generation

    def get(self, key: str) -> Principal | None:
        with self._lock:
            self._catch_up()
            entry = self._entries.get(key)
            if entry is None:
                return None
            if self.clock.now() >= entry[1]:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key: str, principal: Principal, expires_at: datetime, generation: int) -> None:
        """Keep ``principal`` until ``expires_at`` (at most ``TTL``), unless an invalidation
        happened since ``generation`` was read."""
        with self._lock:
            self._catch_up()
            if generation != self._generation:
                return
            self._entries[key] = (principal, min(expires_at, self.clock.now() + TTL))
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def invalidate(self) -> None:
        """Forget every entry here and tell the other processes (the stamp file)."""
        with self._lock:
            self._clear()
            if self.stamp is not None:
                self._rewrite_stamp()

    def _rewrite_stamp(self) -> None:
        assert self.stamp is not None
        tmp = self.stamp.with_name(f".{self.stamp.name}.{secrets.token_hex(4)}")
        try:
            tmp.write_text(secrets.token_hex(8))
            os.replace(tmp, self.stamp)  # a new inode: seen as a change even in one tick
        except OSError:  # the revocation is committed; say loudly that others may lag
            _log.exception("could not rewrite %s: other processes keep cached tokens", self.stamp)
            tmp.unlink(missing_ok=True)
        self._seen = self._read_stamp()

    def _catch_up(self) -> None:
        now = self._read_stamp()
        if now != self._seen:
            self._seen = now
            self._clear()

    def _clear(self) -> None:
        self._entries.clear()
        self._generation += 1

    def _read_stamp(self) -> _Stamp:
        if self.stamp is None:
            return None
        try:
            st = os.stat(self.stamp)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)
