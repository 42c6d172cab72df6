"""Authorization requests (SLAC) and returns, and trust by token, through the collector: the
authority's signed authorization code reaches the device unchanged on its next poll."""

from __future__ import annotations

import base64

from smartlic.collector.services import _base
from smartlic.domain.products import make_tag
from tests.authority.api.helpers import V1, create_token, ok, pool_line, problem, va_path
from tests.collector.conftest import PI, Collector, World

HSEC = make_tag("hseck9")


def hold_hsec(world: World, quantity: int = 1) -> None:
    body = {"tag": HSEC, "name": "hseck9", "display_name": "HSECK9"}
    ok(world.api.post(f"{V1}/licenses", json=body | {"enforcement": "export-controlled"}), 201)
    ok(world.api.post(va_path("Prod", "/licenses"), json={"tag": HSEC, "quantity": quantity}), 201)


def auth(collector: Collector, **data: object) -> dict[str, object]:
    answer = ok(collector.pi.post(f"{PI}/v2/devices/authrequest", json=collector.body(**data)))
    assert answer["action"] == "authorizations"
    assert collector.poll(answer)["status"] == "OK_POLL"
    collector.services.forwarder.sync()
    done = collector.poll(answer)
    assert done["status"] == "COMPLETE" and done["type"] == "authorizations"
    return done


def test_authorization_code_and_return(world: World, collector: Collector) -> None:
    hold_hsec(world)
    dev = world.device("SLAC1")
    done = auth(collector, requests=[dev.auth_request({HSEC: 1})])
    [item] = done["data"]["authorizations"]  # type: ignore[index]
    assert item["status"] == "SUCCESS", item
    code = world.sections(base64.b64decode(item["smart_license"]))["smartLicenseAuthorization"]
    assert code["entitlements"] == [{"tag": HSEC, "count": 1}]
    assert pool_line(world.api, "Prod", HSEC)["reserved"] == 1
    [status] = collector.services.status.devices()
    assert status.alerts == [_base.AUTH_RECEIVED]

    returned = {"sudi": {"udi_pid": dev.udi.pid, "udi_serial_number": "SLAC1"},
                "remove_code": dev.return_code(code["code_id"])}  # fmt: skip
    [ret] = auth(collector, returns=[returned])["data"]["authorizations"]  # type: ignore[index]
    assert ret["status"] == "SUCCESS"
    assert pool_line(world.api, "Prod", HSEC)["reserved"] == 0


def test_refused_authorization_is_passed_on(world: World, collector: Collector) -> None:
    hold_hsec(world, quantity=1)
    one, two = world.device("SLAC2"), world.device("SLAC3")
    done = auth(collector, requests=[one.auth_request({HSEC: 1}), two.auth_request({HSEC: 1})])
    statuses = [i["status"] for i in done["data"]["authorizations"]]  # type: ignore[index]
    assert statuses == ["SUCCESS", "FAILED"]
    alerts = {s.name: s.alerts[0] for s in collector.services.status.devices()}
    assert alerts[f"UDI_PID:{two.udi.pid}; UDI_SN:SLAC3"].startswith("FAILED Authorization")


def test_trust_by_token_through_the_collector(world: World, collector: Collector) -> None:
    dev = world.device("TRUST1")
    token = create_token(world.api, "Prod")["text"]
    answer = ok(collector.pi.post(f"{PI}/v1/trust", json=dev.trust_request(token)))
    trust = world.sections(base64.b64decode(answer["smart_license"]))["smartLicenseTrustCode"]
    assert trust["udi"] == {"pid": dev.udi.pid, "sn": "TRUST1"}
    # the collector now pins the device's key: a report signed by another key is refused
    from smartlic.crypto import generate_key
    from smartlic.formats.rum import read_report, sign_report

    forged = sign_report(read_report(dev.report(HSEC, 1)), generate_key())
    url = f"{PI}/v2/devices/reportusage"
    problem(collector.pi.post(url, json=dev.body(forged)), 401, "bad-signature")


def test_trust_needs_connectivity(world: World, collector: Collector) -> None:
    collector.prefs(connectivity=False)
    dev = world.device("TRUST2")
    problem(collector.pi.post(f"{PI}/v1/trust", json=dev.trust_request("x")), 503, "unavailable")


def test_authorization_codes_while_disconnected(world: World, collector: Collector) -> None:
    hold_hsec(world)
    collector.prefs(connectivity=False)
    dev = world.device("SLOFF1")
    url = f"{PI}/v2/devices/authrequest"
    answer = ok(collector.pi.post(url, json=collector.body(requests=[dev.auth_request({HSEC: 1})])))
    [(name, request_file)] = collector.services.transfer.export_requests()
    assert name.startswith("AUTH_") and b"smartLicenseAuthRequest" in request_file
    api = world.live.client(world.collector_key)
    files = {"file": (name, request_file, "application/xml")}
    code_file = api.post(va_path("Prod", "/authorization-requests"), files=files)
    assert code_file.status_code == 200, code_file.text
    imported = ok(collector.api.post("/api/v1/import", content=code_file.content))
    assert imported["new_files"] == 1
    done = collector.poll(answer)
    [item] = done["data"]["authorizations"]
    assert item["status"] == "SUCCESS"
    assert base64.b64decode(item["smart_license"]) == code_file.content  # unchanged
    assert ok(collector.api.post("/api/v1/import", content=code_file.content))["new_files"] == 0
    assert collector.services.transfer.export_requests() == []
    # codes the collector never asked for: nothing waits for them, or nobody it knows
    from smartlic.formats.slp import write_file

    hold_hsec_more(world)
    for sn, status, code in (
        ("SLOFF1", 409, "no-pending-request"),
        ("SLOFF9", 403, "unknown-device"),
    ):
        direct = world.device(sn) if sn != "SLOFF1" else dev
        body = write_file([("smartLicenseAuthRequest", direct.auth_request({HSEC: 1}))])
        files = {"file": ("req.xml", body, "application/xml")}
        stray = api.post(va_path("Prod", "/authorization-requests"), files=files)
        assert stray.status_code == 200, stray.text
        problem(collector.api.post("/api/v1/import", content=stray.content), status, code)


def hold_hsec_more(world: World) -> None:
    ok(world.api.post(va_path("Prod", "/licenses"), json={"tag": HSEC, "quantity": 5}), 201)
