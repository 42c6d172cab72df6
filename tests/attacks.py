"""The memory and slow-client attacks of issue 8 (finding 2), as a client on loopback sends
them: raw sockets, so that a body can be chunked, announced but not sent, or trickled, and the
answer read as soon as the server gives it. Shared by tests/test_attacks.py and
bench/attack.py (the full-size replay).

Usage::

    sent, status, body = send_chunked(url, "/path", chunk=b"{}," * 10_000, total=20 << 20)
    status, body = send_declared(url, "/path", length=60 << 20)
    peak_mb(pid), rss_mb(pid)
"""

from __future__ import annotations

import io
import json
import select
import socket
import tarfile
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

MiB = 1024 * 1024


def _status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise LookupError(field)


def peak_mb(pid: int) -> float:
    """The process's peak resident memory so far (``VmHWM``), in MiB."""
    return _status_mb(pid, "VmHWM")


def rss_mb(pid: int) -> float:
    return _status_mb(pid, "VmRSS")


def connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=60)
    return sock


def request_head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_answer(sock: socket.socket, timeout: float = 60.0) -> tuple[int, Any]:
    """Status and JSON body of the answer (0, None when the connection closed without one)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data or len(data) < _wanted(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    if b"\r\n\r\n" not in data:
        return 0, None
    head, body = data.split(b"\r\n\r\n", 1)
    status = int(head.split()[1])
    try:
        return status, json.loads(body[: _wanted(data) - len(head) - 4] or b"null")
    except ValueError:
        return status, body.decode(errors="replace")


def _wanted(data: bytes) -> int:
    head = data.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(head) + 4 + int(value)
    return 1 << 62  # read to the end


def send_chunked(
    url: str, path: str, chunk: bytes, total: int, headers: dict[str, str] | None = None
) -> tuple[int, int, Any]:
    """Stream ``total`` bytes of ``chunk`` repeated, chunked (no Content-Length), stopping as
    soon as the server answers. Returns (bytes sent, status, JSON body)."""
    sock = connect(url)
    base = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    sock.sendall(request_head("POST", path, base | (headers or {})))
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    try:
        while sent < total:
            if select.select([sock], [], [], 0)[0]:
                break  # the server has answered (or closed): stop sending
            sock.sendall(frame)
            sent += len(chunk)
        else:
            sock.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    with sock:
        status, body = read_answer(sock)
    return sent, status, body


def send_endless_head(url: str, total: int) -> tuple[int, int, Any]:
    """A request head that never ends: ``total`` bytes of header lines, stopping as soon as
    the server answers or closes. Returns (bytes sent, status, JSON body)."""
    line = b"X-Pad: " + b"p" * 65_536 + b"\r\n"
    sent = 0
    sock = connect(url)
    try:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        while sent < total and not select.select([sock], [], [], 0)[0]:
            sock.sendall(line)
            sent += len(line)
    except (BrokenPipeError, ConnectionResetError):
        pass
    with sock:
        status, body = read_answer(sock, timeout=10)
    return sent, status, body


def send_declared(
    url: str, path: str, length: int, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    """Announce a ``length``-byte body and send none of it: the answer must come anyway."""
    with connect(url) as sock:
        base = {"Content-Type": "application/json", "Content-Length": str(length)}
        sock.sendall(request_head("POST", path, base | (headers or {})))
        return read_answer(sock)


def send_body(
    url: str, path: str, body: bytes, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    with connect(url) as sock:
        base = {"Content-Type": "application/json", "Content-Length": str(len(body))}
        sock.sendall(request_head("POST", path, base | (headers or {})) + body)
        return read_answer(sock)


def multipart(name: str, data: bytes, boundary: str = "attack0boundary") -> tuple[bytes, str]:
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/gzip\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def gzip_bomb(expanded: int, name: str = "UD_bomb.xml") -> bytes:
    """A .tar.gz whose one member is ``expanded`` zero bytes (1.6 GB gives ~1.6 MB)."""
    header = tarfile.TarInfo(name)
    header.size = expanded
    out = io.BytesIO()
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    out.write(comp.compress(header.tobuf(format=tarfile.USTAR_FORMAT)))
    block = bytes(MiB)
    for _ in range(expanded // MiB):
        out.write(comp.compress(block))
    out.write(comp.compress(bytes(expanded % MiB + (-expanded % 512) + 1024)))
    out.write(comp.flush())
    return out.getvalue()


def deep_usage_file(depth: int) -> bytes:
    """A usage file whose one RUM report is JSON nested ``depth`` levels deep."""
    return (
        b"<smartLicense><RUMReport>" + b"[" * depth + b"]" * depth + b"</RUMReport></smartLicense>"
    )


def slow_head(url: str, interval: float, limit: float) -> float:
    """Trickle a request head one byte every ``interval`` seconds; the seconds until the
    server closed the connection (``limit`` when it never did)."""
    import time

    head = request_head("GET", "/", {"X-Pad": "x" * 4096})
    started = time.monotonic()
    with connect(url) as sock:
        for byte in head:
            if time.monotonic() - started > limit:
                return limit
            if select.select([sock], [], [], interval)[0] and not sock.recv(1):
                return time.monotonic() - started  # closed by the server
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - started
    return limit
