"""Replay protection and verified-key caching shared by every signed device request."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from smartlic.errors import ReplayDetected
from smartlic.formats.device_v1 import check_fresh, require_str
from smartlic.storage.models import SeenNonce

KEEP = "k:"  # key ids of nonces that are never pruned (see ``once``)
_KEY_CACHE = 50_000


class RequestGuard:
    """Refuses stale timestamps and reused nonces (per signing key), and caches parsed public
    keys by key id so a busy authority does not re-parse certificates on every request."""

    def __init__(self, window_s: float) -> None:
        self.window = window_s
        self._keys: OrderedDict[str, Ed25519PublicKey] = OrderedDict()
        self._lock = threading.Lock()
        self._calls = 0

    def check(self, s: Session, key_id: str, payload: dict[str, Any], now: datetime) -> None:
        """Fresh ``timestamp`` and first use of ``nonce`` for ``key_id``, else ReplayDetected."""
        check_fresh(payload.get("timestamp"), now, self.window)
        self._remember(s, _fit(key_id), payload, now)

    def once(self, s: Session, key_id: str, payload: dict[str, Any], now: datetime) -> None:
        """First use of ``nonce`` for ``key_id`` at any age (a file made offline, a request a
        collector kept while cut off), else ReplayDetected. A stale timestamp cannot retire
        these nonces, so they are kept for good (``KEEP``), not pruned."""
        self._remember(s, KEEP + _fit(key_id), payload, now)

    def _remember(self, s: Session, key_id: str, payload: dict[str, Any], now: datetime) -> None:
        nonce = require_str(payload, "nonce", max_len=64)
        ins = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
        stmt = (
            ins(SeenNonce)
            .values(key_id=key_id, nonce=nonce, at=now)
            .on_conflict_do_nothing()
            .returning(SeenNonce.nonce)
        )
        if s.execute(stmt).first() is None:
            raise ReplayDetected("this request was already received (nonce reused)")
        # nonces older than twice the window are pruned by the job "prune" (services/schedule.py)

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


def _fit(key_id: str) -> str:
    """Key ids longer than the column (e.g. ``reportusage:apikey:<name>``) are hashed."""
    return key_id if len(key_id) <= 62 else hashlib.sha256(key_id.encode()).hexdigest()[:62]
