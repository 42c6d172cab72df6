"""Issue 8, finding 9: the state HMAC key sits beside the state, so its owner can rewrite the
state and recompute the HMAC. Nothing that grants a license is believed as stored: the classic
authorization is re-derived from the authority's signed response at every load."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from smartlic.domain.enums import AuthorizationState
from tests.e2e.conftest_agent import (
    ATM,
    IPSEC,
    Authority,
    authority_fixture,  # noqa: F401  (provides the ``authority`` fixture)
)

pytestmark = pytest.mark.e2e


def forge(directory: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    """What the device's owner can do: edit the data, recompute the HMAC with state.key."""
    outer = json.loads((directory / "state.json").read_bytes())
    data = json.loads(outer["data"])
    edit(data)
    text = json.dumps(data, separators=(",", ":"), sort_keys=True)
    mac = hmac.new((directory / "state.key").read_bytes(), text.encode(), hashlib.sha256)
    outer.update(data=text, hmac=mac.hexdigest())
    (directory / "state.json").write_text(json.dumps(outer))


def _to_2099(data: dict[str, Any]) -> None:
    auth = data["authorization"]
    auth.update(status="AUTHORIZED", deadline="2099-01-01T00:00:00+00:00")
    auth["counts"] = {ATM.tag: 100}
    auth["statuses"] = {ATM.tag: "AUTHORIZED"}


def test_an_owner_rewriting_the_state_with_its_key_gains_nothing(authority: Authority) -> None:
    device = authority.device()
    device.register(authority.token())  # no ATM bought: the pool is empty
    device.request(ATM.tag)
    device.tick()
    assert device.status().authorization.state is AuthorizationState.OUT_OF_COMPLIANCE
    deadline = device.status().authorization.communication_deadline
    assert deadline is not None
    device.close()
    directory = authority.tmp_path / "devices" / "FOX0001"

    forge(directory, _to_2099)
    again = authority.device()
    again.request(ATM.tag)
    status = again.status()
    assert status.state_integrity_error is None  # the HMAC matches: the key was used
    assert status.authorization.communication_deadline == deadline  # not 2099
    assert status.authorization.state is AuthorizationState.OUT_OF_COMPLIANCE
    assert again.check(ATM.tag) == "OUT OF COMPLIANCE"


def test_an_authorization_without_its_signed_response_is_dropped(authority: Authority) -> None:
    authority.buy(ATM.tag, 1)
    device = authority.device()
    device.register(authority.token())
    device.close()
    directory = authority.tmp_path / "devices" / "FOX0001"

    def strip(data: dict[str, Any]) -> None:
        _to_2099(data)
        data["authorization"]["document"] = None

    forge(directory, strip)
    again = authority.device()
    again.request(ATM.tag)
    assert again.check(ATM.tag) != "AUTHORIZED"
    status = again.status()
    assert status.authorization.communication_deadline is None
    assert status.authorization.state is not AuthorizationState.AUTHORIZED


def test_export_permission_cannot_be_written_into_the_state(authority: Authority) -> None:
    authority.buy(IPSEC.tag, 1)
    device = authority.device()
    device.register(authority.token(export_controlled_allowed=False))
    device.request(IPSEC.tag)
    device.tick()
    assert device.check(IPSEC.tag) == "NOT AUTHORIZED"
    device.close()

    def allow(data: dict[str, Any]) -> None:
        data["registration"]["export_controlled_allowed"] = True
        data["authorization"]["statuses"] = {IPSEC.tag: "AUTHORIZED"}

    forge(authority.tmp_path / "devices" / "FOX0001", allow)
    again = authority.device()
    again.request(IPSEC.tag)
    assert again.check(IPSEC.tag) == "NOT AUTHORIZED"
    assert not again.is_authorized(IPSEC.tag)
