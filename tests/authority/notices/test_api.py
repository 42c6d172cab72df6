"""The REST API over real HTTP, with the server's own background job runner: reports, CSV and
PDF, webhooks, subscriptions, jobs; refusals change nothing."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from smartlic.authority.app import create_app
from smartlic.authority.settings import AuthoritySettings
from smartlic.domain.enums import Role
from tests.authority.api.conftest import serve_in_thread
from tests.authority.notices.conftest import DOMAIN, Lab

A = f"/api/v1/accounts/{DOMAIN}"


@pytest.fixture
def api(lab: Lab, tmp_path: Path) -> Iterator[Callable[[str | None], httpx.Client]]:
    settings = AuthoritySettings(data_dir=tmp_path / "authority", jobs_interval_s=0.2)
    app = create_app(settings, clock=lab.clock, services=lab.services)
    server, thread, url = serve_in_thread(app)
    admin = lab.services.api_keys.create_api_key(
        name="admin", role=Role.ADMIN, smart_account=None, actor="t"
    ).text
    clients: list[httpx.Client] = []

    def client(key: str | None = None) -> httpx.Client:
        c = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key or admin}"})
        clients.append(c)
        return c

    try:
        yield client
    finally:
        for c in clients:
            c.close()
        server.should_exit = True
        thread.join(timeout=10)


def _wait(lab: Lab, check: Callable[[], bool], extra: Callable[[], object] = lambda: "") -> None:
    """Until ``check``; the lab clock moves 10 s a round, as time would (the senders run
    every 10 s of clock time)."""
    deadline = time.monotonic() + 15
    while not check():
        lab.clock.advance(seconds=10)
        assert time.monotonic() < deadline, f"the job runner did not get there: {extra()}"
        time.sleep(0.05)


def test_reports_over_http(lab: Lab, api: Callable[[str | None], httpx.Client]) -> None:
    http = api(None)
    r = http.post(A + "/reports", json={"kind": "manual", "virtual_account": "East"})
    assert r.status_code == 201, r.text
    report = r.json()
    assert report["rows"][0]["license"] == "network-advantage"
    listing = http.get(A + "/reports").json()
    assert listing["total"] == 1 and listing["items"][0]["rows"] == []
    csv = http.get(A + f"/reports/{report['id']}/csv")
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.startswith("virtual_account,tag,license,")
    pdf = http.get(A + f"/reports/{report['id']}/pdf")
    assert pdf.content.startswith(b"%PDF")
    assert http.get(A + "/reports/nope").status_code == 404
    bad = http.post(A + "/reports", json={"kind": "weekly"})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    sched = http.post(A + "/report-schedules", json={"frequency": "daily", "time_of_day": "07:00"})
    assert sched.status_code == 201
    assert (
        http.post(
            A + "/report-schedules", json={"frequency": "daily", "time_of_day": "24:61"}
        ).status_code
        == 422
    )


def test_the_server_runs_the_jobs_itself(
    lab: Lab, api: Callable[[str | None], httpx.Client]
) -> None:
    http = api(None)
    user_key = lab.services.api_keys.create_api_key(
        name="reader", role=Role.SMART_ACCOUNT_USER, smart_account=DOMAIN, actor="t"
    ).text
    reader = api(user_key)
    hook = {"url": lab.hook_url, "events": ["compliance.*"]}
    assert reader.post(A + "/webhooks", json=hook).status_code == 403
    assert (
        reader.post(
            A + "/notifications", json={"user": "bob", "event": "compliance-warning"}
        ).status_code
        == 403
    )
    assert http.get(A + "/webhooks").json() == []  # the refusals stored nothing
    created = http.post(A + "/webhooks", json=hook)
    assert created.status_code == 201 and created.json()["secret"].startswith("whsec_")
    assert http.get(A + "/webhooks").json()[0]["secret"] is None
    sub = http.post(A + "/notifications", json={"user": "alice", "event": "compliance-warning"})
    assert sub.status_code == 201, sub.text
    assert (
        http.post(A + "/notifications", json={"user": "alice", "event": "nope"}).status_code == 422
    )

    lab.overuse(n=2)
    lab.clock.advance(minutes=1)
    _wait(
        lab,
        lambda: len(lab.inbox.messages) == 1 and len(lab.hooks.received) == 1,
        lambda: (lab.inbox.messages, lab.hooks.received, lab.services.jobs.list_jobs()),
    )
    jobs = {j["name"]: j for j in http.get("/api/v1/jobs").json()}
    assert jobs["compliance.scan"]["runs"] >= 1 and jobs["compliance.scan"]["last_status"] == "ok"
    assert reader.get("/api/v1/jobs").status_code == 403
    (delivery,) = http.get(A + "/webhook-deliveries").json()
    assert delivery["state"] == "delivered" and delivery["log"][0]["status_code"] == 200
    replay = http.post(A + f"/webhook-deliveries/{delivery['id']}/actions/replay")
    assert replay.status_code == 201 and replay.json()["replay_of"] == delivery["id"]
    lab.clock.advance(minutes=1)
    _wait(lab, lambda: len(lab.hooks.received) == 2)
    assert lab.hooks.received[1][1] == lab.hooks.received[0][1]
    warnings = http.get(A + "/reports", params={"kind": "compliance-warning"}).json()
    assert warnings["total"] == 1


def test_usage_trends_api(lab: Lab, api: Callable[[str | None], httpx.Client]) -> None:
    http = api(None)
    lab.overuse(n=2)
    for _ in range(3):
        lab.services.jobs.run_now("usage.rollup")
        lab.clock.advance(days=1)
    points = http.get(A + "/usage-trends", params={"virtual_account": "East"}).json()
    # (the server's own runner may have added today's rollup too)
    assert {(p["in_use"], p["purchased"]) for p in points} == {(2, 1)} and len(points) >= 3
    csv = http.get(A + "/usage-trends/csv").text.splitlines()
    assert csv[0] == "day,virtual_account,tag,license,in_use,purchased"
    assert len(csv) >= 4
