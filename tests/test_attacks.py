"""Issue 8, finding 2 and "Bounded resources": each memory and slow-client attack against the
real servers (``smartlic authority serve``, ``smartlic collector serve``) on loopback. Each is
refused with a clear reason, changes nothing stored, and leaves the server's peak memory
(``VmHWM``) under 300 MB. The default suite sends modest payloads (a 20 MiB stream must be cut
off early); ``-m slow`` replays them at the sizes of the report (bench/attack.py prints the
figures)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.attacks import (
    MiB,
    connect,
    deep_usage_file,
    gzip_bomb,
    multipart,
    peak_mb,
    read_answer,
    request_head,
    send_body,
    send_chunked,
    send_declared,
    send_endless_head,
    slow_head,
)
from tests.collector.procs import DOMAIN, VA, CollectorProc, Stack

PEAK_LIMIT_MB = 300
READ_TIMEOUT_S = 2
REPORTUSAGE = "/services/api/smart-accounts-and-licensing/v2/devices/reportusage"
USAGE_FILES = f"/api/v1/accounts/{DOMAIN}/virtual-accounts/{VA}/usage-files"
PI_REPORTUSAGE = "/cslu/v1/pi/v2/devices/reportusage"
FLOOD = b"{}," * 21_846  # 64 KiB of "{}," per chunk, without any key


@dataclass
class Servers:
    stack: Stack
    collector: CollectorProc

    @property
    def authority_pid(self) -> int:
        proc = self.stack.procs[0].proc
        assert proc is not None
        return proc.pid

    @property
    def collector_pid(self) -> int:
        assert self.collector.proc.proc is not None
        return self.collector.proc.proc.pid

    def usage_files(self) -> int:
        with self.stack.authority() as api:
            return int(api.get(f"/api/v1/accounts/{DOMAIN}/usage-files").json()["total"])

    def collector_totals(self) -> dict[str, Any]:
        return dict(self.collector.get("/status"))


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    limits = {"READ_TIMEOUT_S": str(READ_TIMEOUT_S)}
    stack = Stack(
        tmp_path_factory.mktemp("attacks"),
        settings={f"SMARTLIC_AUTHORITY_{k}": v for k, v in limits.items()},
    )
    try:
        stack.start_authority()
        env = stack.collector_env(**limits)
        stack.init_collector(env, offline=True)
        yield Servers(stack, stack.start_collector(env))
    finally:
        stack.stop()


def _bounded(pid: int) -> None:
    assert peak_mb(pid) < PEAK_LIMIT_MB


def _vendor_refusal(body: Any, code: str) -> None:
    assert body["status"] == "FAILED" and body["code"] == code and body["message"]


# ---------------------------------------------------------------- the authority


def test_a_chunked_report_flood_without_a_key_is_cut_off(servers: Servers) -> None:
    url = servers.stack.authority_url
    sent, status, body = send_chunked(url, REPORTUSAGE, FLOOD, total=20 * MiB)
    assert status == 413
    _vendor_refusal(body, "payload-too-large")
    assert "8388608 bytes" in body["message"]
    assert sent < 16 * MiB  # refused as the limit passed, not after the whole stream
    _bounded(servers.authority_pid)
    assert httpx.get(f"{url}/healthz").status_code == 200


def test_an_announced_oversized_body_is_refused_before_it_is_sent(servers: Servers) -> None:
    status, body = send_declared(servers.stack.authority_url, REPORTUSAGE, 60 * MiB)
    assert status == 413
    _vendor_refusal(body, "payload-too-large")
    status, body = send_declared(servers.stack.authority_url, "/api/device/v1/register", 2 * MiB)
    assert (status, body["code"]) == (413, "payload-too-large")  # problem+json off vendor paths
    assert body["type"] == "urn:smartlic:problem:payload-too-large"


def test_a_json_body_with_too_many_objects_is_refused(servers: Servers) -> None:
    flood = b'{"data": [' + b"{}," * 300_000 + b"{}]}"  # 900 KB: under the size limit
    status, body = send_body(servers.stack.authority_url, REPORTUSAGE, flood)
    assert status == 413
    _vendor_refusal(body, "json-too-large")
    _bounded(servers.authority_pid)


def test_a_deeply_nested_json_body_is_refused(servers: Servers) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    status, body = send_body(servers.stack.authority_url, REPORTUSAGE, deep)
    assert status == 422
    _vendor_refusal(body, "json-too-deep")


def _upload(servers: Servers, name: str, data: bytes) -> httpx.Response:
    with servers.stack.authority() as api:
        return api.post(USAGE_FILES, files={"file": (name, data, "application/gzip")})


def test_a_gzip_bomb_usage_archive_is_refused(servers: Servers) -> None:
    before = servers.usage_files()
    # one member announced as 200 MiB; one as 12 MiB (under the member limit) but 1000:1
    for expanded, reason in ((200 * MiB, "larger than 16777216 bytes"), (12 * MiB, "100 times")):
        answer = _upload(servers, "UD_SA_bomb.tar.gz", gzip_bomb(expanded))
        assert answer.status_code == 413, answer.text
        problem = answer.json()
        assert problem["code"] == "archive-too-large"
        assert reason in problem["detail"]
    assert servers.usage_files() == before
    _bounded(servers.authority_pid)


def test_a_usage_file_nested_100000_deep_is_refused(servers: Servers) -> None:
    before = servers.usage_files()
    answer = _upload(servers, "UD_deep.xml", deep_usage_file(100_000))
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "json-too-deep"
    assert servers.usage_files() == before


def test_an_oversized_multipart_upload_is_cut_off(servers: Servers) -> None:
    _, media = multipart("big.tar.gz", b"\0" * MiB)
    status, _ = send_declared(
        servers.stack.authority_url,
        USAGE_FILES,
        65 * MiB,
        {"Content-Type": media, "Authorization": f"Bearer {servers.stack.api_key}"},
    )
    assert status == 413


# ---------------------------------------------------------------- the collector


def test_a_chunked_flood_to_the_device_port_is_cut_off(servers: Servers) -> None:
    before = servers.collector_totals()
    pi_base = servers.collector.pi.removesuffix("/cslu/v1/pi")
    sent, status, body = send_chunked(pi_base, PI_REPORTUSAGE, FLOOD, total=20 * MiB)
    assert status == 413
    _vendor_refusal(body, "payload-too-large")
    assert sent < 16 * MiB
    sent, status, body = send_chunked(pi_base, "/cslu/v1/pi/v2/accounts/poll", FLOOD, 4 * MiB)
    assert status == 413 and "1048576 bytes" in body["message"]  # polls are small
    assert servers.collector_totals() == before
    _bounded(servers.collector_pid)


def test_a_gzip_bomb_import_to_the_collector_is_refused(servers: Servers) -> None:
    before = servers.collector_totals()
    with servers.collector.rest() as rest:
        answer = rest.post("/import", content=gzip_bomb(200 * MiB))
    assert answer.status_code == 413, answer.text
    assert answer.json()["code"] == "archive-too-large"
    assert servers.collector_totals() == before
    _bounded(servers.collector_pid)


def test_a_deeply_nested_report_to_the_collector_is_refused(servers: Servers) -> None:
    pi_base = servers.collector.pi.removesuffix("/cslu/v1/pi")
    status, body = send_body(pi_base, PI_REPORTUSAGE, b'{"data":' + b"[" * 100_000 + b"}")
    assert status == 422
    _vendor_refusal(body, "json-too-deep")


# ---------------------------------------------------------------- slow clients


@pytest.mark.parametrize("which", ["authority", "collector 8182", "collector 8180"])
def test_a_trickled_request_head_is_closed(servers: Servers, which: str) -> None:
    url = {
        "authority": servers.stack.authority_url,
        "collector 8182": servers.collector.pi,
        "collector 8180": servers.collector.api,
    }[which]
    held = slow_head(url, interval=0.25, limit=READ_TIMEOUT_S * 4)
    assert held < READ_TIMEOUT_S + 1.5


@pytest.mark.parametrize("which", ["authority", "collector 8182"])
def test_an_endless_request_head_is_refused(servers: Servers, which: str) -> None:
    url = servers.stack.authority_url if which == "authority" else servers.collector.pi
    sent, status, body = send_endless_head(url, total=32 * MiB)
    assert sent < 32 * MiB  # refused at 16 KiB of head (what got through: socket buffers)
    if status:  # else the answer was lost to the reset of the unread rest
        assert (status, body["code"]) == (431, "headers-too-large")
    _bounded(servers.authority_pid if which == "authority" else servers.collector_pid)


def test_a_stalled_body_gets_408(servers: Servers) -> None:
    with connect(servers.stack.authority_url) as sock:
        head = {"Content-Type": "application/json", "Content-Length": "1000"}
        sock.sendall(request_head("POST", REPORTUSAGE, head) + b'{"data": ')
        started = time.monotonic()
        status, body = read_answer(sock, timeout=READ_TIMEOUT_S * 4)
    assert status == 408
    _vendor_refusal(body, "request-timeout")
    assert time.monotonic() - started < READ_TIMEOUT_S + 1.5


# ---------------------------------------------------------------- the report's sizes


@pytest.mark.slow
def test_the_reported_attacks_at_full_size(servers: Servers) -> None:
    """60 MiB of ``{},``, a 1.6 GB bomb to each server, 300 MiB chunked to 8182."""
    url = servers.stack.authority_url
    pi_base = servers.collector.pi.removesuffix("/cslu/v1/pi")
    assert send_chunked(url, REPORTUSAGE, FLOOD, total=60 * MiB)[1] == 413
    assert send_chunked(pi_base, PI_REPORTUSAGE, FLOOD, total=300 * MiB)[1] == 413
    bomb = gzip_bomb(1600 * MiB)
    assert _upload(servers, "UD_SA_bomb.tar.gz", bomb).status_code == 413
    with servers.collector.rest() as rest:
        assert rest.post("/import", content=bomb).status_code == 413
    _bounded(servers.authority_pid)
    _bounded(servers.collector_pid)
