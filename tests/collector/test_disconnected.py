"""CSLU has no access: Download All for Cisco, upload at the authority, its ACK archive,
Upload from Cisco, ACKs delivered to the devices. Repeatable exports, idempotent imports,
refusals (truncated archive, another account's) that change nothing."""

from __future__ import annotations

from typing import Any

import pytest

from smartlic.collector.services import _base
from tests.authority.api.helpers import ACCOUNT, TAG, ok, pool_line, problem, va_path
from tests.collector.conftest import Collector, World


@pytest.fixture
def offline(collector: Collector) -> Collector:
    collector.prefs(connectivity=False, authority_url=None, api_key=None)
    return collector


def upload(world: World, archive: bytes, va: str = "Prod") -> bytes:
    """What a person does at the authority: upload the export, download the ACK archive."""
    api = world.live.client(world.collector_key)
    files = {"file": ("UD_SA.tar.gz", archive, "application/gzip")}
    created = ok(api.post(va_path(va, "/usage-files"), files=files), 201)
    response = api.get(f"{ACCOUNT}/usage-files/{created['id']}/ack")
    assert response.status_code == 200, response.text
    return response.content


def push_three(world: World, c: Collector) -> list[dict[str, Any]]:
    devices = [world.device(f"OFF{i}") for i in range(3)]
    return [c.report(d, d.report(TAG, i + 1)) for i, d in enumerate(devices)]


def test_export_upload_import_delivers_acks(world: World, offline: Collector) -> None:
    answers = push_three(world, offline)
    first = offline.api.get("/api/v1/export")
    assert first.headers["content-type"] == "application/gzip"
    assert offline.services.transfer.export().reports == 3  # repeatable until acknowledged
    ack_archive = upload(world, first.content)
    assert pool_line(world.api, "Prod")["in_use"] == 6

    imported = ok(offline.api.post("/api/v1/import", content=ack_archive))
    assert imported == {"files": 3, "new_files": 3, "acknowledged": 3}
    for answer in answers:
        done = offline.poll(answer)
        assert done["status"] == "COMPLETE"
        assert len(world.ack_of(done["data"]["acknowledgements"][0])["acknowledged"]) == 1
    assert offline.services.transfer.export().reports == 0
    again = ok(offline.api.post("/api/v1/import", content=ack_archive))
    assert again["new_files"] == 0  # idempotent
    alerts = {d.alerts[0] for d in offline.services.status.devices()}
    assert alerts == {_base.ACK_TO_DEVICE}


def test_truncated_archive_changes_nothing(world: World, offline: Collector) -> None:
    answers = push_three(world, offline)
    ack_archive = upload(world, offline.services.transfer.export().content)
    before = offline.services.status.totals()
    problem(offline.api.post("/api/v1/import", content=ack_archive[:-40]), 422, "bad-archive")
    problem(offline.api.post("/api/v1/import", content=b"<nope/>"), 422, "bad-file")
    assert offline.services.status.totals() == before
    assert offline.poll(answers[0])["status"] == "OK_POLL"


def test_archive_for_another_account_is_refused(world: World, offline: Collector) -> None:
    push_three(world, offline)
    foreign = upload(world, offline.services.transfer.export().content, va="Spare")
    body = problem(offline.api.post("/api/v1/import", content=foreign), 403, "wrong-account")
    assert "Spare" in body["detail"]
    assert offline.services.status.totals().acknowledged == 0


def test_sync_refused_while_disconnected(offline: Collector) -> None:
    problem(offline.api.post("/api/v1/actions/sync"), 503, "unavailable")


def test_one_export_per_virtual_account(world: World, offline: Collector) -> None:
    prod, spare = world.device("VAP1"), world.device("VAS1")
    offline.report(prod, prod.report(TAG, 1))
    offline.report(spare, spare.report(TAG, 2), path="/cslu/v1/pi/Spare-1")
    assert offline.services.transfer.export().devices == 1  # the default: Prod
    spare_file = offline.api.get("/api/v1/export", params={"virtual_account": "Spare"}).content
    ack = upload(world, spare_file, va="Spare")
    assert ok(offline.api.post("/api/v1/import", content=ack))["acknowledged"] == 1
    assert pool_line(world.api, "Spare")["in_use"] == 2
    assert offline.services.transfer.export("Spare").reports == 0
    assert offline.services.transfer.export().reports == 1


def _tar(members: list[tuple[str, bytes]], link: str | None = None) -> bytes:
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo(link)
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)
    return buf.getvalue()


def test_odd_archives_are_refused(world: World, offline: Collector) -> None:
    url = "/api/v1/import"
    problem(offline.api.post(url, content=_tar([("manifest.mf", b"x")])), 422, "empty-file")
    problem(offline.api.post(url, content=_tar([], link="evil")), 422, "bad-archive")
    not_ack = _tar([("dev_x.txt", b"<smartLicense><RUMReport>{}</RUMReport></smartLicense>")])
    problem(offline.api.post(url, content=not_ack), 422, "bad-file")
    dtd = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]><smartLicense>&e;</smartLicense>'
    problem(offline.api.post(url, content=dtd), 422, "bad-file")
    assert offline.services.status.totals().acknowledged == 0


def test_an_ack_for_a_device_never_reported_is_refused(world: World, offline: Collector) -> None:
    push_three(world, offline)
    ack = upload(world, offline.services.transfer.export().content)
    other = start_other(world, offline)
    try:
        body = problem(other.api.post("/api/v1/import", content=ack), 403, "unknown-device")
        assert "never reported" in body["detail"]
    finally:
        from tests.collector.conftest import stop_collector

        stop_collector(other)


def start_other(world: World, c: Collector) -> Collector:
    from tests.collector.conftest import start_collector

    other = start_collector(
        c.settings.data_dir.parent,
        world.live.clock,
        name="other",
        authority_ca=world.live.keys.ca_pem,
    )
    other.prefs(virtual_account="Prod")
    return other
