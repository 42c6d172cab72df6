"""Smart Licensing Using Policy over real HTTP: trust, the vendor device API (reportusage,
authrequest, poll), usage data files and their ACKs (API and CLI on the same database), SLAC
online and offline, custom policies, and tenant isolation."""

from __future__ import annotations

import base64
import io
import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from smartlic.authority.cli_usage import policy_mode_app
from smartlic.authority.settings import AuthoritySettings
from smartlic.crypto import Udi, load_certificate, verify_certificate
from smartlic.domain.enums import Role
from smartlic.domain.policy import CISCO_DEFAULT, LicenseGroup
from smartlic.domain.products import make_tag
from smartlic.formats.envelope import make_nonce, timestamp_ms
from smartlic.formats.rum import usage_file
from smartlic.formats.signed import open_sealed
from smartlic.formats.slp import read_file, write_file
from tests.authority.api.conftest import LiveAuthority
from tests.authority.api.helpers import (
    ACCOUNT,
    DOMAIN,
    OTHER,
    TAG,
    V1,
    build_world,
    create_token,
    ok,
    pool_line,
    problem,
    snapshot,
    va_path,
)
from tests.devices import PolicyDevice

VENDOR = "/services/api/smart-accounts-and-licensing"
HSEC = make_tag("hseck9")
PID = "IXM-LPWA-900-16-K9"


@dataclass
class World:
    live: LiveAuthority
    api: httpx.Client  # the admin key
    anon: httpx.Client  # no API key: a device talking directly

    def device(self, sn: str) -> PolicyDevice:
        return PolicyDevice(Udi(PID, sn), self.live.clock)

    def key(self, role: Role, domain: str | None = DOMAIN, name: str = "") -> httpx.Client:
        created = self.live.services.api_keys.create_api_key(
            name=name or f"{role.value}-{domain}", role=role, smart_account=domain, actor="t"
        )
        return self.live.client(created.text)


@pytest.fixture
def world(live_authority: LiveAuthority) -> World:
    api = live_authority.client()
    build_world(api)
    body = {"tag": HSEC, "name": "hseck9", "display_name": "HSECK9"}
    ok(api.post(f"{V1}/licenses", json=body | {"enforcement": "export-controlled"}), 201)
    ok(api.post(va_path("Prod", "/licenses"), json={"tag": HSEC, "quantity": 1}), 201)
    return World(live_authority, api, live_authority.client(auth=False))


@pytest.fixture
def trusted(world: World) -> PolicyDevice:
    """FOC1 in Prod, trust established online with a token."""
    dev = world.device("FOC1")
    answer = ok(world.anon.post("/api/device/v1/trust", json=dev.trust_request(token(world))))
    got = sections(world, base64.b64decode(answer["smart_license"]))
    assert got["smartLicenseTrustCode"]["udi"] == {"pid": PID, "sn": "FOC1"}
    assert got["smartLicenseAccountInfo"]["virtual_account"] == "Prod"
    assert got["smartLicensePolicy"]["policy"] == CISCO_DEFAULT.to_json()
    return dev


def token(world: World, va: str = "Prod") -> str:
    text: str = create_token(world.api, va)["text"]
    return text


def sections(world: World, data: bytes) -> dict[str, dict[str, Any]]:
    """Every section of an authority file, its certificate chained to the CA; name -> payload."""
    out = {}
    for name, env in read_file(data):
        cert = load_certificate(env["certificate"])
        verify_certificate(cert, world.live.keys.ca.certificate, at=world.live.clock.now())
        out[name] = open_sealed(env, cert.public_key())  # type: ignore[arg-type]
    return out


def report_id(envelope: dict[str, Any]) -> int:
    rid: int = json.loads(envelope["payload"])["asset_identification"]["report_id"]
    return rid


def vendor_body(world: World, **data: Any) -> dict[str, Any]:
    now = timestamp_ms(world.live.clock.now())
    return {"data": {"timestamp": now, "nonce": make_nonce(), **data}}


def complete(world: World, client: httpx.Client, answer: dict[str, Any]) -> dict[str, Any]:
    """Poll an OK_POLL answer to its COMPLETE result over HTTP."""
    assert answer["status"] == "OK_POLL" and answer["poll_interval"] == 300, answer
    body = vendor_body(world, poll_id=answer["poll_id"], action=answer["action"])
    done: dict[str, Any] = ok(client.post(f"{VENDOR}/v2/accounts/poll", json=body))
    assert done["status"] == "COMPLETE" and done["type"] == answer["action"], done
    return done


def report(world: World, client: httpx.Client, body: dict[str, Any], **kw: Any) -> Any:
    return client.post(f"{VENDOR}/v2/devices/reportusage", json=body, **kw)


def only_ack(world: World, done: dict[str, Any]) -> dict[str, dict[str, Any]]:
    [item] = done["data"]["acknowledgements"]
    return sections(world, base64.b64decode(item["smart_license"]))


def upload(client: httpx.Client, va: str, name: str, data: bytes, **kw: Any) -> httpx.Response:
    return client.post(va_path(va, "/usage-files"), files={"file": (name, data)}, **kw)


def usage_files(world: World) -> dict[str, Any]:
    listing: dict[str, Any] = ok(world.api.get(f"{ACCOUNT}/usage-files"))
    return listing


def instance_id(world: World, sn: str) -> str:
    found = ok(world.api.get(f"{ACCOUNT}/devices", params={"search": sn}))["items"]
    assert len(found) == 1, found
    iid: str = found[0]["id"]
    return iid


# ---------------------------------------------------------------- direct reporting


def test_trusted_device_reports_two_licenses_directly(world: World, trusted: PolicyDevice) -> None:
    r1, r2 = trusted.report(TAG, 2), trusted.report(OTHER, 1)
    answer = ok(report(world, world.anon, trusted.body(r1, r2)), 202)
    assert answer["action"] == "acknowledgements"
    ack = only_ack(world, complete(world, world.anon, answer))
    assert ack["smartLicenseRumAck"]["acknowledged"] == sorted([report_id(r1), report_id(r2)])
    assert ack["smartLicenseRumAck"]["udi"] == {"pid": PID, "sn": "FOC1"}
    assert pool_line(world.api, "Prod")["in_use"] == 2
    assert pool_line(world.api, "Prod", OTHER)["in_use"] == 1
    history = ok(world.api.get(f"{ACCOUNT}/devices/{instance_id(world, 'FOC1')}/usage"))
    assert {r["report_id"] for r in history["items"]} == {report_id(r1), report_id(r2)}
    path = f"{ACCOUNT}/devices/{instance_id(world, 'FOC1')}/usage"
    only_tag = ok(world.api.get(path, params={"tag": OTHER}))
    assert [r["report_id"] for r in only_tag["items"]] == [report_id(r2)]


def test_duplicate_replayed_and_tampered_reports(world: World, trusted: PolicyDevice) -> None:
    r1 = trusted.report(TAG, 2)
    body = trusted.body(r1)
    complete(world, world.anon, ok(report(world, world.anon, body), 202))
    problem(report(world, world.anon, body), 409, "replay")  # the same request again
    # the same report in a fresh request: acknowledged again, never counted twice
    ack = only_ack(
        world, complete(world, world.anon, ok(report(world, world.anon, trusted.body(r1)), 202))
    )
    assert ack["smartLicenseRumAck"]["acknowledged"] == [report_id(r1)]
    bad = trusted.report(TAG, 2)
    bad["payload"] = bad["payload"].replace('"value":"2"', '"value":"9"')
    done = complete(world, world.anon, ok(report(world, world.anon, trusted.body(bad)), 202))
    # This used to be answered with an ACK (acknowledged [], the report rejected). An ACK
    # names the smart and virtual accounts that hold the device, so anyone who knew a UDI
    # could send one forged report without a key and read them (issue 8). A sender that
    # proves nothing now gets the per-device refusal alone, with its reason.
    assert done["data"]["acknowledgements"] == []
    [error] = done["data"]["errors"]
    assert "does not verify" in error["rejected"][0]["reason"]
    assert DOMAIN not in json.dumps(done) and "Prod" not in json.dumps(done)
    assert pool_line(world.api, "Prod")["in_use"] == 2
    # a genuine report in the same request proves the sender: its ACK carries both answers
    both = trusted.body(bad, trusted.report(TAG, 3))
    [item] = complete(world, world.anon, ok(report(world, world.anon, both), 202))["data"][
        "acknowledgements"
    ]
    assert len(item["acknowledged"]) == 1 and len(item["rejected"]) == 1
    assert pool_line(world.api, "Prod")["in_use"] == 3


def test_a_days_old_request_counts_once_for_a_caller_and_never_for_a_device_alone(
    world: World, trusted: PolicyDevice
) -> None:
    """Issue 9: tools copy ``timestamp``/``nonce`` from a file saved days ago; an authenticated
    caller's request is checked once (its nonce never seen), a device on its own still keeps
    the replay window."""
    body = trusted.body(trusted.report(TAG, 2))
    body["data"]["timestamp"] = timestamp_ms(world.live.clock.now()) - 3 * 86_400_000
    before = snapshot(world.api)
    problem(report(world, world.anon, body), 409, "replay")  # stale, with no caller
    assert snapshot(world.api) == before
    headers = {"X-CSW-SMART-ACCOUNT-ID": DOMAIN, "X-CSW-VIRTUAL-ACCOUNT-ID": "Prod"}
    complete(world, world.api, ok(report(world, world.api, body, headers=headers), 202))
    assert pool_line(world.api, "Prod")["in_use"] == 2
    before = snapshot(world.api)
    problem(report(world, world.api, body, headers=headers), 409, "replay")  # its nonce again
    assert snapshot(world.api) == before


def test_unknown_device_cannot_report_without_a_key(world: World) -> None:
    stranger = world.device("STRANGER")
    done = complete(
        world,
        world.anon,
        ok(report(world, world.anon, stranger.body(stranger.report(TAG, 1))), 202),
    )
    assert done["data"]["acknowledgements"] == []
    assert "no trust code" in done["data"]["errors"][0]["rejected"][0]["reason"]
    assert ok(world.api.get(f"{ACCOUNT}/devices"))["total"] == 0
    problem(
        world.anon.post(f"{VENDOR}/v2/devices/reportusage", json={"nope": 1}), 422, "invalid-input"
    )
    problem(
        world.anon.post(f"{VENDOR}/v2/accounts/poll", json={"data": {"poll_id": 7}}),
        404,
        "not-found",
    )
    # what str.isdigit takes for digits but int refuses (a 500 before), and beyond 64 bits
    for odd in ("\u00b2", "1" * 5000, "9" * 19, 2**70, -1):
        poll = {"data": {"poll_id": odd}}
        problem(world.anon.post(f"{VENDOR}/v2/accounts/poll", json=poll), 422, "invalid-input")


def test_collector_key_introduces_devices_into_its_virtual_account(world: World) -> None:
    collector = world.key(Role.SMART_ACCOUNT_ADMIN)
    dev = world.device("VIA-CSLU")
    headers = {"X-CSW-SMART-ACCOUNT-ID": DOMAIN, "X-CSW-VIRTUAL-ACCOUNT-ID": "Spare"}
    answer = ok(report(world, collector, dev.body(dev.report(TAG, 3)), headers=headers), 202)
    ack = only_ack(world, complete(world, collector, answer))
    assert ack["smartLicenseTrustCode"]["virtual_account"] == "Spare"  # trust delivered in the ACK
    assert pool_line(world.api, "Spare")["in_use"] == 3
    # the poll task belongs to the collector's key
    other = world.key(Role.SMART_ACCOUNT_ADMIN, name="another-collector")
    body = vendor_body(world, poll_id=answer["poll_id"], action="acknowledgements")
    problem(other.post(f"{VENDOR}/v2/accounts/poll", json=body), 403, "forbidden")
    # nor to a caller without a key (issue 8, finding 8: the check ran only when a key was sent)
    problem(world.anon.post(f"{VENDOR}/v2/accounts/poll", json=body), 403, "forbidden")
    # from now on the device may report on its own
    direct = ok(report(world, world.anon, dev.body(dev.report(TAG, 1))), 202)
    theirs = vendor_body(world, poll_id=direct["poll_id"], action="acknowledgements")
    problem(collector.post(f"{VENDOR}/v2/accounts/poll", json=theirs), 403, "forbidden")
    done = complete(world, world.anon, direct)
    assert len(done["data"]["acknowledgements"][0]["acknowledged"]) == 1


# ---------------------------------------------------------------- usage data files


def test_offline_usage_file_through_the_api(world: World) -> None:
    dev = world.device("OFFLINE1")
    reports = [dev.report(TAG, 1), dev.report(OTHER, 2)]
    created = ok(upload(world.api, "Spare", "UD_OFFLINE1.txt", usage_file(reports)), 201)
    assert (created["status"], created["instances"], created["reports"]) == ("Processed", 1, 2)
    assert created["acknowledgement"] == "Received"
    got = world.api.get(f"{ACCOUNT}/usage-files/{created['id']}/ack")
    assert got.status_code == 200 and got.headers["content-type"] == "application/xml"
    assert 'filename="ACK_UD_OFFLINE1.txt"' in got.headers["content-disposition"]
    ack = sections(world, got.content)
    assert ack["smartLicenseRumAck"]["acknowledged"] == sorted(map(report_id, reports))
    assert "smartLicenseTrustCode" in ack and "smartLicensePolicy" in ack
    # the same bytes again: answered with the first upload (same id, same ACK), counted once
    again = ok(upload(world.api, "Spare", "UD_OFFLINE1.txt", usage_file(reports)), 200)
    assert (again["id"], again["duplicate"], again["reports"]) == (created["id"], True, 2)
    assert world.api.get(f"{ACCOUNT}/usage-files/{again['id']}/ack").content == got.content
    assert pool_line(world.api, "Spare")["in_use"] == 1
    assert pool_line(world.api, "Spare", OTHER)["in_use"] == 2
    listing = usage_files(world)
    assert listing["total"] == 1 and {f["virtual_account"] for f in listing["items"]} == {"Spare"}
    # the same reports in another file (other bytes): acknowledged again, still counted once
    renamed = usage_file(list(reversed(reports)))
    again = ok(upload(world.api, "Spare", "UD_OFFLINE1b.txt", renamed), 201)
    assert (again["reports"], again["duplicate"]) == (2, False)
    assert pool_line(world.api, "Spare")["in_use"] == 1
    assert usage_files(world)["total"] == 2


def test_impostor_report_in_a_file_is_rejected(world: World) -> None:
    dev = world.device("OFFLINE2")
    ok(upload(world.api, "Spare", "a.xml", usage_file([dev.report(TAG, 1)])), 201)
    impostor = world.device("OFFLINE2")  # same UDI, another key
    refused = ok(upload(world.api, "Spare", "b.xml", usage_file([impostor.report(TAG, 5)])), 201)
    assert (refused["status"], refused["rejected"]) == ("Rejected", 1)
    assert "trust code" in refused["errors"][0]["reason"]
    assert pool_line(world.api, "Spare")["in_use"] == 1
    # its ACK tells the device which report was refused and why
    ack = sections(world, world.api.get(f"{ACCOUNT}/usage-files/{refused['id']}/ack").content)
    assert ack["smartLicenseRumAck"]["acknowledged"] == []
    assert ack["smartLicenseRumAck"]["rejected"][0]["reason"] == refused["errors"][0]["reason"]


def _archive(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_bulk_archive_answers_an_archive_of_acks(world: World) -> None:
    devs = [world.device(f"BULK{i}") for i in range(3)]
    archive = _archive({f"UD_{d.udi.sn}.txt": usage_file([d.report(TAG, 1)]) for d in devs})
    created = ok(upload(world.api, "Prod", "UD_SA.tar.gz", archive), 201)
    assert (created["instances"], created["reports"]) == (3, 3)
    got = world.api.get(f"{ACCOUNT}/usage-files/{created['id']}/ack")
    assert got.headers["content-type"] == "application/gzip"
    assert 'filename="ACK_UD_SA.tar.gz"' in got.headers["content-disposition"]
    with tarfile.open(fileobj=io.BytesIO(got.content), mode="r:gz") as tar:
        acks = [sections(world, tar.extractfile(m).read()) for m in tar]  # type: ignore[union-attr]
    assert sorted(a["smartLicenseRumAck"]["udi"]["sn"] for a in acks) == ["BULK0", "BULK1", "BULK2"]
    assert pool_line(world.api, "Prod")["in_use"] == 3


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<smartLicense><RUMReport>&lol2;</RUMReport></smartLicense>"""


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("bomb.xml", BOMB, "xml-dtd"),
        ("broken.xml", b"<smartLicense><RUMReport>", "malformed-xml"),
        ("empty.xml", b"<smartLicense/>", "empty-file"),
        ("cut.tar.gz", b"", "bad-archive"),  # replaced by a truncated archive below
    ],
)
def test_bad_files_are_refused_and_nothing_is_stored(
    world: World, name: str, data: bytes, code: str
) -> None:
    if code == "bad-archive":
        dev = world.device("CUT")
        data = _archive({"UD.txt": usage_file([dev.report(TAG, 1)] * 50)})[:200]
    body = problem(upload(world.api, "Prod", name, data), 422, code)
    assert body["detail"]
    assert usage_files(world)["total"] == 0
    assert ok(world.api.get(f"{ACCOUNT}/devices"))["total"] == 0


@pytest.fixture
def small_limit(monkeypatch: pytest.MonkeyPatch) -> int:
    """An authority whose upload limit is 4 KiB (requested before ``world`` starts it)."""
    assert AuthoritySettings().max_upload_bytes == 64 * 1024 * 1024
    monkeypatch.setenv("SMARTLIC_AUTHORITY_MAX_UPLOAD_BYTES", "4096")
    return 4096


def test_oversized_uploads_are_refused_while_streaming(small_limit: int, world: World) -> None:
    dev = world.device("BIG")
    data = usage_file([dev.report(TAG, 1) for _ in range(20)])
    assert len(data) > small_limit
    body = problem(upload(world.api, "Prod", "big.xml", data), 413, "payload-too-large")
    assert str(small_limit) in body["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        boundary = b"--b0undary"
        yield boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="x"\r\n\r\n'
        for i in range(0, len(data), 1000):
            yield data[i : i + 1000]
        yield b"\r\n" + boundary + b"--\r\n"

    chunked = world.api.post(
        va_path("Prod", "/usage-files"),
        content=chunks(),
        headers={"Content-Type": "multipart/form-data; boundary=b0undary"},
    )
    problem(chunked, 413, "payload-too-large")
    assert usage_files(world)["total"] == 0


def test_upload_needs_a_multipart_file_field(world: World) -> None:
    url = va_path("Prod", "/usage-files")
    problem(world.api.post(url, content=b"<smartLicense/>"), 415, "unsupported-media-type")
    problem(world.api.post(url, files={"other": ("x", b"1")}), 422, "invalid-input")
    dev = world.device("LOST")
    problem(
        upload(world.api, "Nowhere", "x.xml", usage_file([dev.report(TAG, 1)])), 404, "not-found"
    )
    assert usage_files(world)["total"] == 0


def test_cli_upload_on_the_same_database(world: World, db_url: str, tmp_path: Path) -> None:
    """An operator imports a file with ``smartlic admin usage upload``; the API serves its ACK."""
    dev = world.device("CLI1")
    path = tmp_path / "UD_CLI1.txt"
    path.write_bytes(usage_file([dev.report(TAG, 1), dev.report(TAG, 1)]))
    out = cli(world, db_url, tmp_path, "usage", "upload", DOMAIN, "Spare", str(path))
    assert "Processed, 1 device(s), 2 report(s), 0 rejected; ACK Received" in out
    [listed] = usage_files(world)["items"]
    assert listed["file_name"] == "UD_CLI1.txt" and listed["virtual_account"] == "Spare"
    ack = sections(world, world.api.get(f"{ACCOUNT}/usage-files/{listed['id']}/ack").content)
    assert len(ack["smartLicenseRumAck"]["acknowledged"]) == 2
    assert pool_line(world.api, "Spare")["in_use"] == 1


def cli(world: World, db_url: str, tmp_path: Path, *args: str) -> str:
    """``smartlic admin <args>`` on the live authority's database and keys, at its time."""
    lab = tmp_path / "lab-clock.json"
    offset = (world.live.clock.now() - datetime.now(UTC)).total_seconds()
    lab.write_text(json.dumps({"offset_seconds": offset}))
    env = {
        "SMARTLIC_AUTHORITY_DATA_DIR": str(tmp_path / "cli-authority"),
        "SMARTLIC_AUTHORITY_DATABASE_URL": db_url,
        "SMARTLIC_AUTHORITY_KEY_DIR": str(tmp_path / "keys"),
        "SMARTLIC_LAB_CLOCK": str(lab),
        "COLUMNS": "250",
    }
    result = CliRunner().invoke(policy_mode_app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


# ---------------------------------------------------------------- SLAC


def test_slac_online_through_authrequest_and_poll(world: World, trusted: PolicyDevice) -> None:
    def authrequest(**data: Any) -> dict[str, Any]:
        answer = ok(
            world.anon.post(f"{VENDOR}/v2/devices/authrequest", json=vendor_body(world, **data)),
            202,
        )
        assert answer["action"] == "authorizations"
        [item] = complete(world, world.anon, answer)["data"]["authorizations"]
        return item  # type: ignore[no-any-return]

    item = authrequest(requests=[trusted.auth_request({HSEC: 1})])
    assert item["status"] == "SUCCESS"
    code = sections(world, base64.b64decode(item["smart_license"]))["smartLicenseAuthorization"]
    assert code["entitlements"] == [{"tag": HSEC, "count": 1}] and code["udi"]["sn"] == "FOC1"
    assert pool_line(world.api, "Prod", HSEC)["reserved"] == 1
    # every item names the product instance and the code (the vendor's shape)
    iid = instance_id(world, "FOC1")
    assert (item["product_instance_identifier"], item["correlation_id"]) == (iid, code["code_id"])
    refused = authrequest(requests=[trusted.auth_request({HSEC: 1})])
    assert (refused["status"], refused["error_code"]) == ("FAILED", "insufficient-licenses")
    assert (refused["product_instance_identifier"], refused["correlation_id"]) == (None, None)
    freed = authrequest(returns=[{"sudi": {}, "remove_code": trusted.return_code(code["code_id"])}])
    assert freed == {
        "sudi": {},
        "smart_license": None,
        "status": "SUCCESS",
        "status_message": "returned",
        "error_code": None,
        "product_instance_identifier": iid,
        "correlation_id": code["code_id"],
    }
    assert pool_line(world.api, "Prod", HSEC)["reserved"] == 0


def test_an_api_user_returns_a_code_for_a_device(world: World, trusted: PolicyDevice) -> None:
    """``data.licenses`` with empty keys and a ``remove_code``: the return's item names the
    product instance and the returned code, as an issued code's does."""
    key = world.live.api_key(Role.SMART_ACCOUNT_ADMIN, DOMAIN)
    user = world.live.client(key)
    headers = {"X-CSW-SMART-ACCOUNT-ID": DOMAIN, "X-CSW-VIRTUAL-ACCOUNT-ID": "Prod"}
    sudi = {"udi_pid": PID, "udi_serial_number": "FOC1"}

    def ask(line: dict[str, Any]) -> dict[str, Any]:
        body = vendor_body(world, licenses=[{"sudi": sudi, "hostname": "r1", **line}])
        url = f"{VENDOR}/v2/devices/authrequest"
        answer = ok(user.post(url, json=body, headers=headers), 202)
        [item] = complete(world, user, answer)["data"]["authorizations"]
        return item  # type: ignore[no-any-return]

    issued = ask({"keys": [{"entitlement": HSEC, "count": 1}]})
    iid, code_id = instance_id(world, "FOC1"), issued["correlation_id"]
    assert issued["status"] == "SUCCESS" and issued["product_instance_identifier"] == iid
    assert pool_line(world.api, "Prod", HSEC)["reserved"] == 1
    returned = ask({"keys": [], "remove_code": trusted.return_code(code_id)})
    assert returned == {
        "sudi": sudi,
        "smart_license": None,
        "status": "SUCCESS",
        "status_message": "returned",
        "error_code": None,
        "product_instance_identifier": iid,
        "correlation_id": code_id,
    }
    assert pool_line(world.api, "Prod", HSEC)["reserved"] == 0
    again = ask({"keys": [], "remove_code": trusted.return_code(code_id)})  # already returned
    assert (again["status"], again["error_code"]) == ("FAILED", "not-found")
    assert (again["product_instance_identifier"], again["correlation_id"]) == (None, None)


def request_file(dev: PolicyDevice, usage: dict[str, int]) -> bytes:
    return write_file([("smartLicenseAuthRequest", dev.auth_request(usage))])


def test_slac_offline_request_file_and_return(world: World) -> None:
    first, second = world.device("AIRGAP1"), world.device("AIRGAP2")
    url = va_path("Prod", "/authorization-requests")
    got = world.api.post(url, files={"file": ("req.xml", request_file(first, {HSEC: 1}))})
    assert got.status_code == 200, got.text
    assert got.headers["content-type"] == "application/xml"
    assert "attachment" in got.headers["content-disposition"]
    code = sections(world, got.content)
    code_id = code["smartLicenseAuthorization"]["code_id"]
    assert "smartLicenseTrustCode" in code
    [listed] = ok(world.api.get(f"{ACCOUNT}/authorization-codes"))["items"]
    assert (listed["id"], listed["tag"], listed["count"]) == (code_id, HSEC, 1)
    # the pool is empty now
    refused = world.api.post(url, files={"file": ("r.xml", request_file(second, {HSEC: 1}))})
    problem(refused, 409, "insufficient-licenses")
    # the return code frees it
    returns = f"{ACCOUNT}/authorization-returns"
    freed = ok(world.api.post(returns, json={"return_code": first.return_code(code_id)}))
    assert freed["items"][0]["returned_at"] is not None
    assert pool_line(world.api, "Prod", HSEC)["reserved"] == 0
    assert ok(world.api.get(f"{ACCOUNT}/authorization-codes"))["total"] == 0
    every = ok(world.api.get(f"{ACCOUNT}/authorization-codes", params={"include_returned": True}))
    assert every["total"] == 1
    problem(
        world.api.post(returns, json={"return_code": first.return_code(code_id)}), 404, "not-found"
    )
    problem(world.api.post(returns, json={"return_code": "not-a-code"}), 422, "bad-return-code")
    # now the second device can have it
    assert (
        world.api.post(url, files={"file": ("r.xml", request_file(second, {HSEC: 1}))}).status_code
        == 200
    )


def test_slac_request_file_must_hold_one_request(world: World) -> None:
    url = va_path("Prod", "/authorization-requests")
    problem(world.api.post(url, files={"file": ("x.xml", b"<smartLicense/>")}), 422, "bad-file")
    problem(world.api.post(url, files={"file": ("x.xml", BOMB)}), 422, "xml-dtd")
    assert pool_line(world.api, "Prod", HSEC)["reserved"] == 0


# ---------------------------------------------------------------- policies


def custom_policy(name: str = "SLE Policy", days: int = 60) -> dict[str, Any]:
    doc = CISCO_DEFAULT.to_json() | {"name": name, "ack_required": False}
    doc["groups"][LicenseGroup.UNENFORCED_PERPETUAL.value]["reporting_frequency_days"] = days
    return doc


def test_custom_policy_appears_in_the_next_ack(world: World, trusted: PolicyDevice) -> None:
    body = custom_policy() | {"virtual_account": "Prod"}
    created = ok(world.api.post(f"{ACCOUNT}/policies", json=body), 201)
    assert (created["name"], created["virtual_account"], created["active"]) == (
        "SLE Policy",
        "Prod",
        True,
    )
    in_force = ok(world.api.get(va_path("Prod", "/policy")))
    assert in_force["name"] == "SLE Policy" and in_force["source"] == "Customer Policy"
    assert ok(world.api.get(va_path("Spare", "/policy")))["name"] == CISCO_DEFAULT.name
    answer = ok(report(world, world.anon, trusted.body(trusted.report(TAG, 1))), 202)
    policy = only_ack(world, complete(world, world.anon, answer))["smartLicensePolicy"]["policy"]
    group = policy["groups"][LicenseGroup.UNENFORCED_PERPETUAL.value]
    assert policy["name"] == "SLE Policy" and group["reporting_frequency_days"] == 60


def test_account_policy_and_invalid_policies(world: World) -> None:
    ok(world.api.post(f"{ACCOUNT}/policies", json=custom_policy("Account Policy", 30)), 201)
    assert ok(world.api.get(va_path("Spare", "/policy")))["name"] == "Account Policy"
    listing = ok(world.api.get(f"{ACCOUNT}/policies"))
    assert [(p["name"], p["virtual_account"]) for p in listing["items"]] == [
        ("Account Policy", None)
    ]
    problem(world.api.post(f"{ACCOUNT}/policies", json={"name": "x"}), 422, "invalid-input")
    bad = custom_policy() | {"virtual_account": "Nowhere"}
    problem(world.api.post(f"{ACCOUNT}/policies", json=bad), 404, "not-found")
    assert ok(world.api.get(f"{ACCOUNT}/policies"))["total"] == 1


# ---------------------------------------------------------------- trust, tenants, roles


def test_trust_twice_needs_force(world: World, trusted: PolicyDevice) -> None:
    again = PolicyDevice(trusted.udi, world.live.clock)  # a new trust key
    url = "/api/device/v1/trust"
    problem(world.anon.post(url, json=again.trust_request(token(world))), 409, "already-registered")
    ok(world.anon.post(url, json=again.trust_request(token(world), force=True)))
    problem(world.anon.post(url, json=again.trust_request("bogus")), 403, "token-unknown")


def test_trust_refuses_revoked_expired_and_used_up_tokens(world: World) -> None:
    """Trust refuses a token as registration does (``tokens._active_row``, one home for both):
    each refusal with its code, and nothing stored changed."""
    url = "/api/device/v1/trust"
    revoked = create_token(world.api)
    ok(world.api.post(f"{ACCOUNT}/tokens/{revoked['token']['id']}/actions/revoke"))
    once = create_token(world.api, max_uses=1)["text"]
    ok(world.anon.post(url, json=world.device("USED1").trust_request(once)))
    expiring = create_token(world.api, expires_after_days=1)["text"]
    world.live.clock.advance(days=1, seconds=1)
    refusals = {revoked["text"]: "token-revoked", expiring: "token-expired", once: "token-used-up"}
    for text, code in refusals.items():
        before = snapshot(world.api)
        problem(world.anon.post(url, json=world.device("NEW1").trust_request(text)), 403, code)
        assert snapshot(world.api) == before


def test_another_tenant_sees_nothing(world: World, trusted: PolicyDevice) -> None:
    ok(world.api.post(f"{V1}/accounts", json={"name": "Rival", "domain": "rival.example"}), 201)
    rival = world.key(Role.SMART_ACCOUNT_ADMIN, "rival.example")
    dev = world.device("RIVAL1")
    created = ok(upload(world.api, "Prod", "u.xml", usage_file([dev.report(TAG, 1)])), 201)
    for response in (
        rival.get(f"{ACCOUNT}/usage-files"),
        rival.get(f"{ACCOUNT}/usage-files/{created['id']}/ack"),
        upload(rival, "Prod", "u.xml", usage_file([dev.report(TAG, 1)])),
        rival.get(f"{ACCOUNT}/policies"),
        rival.post(f"{ACCOUNT}/policies", json=custom_policy()),
        rival.get(va_path("Prod", "/policy")),
        rival.get(f"{ACCOUNT}/authorization-codes"),
        rival.post(f"{ACCOUNT}/authorization-returns", json={"return_code": "x"}),
        rival.post(va_path("Prod", "/authorization-requests"), files={"file": ("r", b"<a/>")}),
        rival.get(f"{ACCOUNT}/devices/{instance_id(world, 'FOC1')}/usage"),
        report(
            world, rival, dev.body(dev.report(TAG, 1)), headers={"X-CSW-SMART-ACCOUNT-ID": DOMAIN}
        ),
    ):
        assert response.status_code in (403, 404), response.text
        assert response.json()["code"] in ("forbidden", "not-found")  # problem or vendor shape
    assert usage_files(world)["total"] == 1
    assert pool_line(world.api, "Prod")["in_use"] == 1


def test_roles_and_missing_keys(world: World) -> None:
    reader = world.key(Role.SMART_ACCOUNT_USER)
    dev = world.device("READER")
    problem(upload(reader, "Prod", "u.xml", usage_file([dev.report(TAG, 1)])), 403, "forbidden")
    ok(reader.get(f"{ACCOUNT}/usage-files"))
    problem(reader.post(f"{ACCOUNT}/policies", json=custom_policy()), 403, "forbidden")
    problem(world.anon.get(f"{ACCOUNT}/usage-files"), 401, "unauthenticated")
    bad_key = world.live.client("slk_nope")
    problem(report(world, bad_key, dev.body(dev.report(TAG, 1))), 401, "unauthenticated")
    only_va = {"X-CSW-VIRTUAL-ACCOUNT-ID": "Prod"}
    problem(
        report(world, world.api, dev.body(dev.report(TAG, 1)), headers=only_va),
        422,
        "invalid-input",
    )
    assert usage_files(world)["total"] == 0


def test_admin_key_names_the_account_in_headers(world: World) -> None:
    dev = world.device("VIA-ADMIN")
    headers = {"X-CSW-SMART-ACCOUNT-ID": DOMAIN, "X-CSW-VIRTUAL-ACCOUNT-ID": "Prod"}
    answer = ok(report(world, world.api, dev.body(dev.report(TAG, 2)), headers=headers), 202)
    ack = only_ack(world, complete(world, world.api, answer))
    assert ack["smartLicenseAccountInfo"]["virtual_account"] == "Prod"
    assert pool_line(world.api, "Prod")["in_use"] == 2
    lost = {"X-CSW-SMART-ACCOUNT-ID": "nobody.example", "X-CSW-VIRTUAL-ACCOUNT-ID": "Prod"}
    other = world.device("LOST")
    problem(
        report(world, world.api, other.body(other.report(TAG, 1)), headers=lost), 404, "not-found"
    )
