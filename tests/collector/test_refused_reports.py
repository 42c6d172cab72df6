"""Failures are per device, not per batch (issue 8, finding 3): a report the authority refuses
is refused alone, with its reason, never sent again, and shown in the device table; the batch's
other reports are acknowledged. An authority failing (5xx) on one device's reports does not
hold up the others either."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from smartlic.collector.services import _base
from smartlic.errors import Unavailable
from tests.authority.api.conftest import serve_in_thread
from tests.authority.api.helpers import TAG, ok, pool_line
from tests.collector.conftest import Collector, World, start_collector, stop_collector
from tests.devices import PolicyDevice


def by_sn(collector: Collector) -> dict[str, dict[str, Any]]:
    """The collector's device table, as its REST API shows it, by serial number."""
    rows = ok(collector.api.get("/api/v1/devices"))
    return {row["name"].split("UDI_SN:")[1]: row for row in rows}


def test_two_devices_with_one_key_do_not_hold_up_a_good_one(
    world: World, collector: Collector
) -> None:
    first = world.device("DUP1")
    second = PolicyDevice(world.device("DUP2").udi, world.live.clock, key=first.key)
    good = world.device("GOOD1")
    answers = {d.udi.sn: collector.report(d, d.report(TAG, 1)) for d in (first, second, good)}

    result = collector.services.forwarder.sync()  # the authority answers; nothing raised
    assert result.uploaded == 3 and result.acknowledged == 2

    [item] = collector.poll(answers["GOOD1"])["data"]["acknowledgements"]
    assert len(world.ack_of(item)["acknowledged"]) == 1
    assert pool_line(world.api, "Prod")["in_use"] == 2  # DUP1 and GOOD1
    table = by_sn(collector)
    refused = table["DUP2"]
    assert (refused["rejected"], refused["pending"]) == (1, 0)
    assert "trust code of another device" in str(refused["rejection"])
    assert refused["alerts"][0].startswith(_base.ACK_FAILED.split(":")[0])
    assert (table["GOOD1"]["rejected"], table["GOOD1"]["rejection"]) == (0, None)
    assert collector.services.forwarder.sync().uploaded == 0  # never sent again
    assert collector.services.status.totals().rejected == 1


@pytest.fixture
def flaky_authority(world: World) -> Iterator[str]:
    """A loopback hop in front of the real authority that fails (500) every request naming
    the serial number POISON1, as an authority with a bug would, and passes the rest on."""
    app = FastAPI()
    upstream = httpx.Client(base_url=world.live.url, timeout=30)

    @app.post("/{path:path}")
    async def relay(path: str, request: Request) -> Response:
        body = await request.body()
        if b"POISON1" in body:
            return Response('{"detail": "boom"}', 500, media_type="application/problem+json")
        keep = (
            "authorization",
            "content-type",
            "x-csw-smart-account-id",
            "x-csw-virtual-account-id",
        )
        headers = {k: v for k, v in request.headers.items() if k.lower() in keep}
        answer = upstream.post(f"/{path}", content=body, headers=headers)
        return Response(answer.content, answer.status_code, media_type="application/json")

    server, thread, url = serve_in_thread(app)
    yield url
    server.should_exit = True
    thread.join(timeout=10)
    upstream.close()


def test_a_device_the_authority_fails_on_is_sent_alone(
    world: World, flaky_authority: str, tmp_path: Path
) -> None:
    c = start_collector(tmp_path, world.live.clock, name="flaky")
    try:
        c.prefs(connectivity=True, authority_url=flaky_authority, api_key=world.collector_key,
                smart_account="acme.example", virtual_account="Prod")  # fmt: skip
        poison, good = world.device("POISON1"), world.device("GOOD2")
        c.report(poison, poison.report(TAG, 5))
        answer = c.report(good, good.report(TAG, 2))
        with pytest.raises(Unavailable, match="500"):
            c.services.forwarder.sync()
        assert c.poll(answer)["status"] == "COMPLETE"
        assert pool_line(world.api, "Prod")["in_use"] == 2
        table = by_sn(c)
        assert table["POISON1"]["pending"] == 1  # a failure, not a refusal: tried again later
        assert table["POISON1"]["alerts"][0].startswith(_base.UPLOAD_FAILED.split(":")[0])
        assert table["GOOD2"]["pending"] == 0
    finally:
        stop_collector(c)
