"""HTTPS load from client processes of their own, so that the clients' TLS and HTTP work runs
beside the server instead of in series with it (and outside the benchmark's own GIL).

Each client is ``python _https_clients.py PORT CAFILE``: a keep-alive ``http.client``
connection (the lightest client of the standard library) trusting the authority's CA. It reads
requests and commands as JSON lines on stdin and answers each command with one line::

    {"requests": {"token": ["POST", "/as/token.oauth2", "<body>", {"Content-Type": ...}]}}
    {"run": "token", "start": <time.time()>, "stop": <time.time()>}   -> {"calls": 123}

A run sends one untimed warm-up request, waits for ``start``, then repeats the request until
``stop``. An answer other than 200 ends the client with the status on stderr.
"""

from __future__ import annotations

import http.client
import json
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

Request = tuple[str, str, str, dict[str, str]]


class HttpsClients:
    """``count`` client processes against ``127.0.0.1:port``; :meth:`run` times one request."""

    def __init__(self, count: int, port: int, cafile: Path) -> None:
        cmd = [sys.executable, str(Path(__file__)), str(port), str(cafile)]
        self.procs = [
            subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            for _ in range(count)
        ]

    def _send(self, message: dict[str, Any]) -> None:
        for p in self.procs:
            assert p.stdin is not None
            p.stdin.write(json.dumps(message) + "\n")
            p.stdin.flush()

    def requests(self, requests: dict[str, Request]) -> None:
        self._send({"requests": requests})

    def run(self, name: str, seconds: float, cpu: Any) -> tuple[float, float]:
        """Calls per second of all clients together, and CPU ms per call of ``cpu()``'s
        process (the server) over the same window."""
        start = time.time() + 0.5  # every client warmed up and waiting
        stop = start + seconds
        self._send({"run": name, "start": start, "stop": stop})
        time.sleep(max(0.0, start - time.time()))
        cpu_start = cpu()
        time.sleep(max(0.0, stop - time.time()))
        cpu_end = cpu()
        calls = 0
        for p in self.procs:
            assert p.stdout is not None
            line = p.stdout.readline()
            if not line:
                raise RuntimeError(f"an HTTPS client stopped (exit {p.wait()})")
            calls += json.loads(line)["calls"]
        return calls / seconds, 1000 * (cpu_end - cpu_start) / max(calls, 1)

    def close(self) -> None:
        for p in self.procs:
            if p.stdin is not None:
                p.stdin.close()
        for p in self.procs:
            p.wait(timeout=30)

    def __enter__(self) -> HttpsClients:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _client(port: int, cafile: str) -> int:
    context = ssl.create_default_context(cafile=cafile)
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)
    requests: dict[str, Request] = {}

    def once(request: Request) -> None:
        method, path, body, headers = request
        conn.request(method, path, body=body.encode() or None, headers=headers)
        answer = conn.getresponse()
        answer.read()
        if answer.status != 200:
            raise SystemExit(f"{method} {path}: HTTP {answer.status}")

    for line in sys.stdin:
        message = json.loads(line)
        if "requests" in message:
            requests = {k: tuple(v) for k, v in message["requests"].items()}  # type: ignore[misc]
            continue
        request = requests[message["run"]]
        once(request)
        time.sleep(max(0.0, message["start"] - time.time()))
        calls, stop = 0, message["stop"]
        while time.time() < stop:
            once(request)
            calls += 1
        print(json.dumps({"calls": calls}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(_client(int(sys.argv[1]), sys.argv[2]))
