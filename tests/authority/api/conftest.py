"""A live authority for API tests: the real app served by uvicorn in a thread on 127.0.0.1,
over the real database fixtures (``services``, ``clock``, ``keys`` from tests/conftest.py)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from smartlic.authority.app import create_app
from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.services import Services
from smartlic.authority.settings import AuthoritySettings
from smartlic.clock import ManualClock
from smartlic.domain.enums import Role


@pytest.fixture(autouse=True)
def _no_authority_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's SMARTLIC_AUTHORITY_* / lab clock must not leak into these tests."""
    for name in list(os.environ):
        if name.startswith("SMARTLIC_AUTHORITY_") or name == "SMARTLIC_LAB_CLOCK":
            monkeypatch.delenv(name)


@dataclass
class LiveAuthority:
    url: str
    services: Services
    clock: ManualClock
    keys: AuthorityKeys
    admin_key: str
    _clients: list[httpx.Client] = field(default_factory=list)

    def client(self, api_key: str | None = None, *, auth: bool = True) -> httpx.Client:
        """An HTTP client; authenticated with ``api_key`` (default: the admin key)."""
        headers = {"Authorization": f"Bearer {api_key or self.admin_key}"} if auth else {}
        client = httpx.Client(base_url=self.url, headers=headers, timeout=30)
        self._clients.append(client)
        return client

    def api_key(self, role: Role, smart_account: str | None) -> str:
        created = self.services.api_keys.create_api_key(
            name=f"{role.value}-{smart_account}", role=role, smart_account=smart_account, actor="t"
        )
        return created.text

    def close(self) -> None:
        for client in self._clients:
            client.close()


def serve_in_thread(app: Any) -> tuple[uvicorn.Server, threading.Thread, str]:
    """Start uvicorn on a fresh loopback port and wait until it accepts requests."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # proxy_headers off, as `smartlic authority serve` runs it: the app alone decides whom
    # to believe about X-Forwarded-For/-Proto (the trusted_proxies setting)
    config = uvicorn.Config(app, log_level="warning", lifespan="on", proxy_headers=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the authority did not start")
        time.sleep(0.01)
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.fixture
def live_authority(
    services: Services, clock: ManualClock, keys: AuthorityKeys, tmp_path: Path
) -> Iterator[LiveAuthority]:
    settings = AuthoritySettings(data_dir=tmp_path / "authority")
    app = create_app(settings, clock=clock, services=services)
    server, thread, url = serve_in_thread(app)
    admin = services.api_keys.create_api_key(
        name="test-admin", role=Role.ADMIN, smart_account=None, actor="test"
    )
    live = LiveAuthority(url, services, clock, keys, admin.text)
    try:
        yield live
    finally:
        live.close()
        server.should_exit = True
        thread.join(timeout=10)
