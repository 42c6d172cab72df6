"""Real processes on loopback for the collector's end-to-end tests: ``python -m smartlic
authority serve`` (seeded by ``authority demo``) and ``python -m smartlic collector serve``."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from smartlic.clock import SystemClock
from smartlic.crypto import Udi, fingerprint, load_certificate
from smartlic.domain.products import DEFAULT_PROFILE
from tests.devices import PolicyDevice

TAG = next(lic.tag for lic in DEFAULT_PROFILE.licenses if lic.name == "metroipaccess")
DOMAIN, VA = "demo.example", "DEFAULT"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


REST_TOKEN_ENV = "SMARTLIC_TEST_COLLECTOR_REST_TOKEN"


def smartlic(env: dict[str, str], *args: str) -> str:
    """A one-shot command, run in-process (``CliRunner``) with ``env`` as the environment: the
    servers are real processes, the commands people type need not pay a Python start-up each."""
    from typer.testing import CliRunner

    from smartlic.cli import app

    done = CliRunner().invoke(app, list(args), env=env | {"COLUMNS": "250"}, catch_exceptions=False)
    assert done.exit_code == 0, done.output
    return done.output


def wait_until(predicate: Any, timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Proc:
    command: list[str]
    env: dict[str, str]
    health: str
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        self.proc = subprocess.Popen(
            self.command, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_until(self._up, what=" ".join(self.command[3:5]))
        return self

    def _up(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, "the server exited"
        try:
            return httpx.get(self.health, timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs at all."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=20)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)


@dataclass
class Stack:
    """An authority and a collector, each a real process."""

    tmp: Path
    authority_url: str = ""
    api_key: str = ""
    procs: list[Proc] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)  # more SMARTLIC_* for every process

    def env(self, **extra: str) -> dict[str, str]:
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SMARTLIC_AUTHORITY_", "SMARTLIC_COLLECTOR_", "SMARTLIC_LAB"))
        }
        data_dir = {"SMARTLIC_AUTHORITY_DATA_DIR": str(self.tmp / "authority")}
        return {**base, **data_dir, **self.settings, **extra}

    def start_authority(self) -> None:
        env = self.env()
        smartlic(env, "authority", "init")
        smartlic(env, "authority", "demo")
        self.api_key = json.loads((self.tmp / "authority" / "demo.json").read_text())["api_key"]
        port = free_port()
        self.authority_url = f"http://127.0.0.1:{port}"
        cmd = [sys.executable, "-m", "smartlic", "authority", "serve", "--port", str(port)]
        self.procs.append(Proc(cmd, env, f"{self.authority_url}/healthz").start())

    def collector_env(self, name: str = "collector", **settings: str) -> dict[str, str]:
        values = {
            "DATA_DIR": str(self.tmp / name),
            "PI_PORT": str(free_port()),
            "API_PORT": str(free_port()),
            "SYNC_INTERVAL_S": "0.2",
            "PULL_INTERVAL_S": "0.5",
            "BACKOFF_INITIAL_S": "0.1",
            "BACKOFF_MAX_S": "0.5",
            "LOG_LEVEL": "warning",
            **settings,
        }
        return self.env(**{f"SMARTLIC_COLLECTOR_{k}": v for k, v in values.items()})

    def init_collector(self, env: dict[str, str], *, offline: bool = False) -> None:
        args = ["collector", "init", "--smart-account", DOMAIN, "--virtual-account", VA]
        if offline:  # the CA comes as a file, as it would on a disconnected site
            args += ["--offline", "--authority-ca", str(self.ca_path)]
        else:  # fetched from the authority, pinned only if it has the confirmed fingerprint
            args += ["--authority-url", self.authority_url, "--api-key", self.api_key]
            args += ["--authority-ca-fingerprint", self.ca_fingerprint]
        out = smartlic(env, *args)
        env[REST_TOKEN_ENV] = out.split("REST API token", 1)[1].split()[-1]

    @property
    def ca_path(self) -> Path:
        return self.tmp / "authority" / "keys" / "ca.pem"

    @property
    def ca_fingerprint(self) -> str:
        return fingerprint(load_certificate(self.ca_path.read_bytes()))

    def start_collector(self, env: dict[str, str]) -> CollectorProc:
        api = f"http://127.0.0.1:{env['SMARTLIC_COLLECTOR_API_PORT']}"
        pi = f"http://127.0.0.1:{env['SMARTLIC_COLLECTOR_PI_PORT']}/cslu/v1/pi"
        cmd = [sys.executable, "-m", "smartlic", "collector", "serve"]
        proc = Proc(cmd, env, f"{api}/api/v1/health").start()
        self.procs.append(proc)
        return CollectorProc(proc, pi, api, env.get(REST_TOKEN_ENV, ""))

    def authority(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        return httpx.Client(base_url=self.authority_url, headers=headers, timeout=30)

    def in_use(self, tag: str = TAG) -> int:
        with self.authority() as api:
            view = api.get(f"/api/v1/accounts/{DOMAIN}/virtual-accounts/{VA}/licenses").json()
        return int(next(line["in_use"] for line in view["lines"] if line["tag"] == tag))

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()


@dataclass
class CollectorProc:
    proc: Proc
    pi: str
    api: str
    rest_token: str  # printed by ``smartlic collector init``

    def rest(self) -> httpx.Client:
        """A client of the collector's REST API (port 8180), with its token."""
        headers = {"Authorization": f"Bearer {self.rest_token}"}
        return httpx.Client(base_url=f"{self.api}/api/v1", headers=headers, timeout=30)

    def report(self, device: PolicyDevice, *reports: dict[str, Any]) -> dict[str, Any]:
        answer = httpx.post(f"{self.pi}/v2/devices/reportusage", json=device.body(*reports))
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def poll(self, device: PolicyDevice, answer: dict[str, Any]) -> dict[str, Any]:
        body = device.body()
        body["data"] = {k: v for k, v in body["data"].items() if k != "reports"}
        body["data"] |= {"poll_id": answer["poll_id"], "action": answer["action"]}
        result: dict[str, Any] = httpx.post(f"{self.pi}/v2/accounts/poll", json=body).json()
        return result

    def complete(self, device: PolicyDevice, answer: dict[str, Any]) -> dict[str, Any]:
        return dict(
            wait_until(
                lambda: (r := self.poll(device, answer))["status"] == "COMPLETE" and r,
                what="COMPLETE",
            )
        )

    def get(self, path: str) -> Any:
        with self.rest() as rest:
            return rest.get(path).json()


def policy_device(sn: str) -> PolicyDevice:
    return PolicyDevice(Udi("C9300-24T", sn), SystemClock(), hostname=f"sw-{sn.lower()}")
