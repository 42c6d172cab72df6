"""Issue 2, "done when": two authority processes on one database register concurrently with a
token limited to N uses, and exactly N registrations succeed.

Two real ``python -m smartlic authority serve`` processes listen on loopback, sharing one
database URL and one key directory through ``SMARTLIC_AUTHORITY_*`` variables. The token is
created through the services on the same database; then 20 devices with distinct UDIs register
at once, split across both servers. The race being tested is "check uses, then increment" in
two processes: ``consume_token`` closes it with one conditional UPDATE (PostgreSQL row lock;
SQLite BEGIN IMMEDIATE + busy_timeout).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, create_engine, text

from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.services import build_services
from smartlic.authority.services.scope import SYSTEM, system
from smartlic.clock import SystemClock
from smartlic.crypto import Udi
from smartlic.formats.signed import open_sealed
from smartlic.storage import make_engine, upgrade
from tests.devices import TestDevice

pytestmark = pytest.mark.e2e

MAX_USES = 5
DEVICES = 20
DOMAIN = "mp.example"
REGISTER = "/api/device/v1/register"
START_TIMEOUT_S = 120.0  # a loaded 2-core CI machine: importing the app alone took 28 s once


@dataclass
class World:
    url: str  # the shared database
    key_dir: Path
    keys: AuthorityKeys


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_env(world: World, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTLIC_")}
    env.update(
        SMARTLIC_AUTHORITY_DATABASE_URL=world.url,
        SMARTLIC_AUTHORITY_KEY_DIR=str(world.key_dir),
        SMARTLIC_AUTHORITY_DATA_DIR=str(data_dir),
        SMARTLIC_AUTHORITY_LOG_LEVEL="warning",
    )
    return env


class AuthorityProcess:
    """``python -m smartlic authority serve`` on a free loopback port."""

    def __init__(self, world: World, workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / "server.log"
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [
            sys.executable, "-m", "smartlic", "authority", "serve",
            "--host", "127.0.0.1", "--port", str(self.port),
        ]  # fmt: skip
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                cmd, env=_server_env(world, workdir), stdout=log, stderr=subprocess.STDOUT
            )

    def wait_ready(self, deadline: float) -> bool:
        """True once ``/healthz`` answers; False if the process died (e.g. port taken)."""
        with httpx.Client(base_url=self.url, timeout=2) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    return False
                try:
                    if client.get("/healthz").status_code == 200:
                        return True
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        raise RuntimeError(f"authority on {self.url} not ready:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def _start_servers(world: World, tmp_path: Path, count: int) -> list[AuthorityProcess]:
    """Start ``count`` servers at once; one whose port was taken meanwhile is restarted."""
    servers = [AuthorityProcess(world, tmp_path / f"server{i}") for i in range(count)]
    deadline = time.monotonic() + START_TIMEOUT_S
    for i in range(count):
        for attempt in range(3):
            if servers[i].wait_ready(deadline):
                break
            if attempt == 2:
                raise RuntimeError(f"authority process exited:\n{servers[i].log()}")
            servers[i] = AuthorityProcess(world, tmp_path / f"server{i}-retry{attempt}")
    return servers


def _admin(server_url: str) -> Engine:
    return create_engine(make_engine(server_url).url, isolation_level="AUTOCOMMIT")


@contextmanager
def _pg_database(server_url: str, worker: str) -> Iterator[str]:
    """A database of our own, dropped afterwards. The pid keeps two pytest sessions on one
    server (two developers, or CI jobs) from dropping each other's database."""
    name = f"smartlic_mp_{worker}_{os.getpid()}"
    admin = _admin(server_url)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def _sqlite_database(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'shared.sqlite3'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def world(request: pytest.FixtureRequest, tmp_path: Path, worker_id: str) -> Iterator[World]:
    database: AbstractContextManager[str]
    if request.param == "sqlite":
        database = _sqlite_database(tmp_path)
    else:
        database = _pg_database(request.getfixturevalue("pg_server_url"), worker_id)
    with database as url:
        upgrade(url)
        # Created before the servers start: two processes racing load_or_create() would each
        # write their own CA into the shared directory.
        keys = AuthorityKeys.create(tmp_path / "keys", SystemClock().now())
        yield World(url, tmp_path / "keys", keys)


@pytest.fixture
def servers(world: World, tmp_path: Path) -> Iterator[list[AuthorityProcess]]:
    started = _start_servers(world, tmp_path, 2)
    try:
        yield started
    finally:
        for server in started:
            server.stop()


def _register_all(urls: list[str], requests: list[dict[str, Any]]) -> list[httpx.Response]:
    """POST every request at once (a barrier releases them together), alternating servers."""
    barrier = threading.Barrier(len(requests))

    def post(i: int) -> httpx.Response:
        with httpx.Client(base_url=urls[i % len(urls)], timeout=30) as client:
            client.get("/healthz")  # connect first, so the barrier releases only the POSTs
            barrier.wait(timeout=30)
            return client.post(REGISTER, json=requests[i])

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(post, range(len(requests))))


def test_token_limited_to_n_uses_admits_exactly_n_across_two_processes(
    world: World, servers: list[AuthorityProcess]
) -> None:
    clock = SystemClock()
    engine = make_engine(world.url)
    try:
        svc = build_services(engine, clock, world.keys)
        svc.accounts.create_smart_account(name="MP", domain=DOMAIN, scope=system("test"))
        svc.accounts.create_virtual_account(DOMAIN, name="Race", scope=system("test"))
        token = svc.tokens.create_token(
            DOMAIN, "Race", max_uses=MAX_USES, scope=system("test")
        ).text
        devices = [TestDevice(Udi("C9300", f"MP{n:04d}"), clock) for n in range(DEVICES)]
        responses = _register_all(
            [s.url for s in servers], [d.register_request(token) for d in devices]
        )

        accepted = [r for r in responses if r.status_code == 200]
        refused = [r for r in responses if r.status_code != 200]
        assert len(accepted) == MAX_USES, [r.text for r in responses]
        assert {(r.status_code, r.json()["code"]) for r in refused} == {(403, "token-used-up")}
        signer = world.keys.signer.certificate.public_key()
        for r in accepted:
            assert open_sealed(r.json(), signer)["type"] == "registration"  # type: ignore[arg-type]
        assert [t.uses for t in svc.tokens.list_tokens(DOMAIN, "Race", scope=SYSTEM)] == [MAX_USES]
        assert svc.instances.list_instances(DOMAIN, "Race", scope=SYSTEM).total == MAX_USES
    finally:
        engine.dispose()
