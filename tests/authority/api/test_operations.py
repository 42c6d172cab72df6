"""Operations over real HTTP: ``/readyz`` (database and schema) and ``/metrics`` (Prometheus)."""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from smartlic.authority.app import create_app
from smartlic.authority.settings import AuthoritySettings
from smartlic.clock import ManualClock
from tests.authority.api.conftest import LiveAuthority, serve_in_thread
from tests.authority.api.helpers import (
    DOMAIN,
    build_world,
    create_token,
    new_device,
    register,
)


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a Prometheus text page, by name and labels."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_ready_when_the_database_answers_at_the_schema_head(live_authority: LiveAuthority) -> None:
    answer = live_authority.client(auth=False).get("/readyz")
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "ready" and answer.json()["schema"]


def test_not_ready_on_a_database_without_the_schema(tmp_path: Path) -> None:
    settings = AuthoritySettings(data_dir=tmp_path / "authority")
    settings.data_dir.mkdir()
    server, thread, url = serve_in_thread(create_app(settings, clock=ManualClock()))
    try:
        answer = httpx.get(f"{url}/readyz")
        assert answer.status_code == 503
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["code"] == "not-ready"
        assert "no schema" in answer.json()["detail"]
        assert httpx.get(f"{url}/healthz").status_code == 200  # alive, just not ready
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_metrics_count_requests_by_route_template_and_read_state(
    live_authority: LiveAuthority,
) -> None:
    api = live_authority.client()
    build_world(api)
    token = create_token(api)["text"]
    register(live_authority, api, new_device(live_authority, 1), token)
    for _ in range(3):
        api.get(f"/api/v1/accounts/{DOMAIN}")
    api.get("/api/v1/accounts/nobody.example")  # 404, its own series
    page = live_authority.client(auth=False).get("/metrics")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/plain; version=")
    got = samples(page.text)

    def requests(route: str, status: str) -> float:
        labels = {"app": "authority", "method": "GET", "route": route, "status": status}
        return got[("smartlic_http_requests_total", frozenset(labels.items()))]

    assert requests("/api/v1/accounts/{domain}", "200") == 3
    assert requests("/api/v1/accounts/{domain}", "404") == 1
    assert not any("acme.example" in str(labels) for _, labels in got)  # templates, not paths
    assert got[("smartlic_product_instances", frozenset({("status", "In Compliance")}))] == 1
    assert got[("smartlic_usage_reports_received", frozenset())] == 0
    assert got[("smartlic_server_info", frozenset({("server", "authority")}))] == 1
