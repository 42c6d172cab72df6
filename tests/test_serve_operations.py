"""``smartlic authority serve`` as operators run it: several workers, JSON logs, one /metrics."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from uvicorn.logging import AccessFormatter as UvicornAccessFormatter

from smartlic.web.logs import AccessFormatter, log_config
from tests.authority.api.test_operations import samples
from tests.test_cli import _free_port


def test_two_workers_json_logs_and_metrics_summed_over_workers(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SMARTLIC_")},
        "SMARTLIC_AUTHORITY_DATA_DIR": str(tmp_path / "authority"),
        "SMARTLIC_AUTHORITY_LOG_FORMAT": "json",
        "PROMETHEUS_MULTIPROC_DIR": "",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR")
    smartlic = [sys.executable, "-m", "smartlic", "authority"]
    subprocess.run([*smartlic, "init"], env=env, check=True, capture_output=True)
    port = _free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [*smartlic, "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, "the server exited"
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        for _ in range(20):  # new connections: the two workers share them
            assert httpx.get(f"{url}/api/v1/accounts").status_code == 401
        got = samples(httpx.get(f"{url}/metrics").text)
        labels = {"app": "authority", "method": "GET", "route": "/api/v1/accounts",
                  "status": "401"}  # fmt: skip
        assert got[("smartlic_http_requests_total", frozenset(labels.items()))] == 20
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    lines = [line for line in log_path.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert {"time", "level", "logger", "message"} <= set(records[0])
    assert any("GET /api/v1/accounts" in r["message"] for r in records)
    assert (tmp_path / "authority/metrics").is_dir()


def test_serve_tls_issues_a_certificate_the_authority_ca_vouches_for(tmp_path: Path) -> None:
    import ssl

    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SMARTLIC_")},
        "SMARTLIC_AUTHORITY_DATA_DIR": str(tmp_path / "authority"),
    }
    smartlic = [sys.executable, "-m", "smartlic", "authority"]
    subprocess.run([*smartlic, "init"], env=env, check=True, capture_output=True)
    bad = subprocess.run([*smartlic, "serve", "--tls-cert", str(tmp_path / "x.pem")], env=env,
                         capture_output=True, text=True)  # fmt: skip
    assert bad.returncode == 1 and "--tls-cert and --tls-key go together" in bad.stderr
    port = _free_port()
    with (tmp_path / "serve.log").open("w") as log:
        proc = subprocess.Popen(
            [*smartlic, "serve", "--port", str(port), "--tls", "--tls-hostname", "localhost"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    trust = ssl.create_default_context(cafile=str(tmp_path / "authority/keys/ca.pem"))
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                answer = httpx.get(f"https://localhost:{port}/healthz", verify=trust)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert answer.status_code == 200
        with pytest.raises(httpx.ConnectError):  # not a name the certificate covers
            httpx.get(f"https://127.0.0.1:{port}/healthz", verify=trust)
        with pytest.raises(httpx.ConnectError):  # nor trusted without the authority's CA
            httpx.get(f"https://localhost:{port}/healthz")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert (tmp_path / "authority/tls/server.key").stat().st_mode & 0o077 == 0
    assert "HTTPS for localhost" in (tmp_path / "serve.log").read_text()


def test_text_access_lines_are_uvicorns_made_cheaper() -> None:
    """The text access log's formatter is ours (no record copies) and writes uvicorn's line."""
    spec = log_config("text")["formatters"]["access"]
    assert spec["()"] == "smartlic.web.logs.AccessFormatter"
    ours = AccessFormatter(spec["fmt"], use_colors=False)
    theirs = UvicornAccessFormatter(spec["fmt"], use_colors=False)
    for status, path in ((200, "/healthz"), (404, "/x?a=1"), (599, "/api/device/v1/register")):
        args = ("127.0.0.1:5000", "POST", path, "1.1", status)
        record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
                                   args, None)  # fmt: skip
        assert ours.format(record) == theirs.format(record)
    assert ours.format(record).startswith('INFO:     127.0.0.1:5000 - "POST /api/device')
    assert log_config("json")["formatters"]["access"]["()"].endswith("JsonFormatter")
