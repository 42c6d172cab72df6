"""The agent's persistent state: what it is, and how it is stored safely in ``state_dir``.

Files (all mode 0600)::

    state.json     {"version": 1, "data": "<compact JSON>", "hmac": "<hex HMAC-SHA256 of data>"}
    state.key      32 random bytes: the per-device HMAC key
    identity.key   the device's Ed25519 identity private key (PEM), while registered
    trust.key      the device's Ed25519 trust key (PEM, policy mode): signs RUM reports

Writes are atomic (temporary file, fsync, ``os.replace``, fsync of the directory), so a crash
leaves the previous or the next state, never half of one.

Integrity: the HMAC detects a corrupted or hand-edited file. A state that fails the check is
never trusted to grant anything: registration and authorization are dropped (the device must
register again, which re-pins the authority's CA), and the evaluation period is treated as
*consumed* - resetting it to 90 days is exactly what an editor would want. The reason stays in
the state (``integrity_error``) until a successful registration. A missing state file beside an
existing key counts as tampering too; deleting the whole directory is a factory reset, which
this scheme cannot tell from a new device (real devices keep this in secure storage). Replaying
an older, genuine state file is not detected either (that would need a monotonic counter in
hardware).

Usage::

    store = StateStore(state_dir)
    state, problem = store.load()       # problem is None or why the file was not trusted
    state.enabled = False
    store.save(state)
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from smartlic.agent._codec import from_json, to_json
from smartlic.agent._policy_state import PolicyState
from smartlic.agent._reservation import ReservationState
from smartlic.agent._status import Attempt
from smartlic.agent._traditional_state import TraditionalState
from smartlic.agent._transports import TransportConfig
from smartlic.crypto import generate_key, load_private_key, save_private_key
from smartlic.domain.enums import AuthorizationState, RegistrationState
from smartlic.errors import SmartlicError

__all__ = [
    "AgentState",
    "AuthorizationRecord",
    "Job",
    "RegistrationRecord",
    "StateStore",
]

STATE_VERSION = 1


@dataclass
class RegistrationRecord:
    """What a verified ``registration`` response established."""

    instance_id: str
    certificate_pem: str
    ca_certificate_pem: str
    smart_account: str
    virtual_account: str
    export_controlled_allowed: bool
    registered_at: datetime
    certificate_expires: datetime
    renew_after: datetime
    # The signed response and its request's nonce: ``export_controlled_allowed`` is re-derived
    # from them at every load (``_held``), as the authorization is.
    document: str | None = None
    request_nonce: str | None = None


@dataclass
class AuthorizationRecord:
    """What the last verified ``authorization`` response said, with its signed deadlines."""

    status: AuthorizationState
    statuses: dict[str, str]
    counts: dict[str, int]
    authorized_at: datetime
    next_communication: datetime
    deadline: datetime
    # The signed response (compact JSON) and the nonce of the request it answered: the fields
    # above are re-derived from them at every load (``_protocol.rederive_authorization``).
    document: str | None = None
    request_nonce: str | None = None


@dataclass
class Job:
    """A recurring or retried exchange: when it is due, how often it failed, how it last went."""

    next_at: datetime | None = None
    failures: int = 0
    last: Attempt | None = None


@dataclass
class AgentState:
    """Everything the agent remembers across restarts (not usage: products re-request)."""

    enabled: bool = True
    transport: TransportConfig = field(default_factory=TransportConfig)
    registration_state: RegistrationState = RegistrationState.UNREGISTERED
    registration: RegistrationRecord | None = None
    authorization: AuthorizationRecord | None = None
    initial_registration: Attempt | None = None
    register_job: Job = field(default_factory=Job)
    pending_token: str | None = None  # kept while a registration is retried (file is 0600)
    pending_force: bool = False
    id_renewal: Job = field(default_factory=Job)
    communication: Job = field(default_factory=Job)
    eval_used_s: float = 0.0
    eval_forfeited: bool = False  # set by a failed integrity check: no evaluation left
    eval_expired_at: datetime | None = None
    integrity_error: str | None = None
    # "classic", "policy" or "traditional"; "classic" for states written before policy mode
    # existed (the field was absent then);
    # a new device starts in policy mode (``LicenseManager``).
    mode: str = "classic"
    policy: PolicyState = field(default_factory=PolicyState)
    traditional: TraditionalState = field(default_factory=TraditionalState)
    reservation: ReservationState = field(default_factory=ReservationState)


class StateStore:
    """Loads and saves ``AgentState`` in a directory, HMAC-protected and atomically."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.state_path = self.directory / "state.json"
        self.key_path = self.directory / "state.key"
        self.identity_path = self.directory / "identity.key"
        self.trust_path = self.directory / "trust.key"
        # (data, mtime_ns, size) of the last file this store wrote: see ``save``
        self._written: tuple[str, int, int] | None = None

    # ------------------------------------------------------------ state

    def load(self, now: datetime) -> tuple[AgentState, str | None]:
        """The stored state and ``None``, or a distrusted state and the reason."""
        has_state, has_key = self.state_path.exists(), self.key_path.exists()
        if not has_state and not has_key:
            return AgentState(), None
        if not has_state:
            return _distrusted(None, now), "state file is missing"
        if not has_key:
            return _distrusted(None, now), "state integrity key is missing"
        return self._load_checked(now)

    def _load_checked(self, now: datetime) -> tuple[AgentState, str | None]:
        try:
            outer = json.loads(self.state_path.read_bytes())
            data, mac = outer["data"], outer["hmac"]
            if not isinstance(data, str) or not isinstance(mac, str):
                raise TypeError("malformed state file")
        except (OSError, ValueError, TypeError, KeyError):
            return _distrusted(None, now), "state file is corrupted"
        if not hmac.compare_digest(mac, self._mac(data)):
            return _distrusted(data, now), "state file failed its integrity check"
        try:
            return from_json(AgentState, json.loads(data)), None
        except (ValueError, TypeError, KeyError, SmartlicError):
            return _distrusted(data, now), "state file is corrupted"

    def save(self, state: AgentState) -> None:
        """Write ``state`` atomically, unless the file on disk already holds exactly it.

        Timers save after every tick, and a device shell ticks around every command: with
        nothing changed, the write and its two fsyncs were most of a ``show`` command's cost
        (bench/fleet.py). The file is rewritten whenever it changed under us (mtime, size)."""
        data = json.dumps(to_json(state), separators=(",", ":"), sort_keys=True)
        if self._written is not None and self._written == (data, *self._file_stamp()):
            return
        outer = {"version": STATE_VERSION, "data": data, "hmac": self._mac(data)}
        _atomic_write(self.state_path, json.dumps(outer, indent=1).encode())
        self._written = (data, *self._file_stamp())

    def _file_stamp(self) -> tuple[int, int]:
        try:
            info = self.state_path.stat()
        except OSError:
            return -1, -1
        return info.st_mtime_ns, info.st_size

    def _mac(self, data: str) -> str:
        return hmac.new(self._key(), data.encode(), hashlib.sha256).hexdigest()

    def _key(self) -> bytes:
        if not self.key_path.exists():
            _atomic_write(self.key_path, secrets.token_bytes(32))
        return self.key_path.read_bytes()

    # ------------------------------------------------------------ identity key

    def load_identity_key(self) -> Ed25519PrivateKey | None:
        if not self.identity_path.exists():
            return None
        try:
            return load_private_key(self.identity_path)
        except (ValueError, SmartlicError):
            return None

    def save_identity_key(self, key: Ed25519PrivateKey) -> None:
        save_private_key(key, self.identity_path)

    def delete_identity_key(self) -> None:
        self.identity_path.unlink(missing_ok=True)

    # ------------------------------------------------------------ trust key (policy mode)

    def trust_key(self) -> Ed25519PrivateKey:
        """The trust key, created (0600) on first use; it never changes afterwards."""
        if self.trust_path.exists():
            with contextlib.suppress(ValueError, SmartlicError):
                return load_private_key(self.trust_path)
        key = generate_key()
        save_private_key(key, self.trust_path)
        return key


def _distrusted(data: str | None, now: datetime) -> AgentState:
    """A state that grants nothing: unregistered, evaluation consumed; config kept if readable."""
    state = AgentState(eval_forfeited=True, eval_expired_at=now)
    state.transport = _salvage_transport(data)
    state.mode = _salvage_mode(data)
    return state


def _salvage_mode(data: str | None) -> str:
    # The mode grants nothing either; without it a policy-mode device would fall back to classic.
    with contextlib.suppress(ValueError, TypeError, KeyError):
        mode = json.loads(data or "null")["mode"]
        if mode in ("classic", "policy", "traditional"):
            return str(mode)
    return "policy" if data is None else "classic"


def _salvage_transport(data: str | None) -> TransportConfig:
    # The transport settings grant nothing (every response is still checked against a CA the
    # next registration pins), so keeping the operator's configuration is safe.
    with contextlib.suppress(ValueError, TypeError, KeyError, SmartlicError):
        raw: Any = json.loads(data or "null")
        return from_json(TransportConfig, raw["transport"])
    return TransportConfig()


def _atomic_write(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can fsync a directory
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
