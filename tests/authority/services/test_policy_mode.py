"""Smart Licensing Using Policy at the service layer: trust, usage ingest, ACKs, files, SLAC."""

from __future__ import annotations

import base64
import io
import json
import tarfile
from typing import Any

import pytest

from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.services.interfaces import Principal
from smartlic.authority.services.scope import SYSTEM, system
from smartlic.crypto import Udi, load_certificate, verify_certificate
from smartlic.domain.enums import Enforcement, Role
from smartlic.domain.policy import CISCO_DEFAULT, LicenseGroup
from smartlic.domain.products import make_tag
from smartlic.errors import (
    AlreadyRegistered,
    Forbidden,
    InsufficientLicenses,
    InvalidInput,
    NotFound,
    ReplayDetected,
)
from smartlic.formats.rum import sudi_json, usage_file
from smartlic.formats.signed import open_sealed
from smartlic.formats.slp import read_file
from tests.authority.services.conftest import TAG, World
from tests.devices import PolicyDevice

HSEC = make_tag("hseck9")


def _sections(world: World, keys: AuthorityKeys, data: bytes) -> dict[str, dict[str, Any]]:
    """Verify every section of an authority file; name -> payload."""
    out = {}
    for name, env in read_file(data):
        cert = load_certificate(env["certificate"])
        verify_certificate(cert, keys.ca.certificate, at=world.clock.now())
        out[name] = open_sealed(env, cert.public_key())  # type: ignore[arg-type]
    return out


def _line(world: World, va: str, tag: str = TAG) -> Any:
    return next(
        ln
        for ln in world.services.licenses.compliance(world.domain, va, scope=SYSTEM).lines
        if ln.tag == tag
    )


def _complete(
    world: World, answer: dict[str, Any], principal: Principal | None = None
) -> dict[str, Any]:
    """Poll as the caller that made the request (a device: no principal)."""
    assert answer["status"] == "OK_POLL" and answer["poll_interval"] == 300
    done = world.services.usage.poll({"data": {"poll_id": answer["poll_id"]}}, principal)
    assert done["status"] == "COMPLETE"
    return done


@pytest.fixture
def trusted(world: World, keys: AuthorityKeys) -> PolicyDevice:
    world.services.licenses.add_holding(
        world.domain, "East", tag=TAG, quantity=3, scope=system("t")
    )
    token = world.services.tokens.create_token(world.domain, "East", scope=system("t")).text
    dev = PolicyDevice(Udi("IXM-LPWA-900-16-K9", "FOC1"), world.clock)
    answer = world.services.trust.establish(dev.trust_request(token))
    got = _sections(world, keys, base64.b64decode(answer["smart_license"]))
    assert got["smartLicenseTrustCode"]["udi"] == {"pid": "IXM-LPWA-900-16-K9", "sn": "FOC1"}
    assert got["smartLicenseAccountInfo"]["virtual_account"] == "East"
    assert got["smartLicensePolicy"]["policy"] == CISCO_DEFAULT.to_json()
    return dev


def test_direct_reporting_is_acknowledged_and_counted(
    world: World, keys: AuthorityKeys, trusted: PolicyDevice
) -> None:
    r1, r2 = trusted.report(TAG, 2), trusted.report(TAG, 2)
    done = _complete(world, world.services.usage.report_usage(trusted.body(r1, r2)))
    [ack_item] = done["data"]["acknowledgements"]
    ack = _sections(world, keys, base64.b64decode(ack_item["smart_license"]))
    assert ack["smartLicenseRumAck"]["acknowledged"] == sorted(
        [json.loads(r["payload"])["asset_identification"]["report_id"] for r in (r1, r2)]
    )
    assert _line(world, "East").in_use == 2
    # the same reports again: acknowledged, not counted twice
    _complete(world, world.services.usage.report_usage(trusted.body(r1, r2)))
    assert _line(world, "East").in_use == 2
    assert world.services.instances.list_instances(world.domain, "East", scope=SYSTEM).total == 1


def test_replayed_request_and_tampered_report(
    world: World, keys: AuthorityKeys, trusted: PolicyDevice
) -> None:
    body = trusted.body(trusted.report(TAG, 1))
    world.services.usage.report_usage(body)
    with pytest.raises(ReplayDetected):
        world.services.usage.report_usage(body)
    bad = trusted.report(TAG, 1)
    bad["payload"] = bad["payload"].replace('"value":"1"', '"value":"3"')
    done = _complete(world, world.services.usage.report_usage(trusted.body(bad)))
    # No ACK any more: sent without a key and proving nothing, the report would have been
    # answered with an ACK naming the accounts that hold the device (issue 8). It is refused
    # for this device alone, with its reason.
    assert done["data"]["acknowledgements"] == []
    assert "does not verify" in done["data"]["errors"][0]["rejected"][0]["reason"]
    assert _line(world, "East").in_use == 1
    names = [e.name for e in world.services.events.list_events(world.domain, scope=SYSTEM).items]
    assert "usage.report.rejected" in names


def test_a_reused_nonce_stores_nothing_of_its_request(world: World, trusted: PolicyDevice) -> None:
    """The nonce may be claimed by the request's last write (PostgreSQL): a request reusing
    one, even with new reports, is refused and rolls back everything it wrote."""
    first = trusted.body(trusted.report(TAG, 1))
    world.services.usage.report_usage(first)
    later = trusted.body(trusted.report(TAG, 3))
    later["data"]["nonce"] = first["data"]["nonce"]
    with pytest.raises(ReplayDetected, match="nonce reused"):
        world.services.usage.report_usage(later)
    assert _line(world, "East").in_use == 1  # the new report was not counted
    events = world.services.events.list_events(None, name_prefix="usage.", scope=SYSTEM).items
    assert [e.name for e in events].count("usage.report.acknowledged") == 1
    instances = world.services.instances.list_instances(world.domain, "East", scope=SYSTEM)
    history = world.services.usage.usage_history(world.domain, instances.items[0].id, scope=SYSTEM)
    assert [r.last_value for r in history] == [1]
    # the same reports with a fresh nonce: counted now
    _complete(
        world,
        world.services.usage.report_usage(trusted.body(*later["data"]["reports"][0]["usage"])),
    )
    assert _line(world, "East").in_use == 3


def test_a_request_of_many_devices_claims_its_nonce(world: World, trusted: PolicyDevice) -> None:
    """A request with more events than its poll task's statement carries (PostgreSQL: the
    claim then runs on its own) is acknowledged for every device, and its replay refused with
    nothing of it stored. (Such a request once failed on PostgreSQL with a TypeError: 500.)"""
    token = world.services.tokens.create_token(world.domain, "East", scope=system("t")).text
    fleet = [trusted] + [PolicyDevice(Udi("IXM", f"MANY{i}"), world.clock) for i in range(4)]
    for dev in fleet[1:]:
        world.services.trust.establish(dev.trust_request(token))
    body = trusted.body()
    body["data"]["reports"] = [
        {"sudi": sudi_json(d.udi), "usage": [d.report(TAG, 1)]} for d in fleet
    ]
    done = _complete(world, world.services.usage.report_usage(body))
    assert len(done["data"]["acknowledgements"]) == 5
    assert _line(world, "East").in_use == 5
    body["data"]["reports"] = [
        {"sudi": sudi_json(d.udi), "usage": [d.report(TAG, 2)]} for d in fleet
    ]
    with pytest.raises(ReplayDetected, match="nonce reused"):
        world.services.usage.report_usage(body)
    assert _line(world, "East").in_use == 5


def test_untrusted_device_cannot_report_directly(world: World) -> None:
    dev = PolicyDevice(Udi("IXM", "STRANGER"), world.clock)
    done = _complete(world, world.services.usage.report_usage(dev.body(dev.report(TAG, 1))))
    assert done["data"]["acknowledgements"] == []
    assert "no trust code" in done["data"]["errors"][0]["rejected"][0]["reason"]
    assert world.services.instances.list_instances(world.domain, scope=SYSTEM).total == 0


def test_older_report_never_overwrites_newer_usage(world: World, trusted: PolicyDevice) -> None:
    now = int(world.clock.now().timestamp())
    new = trusted.report(TAG, 3, start=now - 3600)
    old = trusted.report(TAG, 1, start=now - 7200 * 10)
    world.services.usage.report_usage(trusted.body(new))
    world.services.usage.report_usage(trusted.body(old))
    assert _line(world, "East").in_use == 3


def test_offline_upload_introduces_device_and_delivers_trust(
    world: World, keys: AuthorityKeys
) -> None:
    dev = PolicyDevice(Udi("IXM", "OFFLINE1"), world.clock)
    data = usage_file([dev.report(TAG, 1), dev.report(TAG, 1)])
    out = world.services.usage.upload_usage_file(
        world.domain, "West", file_name="report", content=data, scope=system("user:ops")
    )
    assert (out.status, out.instances, out.reports, out.acknowledgement) == (
        "Processed",
        1,
        2,
        "Received",
    )
    name, ack = world.services.usage.usage_file_ack(world.domain, out.id, scope=SYSTEM)
    got = _sections(world, keys, ack)
    assert name == "ACK_report" and len(got["smartLicenseRumAck"]["acknowledged"]) == 2
    assert "smartLicenseTrustCode" in got
    assert _line(world, "West").in_use == 1
    # a report for the same device signed with another key is refused
    world.clock.advance(minutes=1)
    impostor = PolicyDevice(Udi("IXM", "OFFLINE1"), world.clock)
    out2 = world.services.usage.upload_usage_file(
        world.domain,
        "West",
        file_name="r2",
        content=usage_file([impostor.report(TAG, 5)]),
        scope=system("user:ops"),
    )
    assert out2.status == "Rejected" and out2.rejected == 1
    assert _line(world, "West").in_use == 1
    files = world.services.usage.list_usage_files(world.domain, scope=SYSTEM)
    assert [f.file_name for f in files.items] == ["r2", "report"]


def test_bulk_archive_and_broken_uploads(world: World) -> None:
    devs = [PolicyDevice(Udi("IXM", f"BULK{i}"), world.clock) for i in range(3)]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for i, d in enumerate(devs):
            data = usage_file([d.report(TAG, 1)])
            info = tarfile.TarInfo(f"dev_{i}.txt")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    out = world.services.usage.upload_usage_file(
        world.domain, "East", file_name="UD_SA.tar.gz", content=buf.getvalue(), scope=system("t")
    )
    assert (out.instances, out.reports) == (3, 3)
    _, ack = world.services.usage.usage_file_ack(world.domain, out.id, scope=SYSTEM)
    with tarfile.open(fileobj=io.BytesIO(ack), mode="r:gz") as tar:
        assert len(tar.getnames()) == 3
    for bad in (buf.getvalue()[:40], b"<smartLicense>", b'<!DOCTYPE a [<!ENTITY x "y">]><a/>'):
        with pytest.raises(InvalidInput):
            world.services.usage.upload_usage_file(
                world.domain, "East", file_name="bad", content=bad, scope=system("t")
            )
    assert world.services.usage.list_usage_files(world.domain, scope=SYSTEM).total == 1


def test_custom_policy_travels_in_the_ack(
    world: World, keys: AuthorityKeys, trusted: PolicyDevice
) -> None:
    doc = CISCO_DEFAULT.to_json() | {"name": "SLE Policy", "ack_required": False}
    doc["groups"][LicenseGroup.UNENFORCED_PERPETUAL.value]["reporting_frequency_days"] = 60
    world.services.policies.create_policy(
        world.domain, document=doc, virtual_account="East", scope=system("t")
    )
    done = _complete(world, world.services.usage.report_usage(trusted.body(trusted.report(TAG, 1))))
    ack = _sections(
        world, keys, base64.b64decode(done["data"]["acknowledgements"][0]["smart_license"])
    )
    policy = ack["smartLicensePolicy"]["policy"]
    assert policy["name"] == "SLE Policy" and policy["source"] == "Customer Policy"
    assert (
        policy["groups"][LicenseGroup.UNENFORCED_PERPETUAL.value]["reporting_frequency_days"] == 60
    )
    with pytest.raises(InvalidInput):
        world.services.policies.create_policy(
            world.domain, document={"name": "x"}, scope=system("t")
        )


def test_trust_twice_needs_force(world: World, trusted: PolicyDevice) -> None:
    token = world.services.tokens.create_token(world.domain, "East", scope=system("t")).text
    other = PolicyDevice(trusted.udi, world.clock)
    with pytest.raises(AlreadyRegistered):
        world.services.trust.establish(other.trust_request(token))
    world.services.trust.establish(other.trust_request(token, force=True))


@pytest.fixture
def hsec(world: World) -> str:
    world.services.licenses.define_license(
        tag=HSEC,
        name="hseck9",
        display_name="HSECK9",
        enforcement=Enforcement.EXPORT_CONTROLLED,
        scope=system("t"),
    )
    world.services.licenses.add_holding(
        world.domain, "East", tag=HSEC, quantity=1, scope=system("t")
    )
    return HSEC


def test_export_controlled_authorization_lifecycle(
    world: World, keys: AuthorityKeys, trusted: PolicyDevice, hsec: str
) -> None:
    svc = world.services.authorizations
    issued = svc.request(trusted.auth_request({hsec: 1}))
    code = _sections(world, keys, issued.file)["smartLicenseAuthorization"]
    assert code["entitlements"] == [{"tag": hsec, "count": 1}] and code["udi"]["sn"] == "FOC1"
    assert _line(world, "East", hsec).reserved == 1
    second = PolicyDevice(Udi("IXM", "FOC2"), world.clock)
    principal = Principal("ops", Role.SMART_ACCOUNT_ADMIN, world.domain)
    with pytest.raises(InsufficientLicenses):
        svc.request(second.auth_request({hsec: 1}), principal=principal, virtual_account="East")
    freed = svc.return_code(
        trusted.return_code(issued.code_id), domain=world.domain, scope=system("t")
    )
    assert freed[0].returned_at is not None and _line(world, "East", hsec).reserved == 0
    with pytest.raises(NotFound):
        svc.return_code(trusted.return_code(issued.code_id), domain=world.domain, scope=system("t"))
    svc.request(second.auth_request({hsec: 1}), principal=principal, virtual_account="East")
    with pytest.raises(InvalidInput):
        svc.request(trusted.auth_request({TAG: 1}))  # unenforced: no code needed


def test_export_refused_when_not_allowed(world: World, hsec: str) -> None:
    token = world.services.tokens.create_token(
        world.domain, "East", scope=system("t"), export_controlled_allowed=False
    ).text
    dev = PolicyDevice(Udi("IXM", "NOEXPORT"), world.clock)
    world.services.trust.establish(dev.trust_request(token))
    with pytest.raises(Forbidden) as err:
        world.services.authorizations.request(dev.auth_request({hsec: 1}))
    assert err.value.code == "export-not-allowed"
    assert _line(world, "East", hsec).reserved == 0


def test_online_authrequest_and_return_via_poll(
    world: World, keys: AuthorityKeys, trusted: PolicyDevice, hsec: str
) -> None:
    svc = world.services.authorizations
    answer = svc.authrequest({"data": {"requests": [trusted.auth_request({hsec: 1})]}})
    done = _complete(world, answer)
    [item] = done["data"]["authorizations"]
    assert item["status"] == "SUCCESS"
    code = _sections(world, keys, base64.b64decode(item["smart_license"]))
    code_id = code["smartLicenseAuthorization"]["code_id"]
    refused = _complete(
        world, svc.authrequest({"data": {"requests": [trusted.auth_request({hsec: 1})]}})
    )["data"]["authorizations"][0]
    assert (refused["status"], refused["error_code"]) == ("FAILED", "insufficient-licenses")
    ret = _complete(
        world,
        svc.authrequest(
            {"data": {"returns": [{"sudi": {}, "remove_code": trusted.return_code(code_id)}]}}
        ),
    )
    assert ret["data"]["authorizations"][0]["status"] == "SUCCESS"
    assert _line(world, "East", hsec).reserved == 0


def test_offline_request_file_counts_once_at_any_age(
    world: World, keys: AuthorityKeys, trusted: PolicyDevice, hsec: str
) -> None:
    from smartlic.formats.slp import write_file

    world.services.licenses.add_holding(
        world.domain, "East", tag=hsec, quantity=1, scope=system("t")
    )
    content = write_file([("smartLicenseAuthRequest", trusted.auth_request({hsec: 1}))])
    world.clock.advance(days=20)  # carried to the authority weeks later
    code = world.services.authorizations.request_file(
        world.domain, "East", content=content, scope=system("user:ops")
    )
    assert (
        _sections(world, keys, code)["smartLicenseAuthorization"]["entitlements"][0]["count"] == 1
    )
    for _ in range(2):  # a replay, even after the replay window's pruning would have run
        world.clock.advance(days=1)
        with pytest.raises(ReplayDetected):
            world.services.authorizations.request_file(
                world.domain, "East", content=content, scope=system("user:ops")
            )
    assert _line(world, "East", hsec).reserved == 1


def test_a_collector_may_forward_an_old_request(
    world: World, keys: AuthorityKeys, trusted: PolicyDevice, hsec: str
) -> None:
    request = trusted.auth_request({hsec: 1})
    world.clock.advance(hours=6)  # the collector was cut off from the authority
    principal = Principal("collector", Role.SMART_ACCOUNT_ADMIN, world.domain)
    answer = world.services.authorizations.authrequest(
        {"data": {"requests": [request]}}, principal=principal
    )
    [item] = _complete(world, answer, principal)["data"]["authorizations"]
    assert item["status"] == "SUCCESS"
    direct = world.services.authorizations.authrequest({"data": {"requests": [request]}})
    [again] = _complete(world, direct)["data"]["authorizations"]
    assert again["status"] == "FAILED" and again["error_code"] == "replay"


def test_refusals_are_recorded_in_the_event_log(
    world: World, trusted: PolicyDevice, hsec: str
) -> None:
    request = trusted.auth_request({hsec: 1})
    world.services.authorizations.request(request)
    with pytest.raises(ReplayDetected):
        world.services.authorizations.request(request)
    with pytest.raises(InvalidInput):
        world.services.authorizations.return_code(
            "not-a-code", domain=world.domain, scope=system("u:1")
        )
    events = world.services.events.list_events(
        None, name_prefix="license.authorization.", scope=SYSTEM
    )
    refused = {e.name: e for e in events.items if e.name.endswith("refused")}
    assert refused["license.authorization.refused"].properties["code"] == "replay"
    assert refused["license.authorization.refused"].subject == str(trusted.udi)
    back = refused["license.authorization.return_refused"]
    assert back.actor == "u:1" and back.smart_account == world.domain


def test_refused_usage_is_in_the_event_log(world: World, trusted: PolicyDevice) -> None:
    body = trusted.body(trusted.report(TAG, 1))
    world.services.usage.report_usage(body)
    with pytest.raises(ReplayDetected):
        world.services.usage.report_usage(body)
    with pytest.raises(InvalidInput):
        world.services.usage.upload_usage_file(
            world.domain,
            "East",
            file_name="evil.xml",
            content=b'<!DOCTYPE a [<!ENTITY x "y">]><smartLicense/>',
            scope=system("user:ops"),
        )
    events = world.services.events.list_events(None, name_prefix="usage.", scope=SYSTEM).items
    refused = {e.name: e for e in events if e.name.endswith(".refused")}
    assert refused["usage.report.refused"].properties["code"] == "replay"
    assert refused["usage.file.refused"].properties["code"] == "xml-dtd"
    assert refused["usage.file.refused"].smart_account == world.domain
    assert refused["usage.file.refused"].actor == "user:ops"
