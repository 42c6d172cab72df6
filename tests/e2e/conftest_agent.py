"""A real authority for the agent's end-to-end tests, and a way to switch it off and on.

The authority is the real FastAPI app over the real database fixtures of tests/conftest.py
(``services``, ``clock``, ``keys``; SQLite and, when reachable, PostgreSQL), served by uvicorn
in a thread on 127.0.0.1. ``stop()`` shuts the server down and ``start()`` serves again on the
same port, so a device sees a genuinely unreachable authority in between (connection refused),
not a simulated one. The ``ManualClock`` is shared by the authority and every device.

Test modules get the ``authority`` fixture with
``from tests.e2e.conftest_agent import authority_fixture  # noqa: F401``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from smartlic.agent import LicenseManager, SmartTransport, Timers
from smartlic.authority.app import create_app
from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.services import Services
from smartlic.authority.services.scope import SYSTEM, system
from smartlic.authority.settings import AuthoritySettings
from smartlic.clock import ManualClock
from smartlic.crypto import Udi
from smartlic.domain.enums import HoldingKind
from smartlic.domain.products import DEFAULT_PROFILE, GATEWAY_PROFILE

DOMAIN = "example.com"
ATM = DEFAULT_PROFILE.license("atm")
GNSS = DEFAULT_PROFILE.license("gnss")
IPSEC = DEFAULT_PROFILE.license("ipsec")
CPF = GATEWAY_PROFILE.license("LORAWAN_CPF")  # a subscription license
POLICY_CATALOGUE = {s.tag: s for s in (*DEFAULT_PROFILE.licenses, *GATEWAY_PROFILE.licenses)}
START_TIMEOUT_S = 20.0


class ServedApp:
    """uvicorn serving ``app`` on a fixed loopback port, restartable."""

    def __init__(self, app: Any, **tls: Any) -> None:
        self.app = app
        self.tls = tls  # ssl_certfile=..., ssl_keyfile=... to serve HTTPS
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        probe.bind(("127.0.0.1", 0))
        self.port = int(probe.getsockname()[1])
        probe.close()
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        server = uvicorn.Server(
            uvicorn.Config(self.app, log_level="warning", lifespan="off", **self.tls)
        )
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the authority did not start")
            time.sleep(0.01)
        self._server, self._thread = server, thread

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None


@dataclass
class Authority:
    services: Services
    clock: ManualClock
    keys: AuthorityKeys
    served: ServedApp
    tmp_path: Path
    managers: list[LicenseManager] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.served.url

    def token(self, va: str = "DEFAULT", **kwargs: Any) -> str:
        return self.services.tokens.create_token(DOMAIN, va, scope=system("test"), **kwargs).text

    def buy(self, tag: str, quantity: int, va: str = "DEFAULT") -> None:
        self.services.licenses.add_holding(
            DOMAIN, va, tag=tag, quantity=quantity, kind=HoldingKind.PERPETUAL, scope=system("test")
        )

    def in_use(self, tag: str, va: str = "DEFAULT") -> int:
        lines = self.services.licenses.compliance(DOMAIN, va, scope=SYSTEM).lines
        return next((line.in_use for line in lines if line.tag == tag), 0)

    def instances(self) -> list[Any]:
        return self.services.instances.list_instances(DOMAIN, scope=SYSTEM).items

    def device(
        self, sn: str = "FOX0001", *, url: str | None = None, **kwargs: Any
    ) -> LicenseManager:
        """A product instance pointed at this authority (state in tmp_path/<sn>)."""
        args: dict[str, Any] = {
            "udi": Udi("ASR-903", sn),
            "hostname": f"router-{sn.lower()}",
            "state_dir": self.tmp_path / "devices" / sn,
            "transport": SmartTransport(url or self.url),
            "clock": self.clock,
            "timers": Timers(),
            "mode": "classic",  # classic tests; policy-mode devices: ``policy_device``
        }
        args.update(kwargs)
        manager = LicenseManager(**args)
        self.managers.append(manager)
        return manager

    def policy_device(self, sn: str = "FOC0001", **kwargs: Any) -> LicenseManager:
        """A device in policy mode, provisioned with this authority's CA."""
        args: dict[str, Any] = {
            "udi": Udi("IXM-LPWA-900-16-K9", sn),
            "mode": "policy",
            "authority_ca": self.keys.ca_pem,
            "catalogue": POLICY_CATALOGUE,
        }
        return self.device(sn, **(args | kwargs))


def _world(services: Services) -> None:
    services.accounts.create_smart_account(name="Example Corp", domain=DOMAIN, scope=system("test"))
    for spec in (ATM, GNSS, IPSEC, CPF):
        services.licenses.define_license(
            tag=spec.tag,
            name=spec.name,
            display_name=spec.display_name,
            enforcement=spec.enforcement,
            scope=system("test"),
        )


def serve(services: Services, clock: ManualClock, tmp_path: Path, **tls: Any) -> ServedApp:
    settings = AuthoritySettings(data_dir=tmp_path / "authority")
    served = ServedApp(create_app(settings, clock=clock, services=services), **tls)
    served.start()
    return served


def start_authority(
    services: Services, clock: ManualClock, keys: AuthorityKeys, tmp_path: Path
) -> Authority:
    """Seed the example account, serve the authority; the caller calls ``stop_authority``."""
    _world(services)
    return Authority(services, clock, keys, serve(services, clock, tmp_path), tmp_path)


def stop_authority(live: Authority) -> None:
    for manager in live.managers:
        manager.close()
    live.served.stop()


@pytest.fixture(name="authority")
def authority_fixture(
    services: Services, clock: ManualClock, keys: AuthorityKeys, tmp_path: Path
) -> Iterator[Authority]:
    """The live authority; a test module imports ``authority_fixture`` to get ``authority``."""
    live = start_authority(services, clock, keys, tmp_path)
    try:
        yield live
    finally:
        stop_authority(live)


def tick_daily(manager: LicenseManager, clock: ManualClock, days: int) -> None:
    """Move ``days`` forward one day at a time, ticking after each (a device's daily job)."""
    for _ in range(days):
        clock.advance(days=1)
        manager.tick()


Step = Callable[[], None]
