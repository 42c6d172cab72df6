"""Issue 8, finding 5: the collector verifies every authority-signed file against the CA its
``init`` pinned, before anything changes. A forged ACK can neither plant a trust key nor mark
reports acknowledged; it is refused with its reason and the store is unchanged."""

from __future__ import annotations

import base64
import io
import tarfile
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.services._files import FileSigner
from smartlic.collector.models import Device, Report, Request
from smartlic.crypto import generate_key
from smartlic.errors import SignatureInvalid
from smartlic.formats.rum import key_id_of, public_key_b64
from smartlic.formats.slp import read_file, write_file
from tests.authority.api.conftest import serve_in_thread
from tests.authority.api.helpers import ACCOUNT, TAG, ok, problem, va_path
from tests.collector.conftest import PI, Collector, World


@pytest.fixture
def offline(collector: Collector) -> Collector:
    collector.prefs(connectivity=False, authority_url=None, api_key=None)
    return collector


def _store(c: Collector) -> list[tuple[Any, ...]]:
    """Everything a forged ACK would change: report states, trust keys."""
    with c.services.status.transaction() as s:
        reports = [(r.report_id, r.acked_at, r.rejected) for r in s.scalars(select(Report))]
        keys = [(d.udi_sn, d.trust_key_id, d.trust_public_key) for d in s.scalars(select(Device))]
        codes = [(r.id, r.result) for r in s.scalars(select(Request))]
    return [*sorted(reports), *sorted(keys), *codes]


def _forged_ack(keys: AuthorityKeys, world: World, sn: str, report_id: int) -> bytes:
    """An ACK and trust code "from the authority", signed by an impostor's CA."""
    signer, now = FileSigner(keys), world.live.clock.now()
    udi = {"pid": "C9300-24T", "sn": sn}
    planted = generate_key().public_key()
    ack = {"type": "rum-ack", "udi": udi, "acknowledged": [report_id], "rejected": [],
           "smart_account": "Acme", "virtual_account": "Prod"}  # fmt: skip
    trust = {"type": "trust-code", "udi": udi, "key_id": key_id_of(planted),
             "public_key": public_key_b64(planted), "smart_account": "Acme",
             "virtual_account": "Prod"}  # fmt: skip
    return write_file(
        [
            ("smartLicenseRumAck", signer.section(ack, now)),
            ("smartLicenseTrustCode", signer.section(trust, now)),
        ]
    )


def test_a_forged_ack_file_is_refused_and_changes_nothing(
    world: World, offline: Collector, tmp_path: Path
) -> None:
    device = world.device("FORGE1")
    report = device.report(TAG, 2)
    offline.report(device, report)
    before = _store(offline)
    impostor = AuthorityKeys.create(tmp_path / "impostor", world.live.clock.now())
    report_id = int(before[0][0])

    forged = _forged_ack(impostor, world, "FORGE1", report_id)
    body = problem(offline.api.post("/api/v1/import", content=forged), 401, "bad-signature")
    assert "<smartLicense" in body["detail"] and "certificate" in body["detail"]
    assert _store(offline) == before
    assert offline.services.transfer.export().reports == 1  # still waiting for a real ACK


def test_a_tampered_genuine_ack_is_refused(world: World, offline: Collector) -> None:
    device = world.device("FORGE2")
    offline.report(device, device.report(TAG, 1))
    api = world.live.client(world.collector_key)
    files = {"file": ("UD.tar.gz", offline.services.transfer.export().content, "x")}
    created = ok(api.post(va_path("Prod", "/usage-files"), files=files), 201)
    genuine = api.get(f"{ACCOUNT}/usage-files/{created['id']}/ack").content
    before = _store(offline)
    # One device's ACK file, its acknowledged list widened after signing.
    [data] = [d for n, d in _members(genuine) if "ACK_" in n]
    tampered = data.replace(b'acknowledged\\":[', b'acknowledged\\":[1,')
    assert tampered != data
    body = problem(offline.api.post("/api/v1/import", content=tampered), 401, "bad-signature")
    assert "signature does not verify" in body["detail"]
    assert _store(offline) == before


def test_without_a_pinned_ca_nothing_signed_is_imported(
    world: World, offline: Collector, tmp_path: Path
) -> None:
    from tests.collector.conftest import start_collector, stop_collector

    bare = start_collector(tmp_path, world.live.clock, name="bare")
    try:
        bare.prefs(smart_account="acme.example", virtual_account="Prod")
        device = world.device("FORGE3")
        bare.report(device, device.report(TAG, 1))
        before = _store(bare)
        genuine = _forged_ack(world.live.keys, world, "FORGE3", 1)  # really the authority's
        body = problem(bare.api.post("/api/v1/import", content=genuine), 401, "no-authority-ca")
        assert "collector init" in body["detail"]
        assert _store(bare) == before
        # the REST API cannot pin (or swap) the CA
        ca = world.live.keys.ca_pem
        problem(
            bare.api.patch("/api/v1/preferences", json={"authority_ca_pem": ca}),
            422,
            "invalid-input",
        )
    finally:
        stop_collector(bare)


def test_a_forged_code_file_is_refused(world: World, offline: Collector, tmp_path: Path) -> None:
    device = world.device("FORGE4")  # a request waits for its code: a forged one must not fill it
    body = offline.body(requests=[device.auth_request({TAG: 100})])
    ok(offline.pi.post(f"{PI}/v2/devices/authrequest", json=body))
    impostor = AuthorityKeys.create(tmp_path / "impostor", world.live.clock.now())
    code = {"type": "authorization-code", "udi": {"pid": "C9300-24T", "sn": "FORGE4"},
            "code_id": "00000000-0000-0000-0000-000000000001", "confirmation_code": "x",
            "entitlements": [{"tag": TAG, "count": 100}]}  # fmt: skip
    section = FileSigner(impostor).section(code, world.live.clock.now())
    data = write_file([("smartLicenseAuthorization", section)])
    assert read_file(data)  # a well-formed file: refused for its signature alone
    before = _store(offline)
    body = problem(offline.api.post("/api/v1/import", content=data), 401, "bad-signature")
    assert "<smartLicense" in body["detail"] and "certificate" in body["detail"]
    assert _store(offline) == before


def _members(archive: bytes) -> list[tuple[str, bytes]]:
    """The plain files of a .tar.gz, nested archives opened."""
    out = []
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        for member in tar:
            fh = tar.extractfile(member) if member.isfile() else None
            data = fh.read() if fh else b""
            out += _members(data) if data[:2] == b"\x1f\x8b" else [(member.name, data)]
    return out


def test_a_forged_online_answer_changes_nothing(
    world: World, collector: Collector, tmp_path: Path
) -> None:
    """An impostor at the authority's URL (DNS, a proxy): its trust answer, signed by its own
    CA, must plant no key at the collector."""
    impostor = AuthorityKeys.create(tmp_path / "impostor", world.live.clock.now())
    device = world.device("FORGE5")
    collector.report(device, device.report(TAG, 1))
    forged = base64.b64encode(_forged_ack(impostor, world, "FORGE5", 1)).decode()
    fake = FastAPI()

    @fake.post("/api/device/v1/trust")
    def trust() -> dict[str, Any]:
        return {"smart_license": forged, "status": "SUCCESS"}

    server, thread, url = serve_in_thread(fake)
    try:
        collector.prefs(authority_url=url)
        before = _store(collector)
        with pytest.raises(SignatureInvalid):
            collector.services.forwarder.trust(device.trust_request("token"))
        assert _store(collector) == before
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_the_authority_serves_its_ca_for_pinning(world: World) -> None:
    response = world.live.client(auth=False).get("/api/device/v1/ca")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-pem-file")
    assert response.text == world.live.keys.ca_pem
