"""On-disk state: atomic, 0600, HMAC-protected; a distrusted file never grants more."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from smartlic.agent._state import (
    AgentState,
    AuthorizationRecord,
    Job,
    RegistrationRecord,
    StateStore,
)
from smartlic.agent._status import Attempt
from smartlic.agent._transports import TransportConfig
from smartlic.crypto import generate_key
from smartlic.domain.enums import AuthorizationState, RegistrationState

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


def _full_state() -> AgentState:
    reg = RegistrationRecord(
        instance_id="i-1",
        certificate_pem="CERT",
        ca_certificate_pem="CA",
        smart_account="Example",
        virtual_account="DEFAULT",
        export_controlled_allowed=True,
        registered_at=NOW,
        certificate_expires=NOW + timedelta(days=365),
        renew_after=NOW + timedelta(days=180),
    )
    auth = AuthorizationRecord(
        status=AuthorizationState.AUTHORIZED,
        statuses={"t": "AUTHORIZED"},
        counts={"t": 2},
        authorized_at=NOW,
        next_communication=NOW + timedelta(days=30),
        deadline=NOW + timedelta(days=90),
    )
    return AgentState(
        transport=TransportConfig(
            type="smart", url="https://a.example", proxy_address="p", proxy_port=3128
        ),
        registration_state=RegistrationState.REGISTERED,
        registration=reg,
        authorization=auth,
        initial_registration=Attempt(NOW, True),
        communication=Job(next_at=NOW, failures=2, last=Attempt(NOW, False, "down")),
        eval_used_s=1234.5678,
    )


def test_a_fresh_directory_is_a_new_device(tmp_path: Path) -> None:
    state, problem = StateStore(tmp_path).load(NOW)
    assert problem is None
    assert state == AgentState()


def test_round_trip_keeps_everything(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.save(_full_state())
    state, problem = StateStore(tmp_path).load(NOW)
    assert problem is None
    assert state == _full_state()


def test_files_are_private_and_no_temporaries_are_left(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.save(_full_state())
    store.save(AgentState())
    store.save_identity_key(generate_key())
    for name in ("state.json", "state.key", "identity.key"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["identity.key", "state.json", "state.key"]


def _edit(path: Path, **changes: object) -> None:
    outer = json.loads(path.read_text())
    data = json.loads(outer["data"])
    data.update(changes)
    outer["data"] = json.dumps(data)
    path.write_text(json.dumps(outer))


def _assert_distrusted(state: AgentState, problem: str | None) -> None:
    assert problem is not None
    assert state.registration_state is RegistrationState.UNREGISTERED
    assert state.registration is None and state.authorization is None
    assert state.eval_forfeited and state.eval_expired_at == NOW


def test_an_edited_file_is_detected_and_grants_nothing(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.save(_full_state())
    _edit(store.state_path, eval_used_s=0.0)
    state, problem = store.load(NOW)
    _assert_distrusted(state, problem)
    assert problem == "state file failed its integrity check"
    assert state.transport.url == "https://a.example"  # configuration is kept: it grants nothing


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda s: s.state_path.write_text("{not json"), "state file is corrupted"),
        (lambda s: s.state_path.unlink(), "state file is missing"),
        (lambda s: s.key_path.unlink(), "state integrity key is missing"),
        (lambda s: s.key_path.write_bytes(b"x" * 32), "state file failed its integrity check"),
    ],
)
def test_damage_is_detected(tmp_path: Path, damage: object, reason: str) -> None:
    store = StateStore(tmp_path)
    store.save(_full_state())
    damage(store)  # type: ignore[operator]
    state, problem = store.load(NOW)
    _assert_distrusted(state, problem)
    assert problem == reason


def test_a_validly_signed_but_malformed_state_is_distrusted(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.save(AgentState())
    outer = json.loads(store.state_path.read_text())
    data = json.dumps({"registration_state": "NOT A STATE"})
    outer.update(data=data, hmac=store._mac(data))
    store.state_path.write_text(json.dumps(outer))
    state, problem = store.load(NOW)
    _assert_distrusted(state, problem)


def test_identity_key_round_trip_and_delete(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    assert store.load_identity_key() is None
    key = generate_key()
    store.save_identity_key(key)
    loaded = store.load_identity_key()
    assert loaded is not None
    assert loaded.public_key().public_bytes_raw() == key.public_key().public_bytes_raw()
    store.delete_identity_key()
    assert store.load_identity_key() is None


def test_an_unchanged_state_is_not_rewritten_but_a_changed_file_is(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    state = _full_state()
    store.save(state)
    written = store.state_path.stat().st_mtime_ns
    store.save(state)  # nothing changed: no write (timers save after every tick)
    assert store.state_path.stat().st_mtime_ns == written
    state.eval_used_s += 1
    store.save(state)
    assert store.load(NOW)[0].eval_used_s == state.eval_used_s
    store.state_path.write_text("{}")  # damaged under us: the next save repairs it
    store.save(state)
    assert store.load(NOW) == (state, None)
