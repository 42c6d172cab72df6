"""Collector fixtures: a live authority (uvicorn thread, SQLite) with acme.example, and a
collector on its own store whose two apps are served on loopback, sharing the test clock."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from smartlic.clock import ManualClock
from smartlic.collector.app import build, create_apps
from smartlic.collector.prefs import Preferences, load, save
from smartlic.collector.services import CollectorServices
from smartlic.collector.settings import CollectorSettings
from smartlic.crypto import Udi, hash_secret, load_certificate, verify_certificate
from smartlic.domain.enums import Role
from smartlic.formats.envelope import make_nonce, timestamp_ms
from smartlic.formats.signed import open_sealed
from smartlic.formats.slp import read_file
from tests.authority.api.conftest import LiveAuthority, live_authority, serve_in_thread
from tests.authority.api.helpers import DOMAIN, build_world
from tests.devices import PolicyDevice

__all__ = ["live_authority"]

PI = "/cslu/v1/pi"
PID = "C9300-24T"
REST_TOKEN = "slk_collector-rest-token-for-tests"


@pytest.fixture
def db_url(sqlite_template: Path, tmp_path: Path) -> str:
    """Collector tests run the authority on SQLite only (its own suite covers PostgreSQL)."""
    import shutil

    path = tmp_path / "authority.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@dataclass
class Collector:
    services: CollectorServices
    pi: httpx.Client
    api: httpx.Client
    pi_url: str
    api_url: str
    clock: ManualClock
    settings: CollectorSettings
    _stops: list[Any] = field(default_factory=list)

    def prefs(self, **changes: Any) -> Preferences:
        with self.services.status.transaction() as s:
            prefs = load(s)
            prefs.update(changes)
            save(s, prefs)
        return prefs

    def body(self, **data: Any) -> dict[str, Any]:
        return {
            "data": {"timestamp": timestamp_ms(self.clock.now()), "nonce": make_nonce(), **data}
        }

    def report(self, device: PolicyDevice, *reports: dict[str, Any], path: str = PI) -> Any:
        response = self.pi.post(f"{path}/v2/devices/reportusage", json=device.body(*reports))
        assert response.status_code == 200, response.text
        return response.json()

    def poll(self, answer: dict[str, Any], path: str = PI) -> dict[str, Any]:
        body = self.body(poll_id=answer["poll_id"], action=answer.get("action"))
        response = self.pi.post(f"{path}/v2/accounts/poll", json=body)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result


@dataclass
class World:
    live: LiveAuthority
    api: httpx.Client
    collector_key: str

    def device(self, sn: str) -> PolicyDevice:
        return PolicyDevice(Udi(PID, sn), self.live.clock, hostname=f"sw-{sn.lower()}")

    def sections(self, data: bytes) -> dict[str, dict[str, Any]]:
        """Every section of an authority file, verified against the authority CA."""
        out = {}
        for name, env in read_file(data):
            cert = load_certificate(env["certificate"])
            verify_certificate(cert, self.live.keys.ca.certificate, at=self.live.clock.now())
            out[name] = open_sealed(env, cert.public_key())  # type: ignore[arg-type]
        return out

    def ack_of(self, item: dict[str, Any]) -> dict[str, Any]:
        return self.sections(base64.b64decode(item["smart_license"]))["smartLicenseRumAck"]


@pytest.fixture
def world(live_authority: LiveAuthority) -> World:
    api = live_authority.client()
    build_world(api)
    key = live_authority.api_key(Role.SMART_ACCOUNT_ADMIN, DOMAIN)
    return World(live_authority, api, key)


def start_collector(
    tmp_path: Path,
    clock: ManualClock,
    name: str = "collector",
    *,
    authority_ca: str | None = None,
    **settings: Any,
) -> Collector:
    """A collector on loopback; ``authority_ca`` (PEM) is pinned as ``init`` would."""
    conf = CollectorSettings(data_dir=tmp_path / name, **settings)
    engine, services = build(conf, clock)
    pi_app, api_app = create_apps(conf, services=services)
    with services.status.transaction() as s:
        prefs = load(s)
        prefs.rest_token_hash = hash_secret(REST_TOKEN)
        prefs.authority_ca_pem = authority_ca
        save(s, prefs)
    pi_server, pi_thread, pi_url = serve_in_thread(pi_app)
    api_server, api_thread, api_url = serve_in_thread(api_app)
    c = Collector(
        services,
        httpx.Client(base_url=pi_url, timeout=30),
        httpx.Client(
            base_url=api_url, timeout=30, headers={"Authorization": f"Bearer {REST_TOKEN}"}
        ),
        pi_url,
        api_url,
        clock,
        conf,
    )
    c._stops = [(pi_server, pi_thread), (api_server, api_thread), engine]
    return c


def stop_collector(c: Collector) -> None:
    c.pi.close()
    c.api.close()
    for server, thread in c._stops[:2]:
        server.should_exit = True
        thread.join(timeout=10)
    c._stops[2].dispose()


@pytest.fixture
def collector(world: World, tmp_path: Path) -> Iterator[Collector]:
    c = start_collector(tmp_path, world.live.clock, authority_ca=world.live.keys.ca_pem)
    c.prefs(
        connectivity=True,
        authority_url=world.live.url,
        api_key=world.collector_key,
        smart_account=DOMAIN,
        virtual_account="Prod",
    )
    yield c
    stop_collector(c)
