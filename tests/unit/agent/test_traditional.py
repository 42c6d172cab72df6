"""Traditional licensing in the agent, without a network: license files signed by real
authority keys, strict enforcement, evaluation periods, the end user agreement, the state
re-verified at load, and the mode switch to classic Smart Licensing and back."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from smartlic.agent import LicenseManager, OffTransport
from smartlic.authority.keys import AuthorityKeys
from smartlic.clock import ManualClock
from smartlic.crypto import Udi
from smartlic.domain.products import PROFILES
from smartlic.errors import Conflict, Forbidden, InvalidInput, SignatureInvalid
from smartlic.formats.envelope import seal
from smartlic.formats.license_file import license_payload, new_serial, write_license_file

PROFILE = PROFILES["asr903-16"]
UDI = Udi("ASR-903", "FOXTRAD0001")
ATM = PROFILE.license("atm").tag
METRO = PROFILE.license("metroipaccess").tag
Make = Callable[..., LicenseManager]


@pytest.fixture
def make(tmp_path: Path, clock: ManualClock, authority: AuthorityKeys) -> Iterator[Make]:
    made: list[LicenseManager] = []

    def build(**overrides: Any) -> LicenseManager:
        kwargs: dict[str, Any] = {
            "udi": UDI,
            "hostname": "r16",
            "state_dir": tmp_path / "device",
            "transport": OffTransport(),
            "clock": clock,
            "catalogue": {s.tag: s for s in PROFILE.licenses},
            "mode": "traditional",
            "authority_ca": authority.ca_pem,
        }
        manager = LicenseManager(**{**kwargs, **overrides})
        made.append(manager)
        return manager

    yield build
    for manager in made:
        manager.close()


def license_file(
    authority: AuthorityKeys, clock: ManualClock, feature: str, **options: Any
) -> bytes:
    fields = {"count": None, "eval_days": None, **options}
    udi = fields.pop("udi", UDI)
    payload = license_payload(udi, feature, serial=new_serial(), now=clock.now(), **fields)
    return write_license_file(seal(payload, authority.signer, with_certificate=True))


def test_strict_enforcement_until_a_license_is_installed(
    make: Make, authority: AuthorityKeys, clock: ManualClock
) -> None:
    manager = make()
    with pytest.raises(Forbidden) as refused:
        manager.request(METRO)
    assert refused.value.code == "no-license" and manager.usage() == {}
    lic, new = manager.traditional.install(license_file(authority, clock, "metroipaccess"))
    assert new and lic.permanent
    manager.request(METRO)
    assert manager.is_authorized(METRO) and manager.check(METRO) == "IN USE"
    assert manager.status().mode == "traditional"


def test_the_evaluation_right_to_use_needs_the_agreement_and_runs_out(
    make: Make, clock: ManualClock
) -> None:
    manager = make()
    assert manager.traditional.accept_eula() and not manager.traditional.accept_eula()
    manager.request(ATM)
    clock.advance(days=59)
    manager.tick()
    assert manager.is_authorized(ATM)
    clock.advance(days=2)
    manager.tick()
    assert not manager.is_authorized(ATM) and manager.check(ATM) == "NOT LICENSED"
    [line] = [x for x in manager.traditional.lines() if x.feature == "atm"]
    assert line.left is not None and line.left.total_seconds() == 0


def test_refused_files_leave_the_state_unchanged(
    make: Make, authority: AuthorityKeys, clock: ManualClock, tmp_path: Path
) -> None:
    manager = make()
    state = (tmp_path / "device" / "state.json").read_bytes()
    other = license_file(authority, clock, "atm", udi=Udi("ASR-903", "FOXOTHER"))
    with pytest.raises(SignatureInvalid) as wrong:
        manager.traditional.install(other)
    assert wrong.value.code == "wrong-device"
    good = license_file(authority, clock, "atm", count=2)
    with pytest.raises(SignatureInvalid) as altered:
        manager.traditional.install(good.replace(b"<count>2<", b"<count>9<"))
    assert altered.value.code == "tampered"
    stranger = AuthorityKeys.create(tmp_path / "stranger", clock.now())
    payload = license_payload(UDI, "atm", count=None, eval_days=None, serial="LF1", now=clock.now())
    with pytest.raises(SignatureInvalid):
        manager.traditional.install(
            write_license_file(seal(payload, stranger.signer, with_certificate=True))
        )
    short = license_file(authority, clock, "atm", eval_days=1)
    clock.advance(days=2)
    with pytest.raises(InvalidInput) as expired:
        manager.traditional.install(short)
    assert expired.value.code == "expired"
    assert (tmp_path / "device" / "state.json").read_bytes() == state


def test_installed_licenses_are_verified_again_at_load(
    make: Make, authority: AuthorityKeys, clock: ManualClock, tmp_path: Path
) -> None:
    first = make()
    first.traditional.install(license_file(authority, clock, "metroipaccess"))
    first.traditional.install(license_file(authority, clock, "atm", eval_days=5))
    first.close()
    clock.advance(days=30)  # the evaluation file expired since: it stays installed
    again = make()
    assert [x.serial is not None for x in again.traditional.lines()].count(True) == 2
    assert again.traditional.available("metroipaccess")


def test_smart_mode_disables_the_verbs_and_carries_the_licenses_back(
    make: Make, authority: AuthorityKeys, clock: ManualClock
) -> None:
    manager = make()
    data = license_file(authority, clock, "metroipaccess")
    manager.set_mode("classic")
    with pytest.raises(Conflict) as smart:
        manager.traditional.install(data)
    assert smart.value.code == "smart-mode"
    manager.set_mode("traditional")
    manager.traditional.install(data)
    manager.set_mode("classic")
    manager.set_mode("traditional")
    assert manager.traditional.available("metroipaccess")
    with pytest.raises(Conflict) as unregistered:
        manager.set_mode("classic")
        manager.traditional.start_conversion()
    assert unregistered.value.code == "not-registered"
    assert manager.traditional.conversion().status == "NOT STARTED"


def test_a_hand_edited_state_drops_nothing_it_cannot_verify(
    make: Make, authority: AuthorityKeys, clock: ManualClock, tmp_path: Path
) -> None:
    manager = make()
    manager.traditional.install(license_file(authority, clock, "metroipaccess"))
    manager.close()
    path = tmp_path / "device" / "state.json"
    outer = json.loads(path.read_bytes())
    outer["data"] = outer["data"].replace('"eula_accepted":false', '"eula_accepted":true')
    path.write_text(json.dumps(outer))
    reopened = make()
    assert reopened.status().state_integrity_error is not None
    assert not reopened.traditional.eula_accepted and reopened.traditional.lines()[0].serial is None
