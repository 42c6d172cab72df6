"""Both collector servers (device port and REST API) send the same security headers as the
authority (smartlic/web/headers.py), and serve their API docs without any CDN."""

from __future__ import annotations

from pathlib import Path

from smartlic.clock import ManualClock
from smartlic.web.headers import DOCS_CSP, PAGE_CSP
from tests.collector.conftest import start_collector, stop_collector


def test_collector_servers_send_security_headers(tmp_path: Path, clock: ManualClock) -> None:
    c = start_collector(tmp_path, clock)
    try:
        for client in (c.pi, c.api):
            for path, csp in (
                ("/openapi.json", PAGE_CSP),
                ("/docs", DOCS_CSP),
                ("/nope", PAGE_CSP),
            ):
                answer = client.get(path)
                assert answer.headers["content-security-policy"] == csp, path
                assert answer.headers["x-frame-options"] == "DENY"
                assert answer.headers["x-content-type-options"] == "nosniff"
                assert answer.headers["referrer-policy"] == "no-referrer"
            docs = client.get("/docs")
            assert docs.status_code == 200 and "cdn" not in docs.text
            assert client.get("/static-offline-docs/swagger-ui.css").status_code == 200
    finally:
        stop_collector(c)
