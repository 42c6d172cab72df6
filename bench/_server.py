"""The authority (``python -m smartlic authority serve``, uvicorn inside) in its own process
on loopback, for HTTP benchmarks.

A separate process keeps the benchmark client's CPU (JSON, httpx) off the server's GIL: on a
2-core machine the server gets one core and the client the other.

Usage::

    with AuthorityServer(database_url, key_dir, data_dir) as server:
        httpx.post(f"{server.url}/api/device/v1/register", json=...)
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx
from _proc_cpu import process_cpu


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class AuthorityServer:
    def __init__(
        self, database_url: str, key_dir: Path, data_dir: Path, *, workers: int = 1
    ) -> None:
        self.workers = workers
        data_dir.mkdir(parents=True, exist_ok=True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTLIC_")}
        self.env.update(
            SMARTLIC_AUTHORITY_DATABASE_URL=database_url,
            SMARTLIC_AUTHORITY_KEY_DIR=str(key_dir),
            SMARTLIC_AUTHORITY_DATA_DIR=str(data_dir),
            # Warning hides uvicorn's access log (one INFO line per request): a log line per
            # request is an operator's choice, not the service's cost.
            SMARTLIC_AUTHORITY_LOG_LEVEL="warning",
        )
        self.log_path = data_dir / "server.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        # The shipped command; one worker (like the in-process baseline) unless told otherwise.
        return [
            sys.executable, "-m", "smartlic", "authority", "serve",
            "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers),
        ]  # fmt: skip

    def __enter__(self) -> AuthorityServer:
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.command(), env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        # several workers each import the app: on a busy machine that takes a while
        self._wait_ready(time.monotonic() + 30 * self.workers + 30)
        return self

    def _wait_ready(self, deadline: float) -> None:
        assert self.proc is not None
        with httpx.Client(base_url=self.url, timeout=2) as client:
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    if client.get("/healthz").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"authority server did not start:\n{self.log_path.read_text()}")

    def check_alive(self) -> None:
        """Raise, with the end of the server's log, if the server process has exited."""
        assert self.proc is not None
        if self.proc.poll() is not None:
            log = self.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the authority server exited ({self.proc.returncode}):\n{log}")

    def cpu_seconds(self) -> float:
        """CPU seconds (user + system, all threads) the server has used so far (Linux)."""
        assert self.proc is not None
        cpu = process_cpu(self.proc.pid)
        if cpu is None:
            raise RuntimeError(f"the authority server (pid {self.proc.pid}) is gone")
        return cpu

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
