"""Background work of ``serve``: forwarding rounds and collections on a schedule, with
exponential backoff while the authority (or a device) fails.

A thread, not an asyncio task, because the services are synchronous (SQLAlchemy, httpx); the
HTTP servers keep answering devices while a round is slow.
"""

from __future__ import annotations

import logging
import threading
import time

from smartlic.collector.services import CollectorServices
from smartlic.collector.settings import CollectorSettings
from smartlic.errors import SmartlicError

__all__ = ["Backoff", "Runner"]

log = logging.getLogger("smartlic.collector")


class Backoff:
    """``initial * 2**(failures-1)`` up to ``maximum``; ``interval`` when all is well."""

    def __init__(self, interval: float, initial: float, maximum: float) -> None:
        self.interval, self.initial, self.maximum = interval, initial, maximum
        self.failures = 0

    def success(self) -> float:
        self.failures = 0
        return self.interval

    def failure(self) -> float:
        self.failures += 1
        return float(min(self.maximum, self.initial * 2 ** (self.failures - 1)))


class Runner:
    def __init__(self, services: CollectorServices, settings: CollectorSettings) -> None:
        self.services = services
        self.settings = settings
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, name="collector-runner", daemon=True)
        s = settings
        self.sync_backoff = Backoff(s.sync_interval_s, s.backoff_initial_s, s.backoff_max_s)
        self.next_satellite = 0.0

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=30)

    def run(self) -> None:
        next_sync = next_pull = time.monotonic()
        while not self.stop.is_set():
            now = time.monotonic()
            if now >= next_sync:
                next_sync = now + self._sync_round()
            if now >= next_pull:
                next_pull = now + self._pull_round()
            self.stop.wait(max(0.0, min(next_sync, next_pull) - time.monotonic()))

    def _sync_round(self) -> float:
        if not self.services.forwarder.prefs().connectivity:
            return self.settings.sync_interval_s
        try:
            self.services.forwarder.sync()
            self._satellite_round()
            return self.sync_backoff.success()
        except SmartlicError as exc:
            delay = self.sync_backoff.failure()
            log.warning("sync failed (%s); retrying in %.1f s", exc.detail, delay)
            return delay
        except Exception:  # keep serving devices whatever happens upstream
            log.exception("sync failed unexpectedly")
            return self.sync_backoff.failure()

    def _pull_round(self) -> float:
        try:
            self.services.puller.pull_all()
        except Exception:
            log.exception("collection failed unexpectedly")
        return self.settings.pull_interval_s

    def _satellite_round(self) -> None:
        """The satellite's scheduled synchronisation (satellite.py), when one is set up."""
        from smartlic.collector.satellite import Satellite, sync_online

        if not self.services.forwarder.prefs().satellite:
            return
        if time.monotonic() < self.next_satellite:
            return
        sat = Satellite(self.settings.satellite_dir, self.services.status.clock)
        try:
            if sat.exists():
                sync_online(sat, self.services)
        finally:
            sat.close()
        self.next_satellite = time.monotonic() + self.settings.satellite_sync_interval_s
