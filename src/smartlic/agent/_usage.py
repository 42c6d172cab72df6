"""Small building blocks of the manager: check-out handles, the lock-free answer tables of the
fast path, and the background ticker."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from smartlic.errors import InvalidInput
from smartlic.formats.device_v1 import MAX_COUNT, MAX_TAG_LEN

__all__ = ["Answers", "Handle", "Ticker", "check_request"]

log = logging.getLogger("smartlic.agent")


@dataclass(frozen=True)
class Handle:
    """One check-out of ``count`` units of the license ``tag``; give it back to ``release``."""

    id: int
    tag: str
    count: int


def check_request(tag: str, count: int) -> None:
    if not isinstance(tag, str) or not tag or len(tag) > MAX_TAG_LEN:
        raise InvalidInput(f"an entitlement tag is a string of 1-{MAX_TAG_LEN} characters")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise InvalidInput(f"count must be an integer 1-{MAX_COUNT}")


class Answers(dict[str, Any]):
    """Precomputed per-tag answers, updated in place, read without a lock.

    Readers are lock-free: every update is one ``__setitem__`` or ``pop`` per tag (atomic under
    the GIL), and answers for different tags are independent, so a reader sees each tag's old
    or new answer, never a broken mapping. It is never cleared: a reader racing a ``clear()``
    would see a license in use as missing. A tag without an answer gets ``default``.
    """

    def __init__(self, default: Any) -> None:
        super().__init__()
        self._default = default

    def __missing__(self, tag: str) -> Any:
        return self._default

    def replace_with(self, answers: Mapping[str, Any]) -> None:
        for tag, answer in answers.items():
            if tag not in self or self[tag] != answer:
                self[tag] = answer
        for tag in [t for t in self if t not in answers]:
            self.pop(tag, None)


class Ticker(threading.Thread):
    """Calls ``tick`` periodically; a failing tick is logged and the loop goes on."""

    def __init__(self, tick: Callable[[], None], interval_s: float) -> None:
        super().__init__(name="smartlic-agent-ticker", daemon=True)
        self._tick, self._interval = tick, interval_s
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                self._tick()
            except Exception:
                log.exception("license manager tick failed")

    def stop(self) -> None:
        self._stopped.set()
        if self is not threading.current_thread():
            self.join(timeout=5)
