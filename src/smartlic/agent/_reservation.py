"""The device's license reservation engine: Specific (SLR) and Permanent/Universal (PLR)
License Reservation, for devices that never talk to the authority (domain-notes 1.6).

The flow, all offline::

    license smart reservation                     (config) reservation mode on
    license smart reservation request local       -> request code, typed into the authority
    license smart reservation install "<code>"    <- the authority's signed authorization code
    license smart reservation return local        -> return code, typed into the authority

An installed code authorizes the licenses it names (SLR: up to its counts; PLR: every license)
with no further contact: classic usage shows ``AUTHORIZED - RESERVED``; after an upgrade to
Smart Licensing Using Policy the code keeps covering enforced licenses ("The SLR authorization
code is supported after upgrade to Smart Licensing Using Policy", second reference document).

Checks at install, each refused with the state unchanged: the code verifies against the pinned
authority CA (``formats.reservation.verify_authorization``: chain, signature, type, UDI of this
device), answers *this* device's outstanding request code (the vendor's "The Reservation
Authorization Code does not match the Reservation Request Code") and was never installed before.
The installed code is verified again whenever the engine is built (a state file is never taken
on its own say-so).

Collaborators are explicit: the persisted ``ReservationState`` (a getter), the clock, the one
verifier, the pinned CA (a getter), the device key that signs return codes, the manager's lock
and a ``changed`` callback that re-derives and saves.

Usage::

    engine = ReservationEngine(lambda: state.reservation, udi=udi, clock=clock,
                               verifier=verifier, ca=get_ca, key=get_key, lock=lock,
                               changed=on_change)
    engine.enable(True)
    text = engine.request()
    engine.install(code_text)
    engine.covers(tag, 2)        # True when the reservation authorizes 2 of tag
    engine.release()             # the return code
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from smartlic.clock import Clock
from smartlic.crypto import Udi
from smartlic.domain.enums import AuthorizationState, RegistrationState
from smartlic.errors import Conflict, SmartlicError
from smartlic.formats.reservation import (
    UNIVERSAL,
    RequestCode,
    ReservationAuthorization,
    make_return_code,
    verify_authorization,
)
from smartlic.formats.signed import SignedVerifier

if TYPE_CHECKING:
    from smartlic.agent._status import Status

__all__ = [
    "AUTHORIZED_RESERVED",
    "ReservationEngine",
    "ReservationState",
    "ReservationStatus",
]

AUTHORIZED_RESERVED = AuthorizationState.AUTHORIZED_RESERVED.value
NOT_AUTHORIZED = "NOT AUTHORIZED"
IN_USE = "IN USE"  # policy mode's status of a usable license
MISMATCH = "The Reservation Authorization Code does not match the Reservation Request Code"


@dataclass
class ReservationState:
    """What the device remembers of its reservation (inside the HMAC-protected state)."""

    enabled: bool = False
    request_code: str | None = None  # outstanding request
    authorization: str | None = None  # the installed code, as installed
    installed_at: datetime | None = None
    last_return_code: str | None = None
    last_confirmation_code: str | None = None
    used_codes: list[str] = field(default_factory=list)  # code ids installed before


@dataclass(frozen=True)
class ReservationStatus:
    """``show license reservation`` and the tech-support ``Reservation Info`` block, as data."""

    enabled: bool
    status: str  # "NOT INSTALLED", "RESERVATION IN PROGRESS", "SPECIFIC INSTALLED", ...
    installed_at: datetime | None = None
    reservation_type: str | None = None  # SPECIFIC | UNIVERSAL while installed
    request_code: str | None = None
    last_return_code: str | None = None
    confirmation_code: str | None = None
    authorization_code: str | None = None
    licenses: tuple[tuple[str, int], ...] = ()  # (tag, reserved count), SLR


class ReservationEngine:
    """Request, install, cancel and return a reservation; answers what it authorizes."""

    def __init__(
        self,
        state: Callable[[], ReservationState],
        *,
        udi: Udi,
        clock: Clock,
        verifier: SignedVerifier,
        ca: Callable[[], x509.Certificate | None],
        key: Callable[[], Ed25519PrivateKey],
        lock: threading.RLock,
        changed: Callable[[], None],
    ) -> None:
        self._state, self.udi, self.clock = state, udi, clock
        self._verifier, self._ca, self._key = verifier, ca, key
        self._lock, self._changed = lock, changed
        self.installed: ReservationAuthorization | None = None
        self.reload()

    def reload(self) -> None:
        """Re-verify the stored code (at start, and after the state was replaced): a code that
        no longer verifies authorizes nothing."""
        s, self.installed = self._state(), None
        if s.authorization is None:
            return
        with contextlib.suppress(SmartlicError):
            # checked as of its signing: a reservation outlives the signing certificate
            self.installed = verify_authorization(
                s.authorization, self._verifier, ca=self._safe_ca(), udi=self.udi, at_issue=True
            )

    # ------------------------------------------------------------ verbs

    def enable(self, on: bool) -> None:
        """``license smart reservation`` / ``no license smart reservation``."""
        with self._lock:
            s = self._state()
            if not on and (self.installed is not None or s.request_code is not None):
                raise Conflict(
                    "a reservation is installed or requested: return or cancel it first",
                    code="reservation-in-progress",
                )
            s.enabled = on
            self._changed()

    def request(self) -> str:
        """``license smart reservation request local``: a new request code (kept until
        installed or cancelled; asking again gives the same one)."""
        with self._lock:
            s = self._require_enabled()
            if self.installed is not None:
                raise Conflict("Already registered", code="already-registered")
            if s.request_code is None:
                s.request_code = RequestCode.new(self.udi, self._key().public_key()).text
                self._changed()
            return s.request_code

    def install(self, text: str) -> ReservationAuthorization:
        """Verify and install an authorization code; on any refusal nothing changes."""
        with self._lock:
            s = self._require_enabled()
            if self.installed is not None:
                raise Conflict("a reservation authorization code is already installed",
                               code="reservation-already-installed")  # fmt: skip
            auth = verify_authorization(text, self._verifier, ca=self._safe_ca(), udi=self.udi)
            if auth.code_id in s.used_codes:
                raise Conflict(f"{MISMATCH}: this code was installed and returned before",
                               code="reservation-code-reused")  # fmt: skip
            if s.request_code is None or auth.request_code != s.request_code:
                raise Conflict(MISMATCH, code="reservation-mismatch")
            s.authorization, s.installed_at = auth.text, self.clock.now()
            s.request_code, s.last_confirmation_code = None, auth.confirmation_code
            s.used_codes.append(auth.code_id)
            self.installed = auth
            self._changed()
            return auth

    def cancel(self) -> None:
        """``license smart reservation cancel``: drop the outstanding request."""
        with self._lock:
            s = self._require_enabled()
            if s.request_code is None:
                raise Conflict("no reservation request is in progress",
                               code="no-reservation-in-progress")  # fmt: skip
            s.request_code = None
            self._changed()

    def release(self) -> str:
        """``license smart reservation return local``: remove the code; the return code (signed
        by this device's key) proves it to the authority."""
        with self._lock:
            s = self._require_enabled()
            if self.installed is None:
                raise Conflict("no reservation authorization code is installed",
                               code="no-authorization-installed")  # fmt: skip
            code = make_return_code(self._key(), self.installed.code_id, self.udi)
            s.authorization, s.installed_at, s.last_return_code = None, None, code
            self.installed = None
            self._changed()
            return code

    # ------------------------------------------------------------ what it authorizes

    def counts(self) -> Mapping[str, int] | None:
        """Reserved counts per tag; ``None`` when nothing is installed."""
        if self.installed is None:
            return None
        return {e.tag: e.count for e in self.installed.entitlements}

    def covers(self, tag: str, count: int) -> bool:
        auth = self.installed
        if auth is None:
            return False
        if auth.reservation_type == UNIVERSAL:
            return True
        return count <= sum(e.count for e in auth.entitlements if e.tag == tag)

    def classic_view(self, view: Any, usage: Mapping[str, int], *, enabled: bool) -> Any:
        """The classic ``View`` with the reservation applied: covered licenses AUTHORIZED -
        RESERVED, others NOT AUTHORIZED ("License not present in SLR auth code")."""
        s = self._state()
        if self.installed is None or not enabled:
            return view
        statuses = {
            tag: AUTHORIZED_RESERVED if self.covers(tag, n) else NOT_AUTHORIZED
            for tag, n in usage.items()
        }
        return replace(view, state=AuthorizationState.AUTHORIZED_RESERVED, statuses=statuses,
                       since=s.installed_at)  # fmt: skip

    def policy_view(self, view: Any, usage: Mapping[str, int]) -> Any:
        """The policy-mode view: a license the SLR code covers is IN USE."""
        if self.installed is None:
            return view
        statuses = {
            tag: IN_USE if st == NOT_AUTHORIZED and self.covers(tag, usage.get(tag, 0)) else st
            for tag, st in view.statuses.items()
        }
        return replace(view, statuses=statuses)

    def status(self) -> ReservationStatus:
        s, auth = self._state(), self.installed
        word = "NOT INSTALLED"
        if auth is not None:
            word = f"{auth.reservation_type} INSTALLED"
        elif s.request_code is not None:
            word = "RESERVATION IN PROGRESS"
        return ReservationStatus(
            enabled=s.enabled, status=word, installed_at=s.installed_at if auth else None,
            reservation_type=auth.reservation_type if auth else None,
            request_code=s.request_code, last_return_code=s.last_return_code,
            confirmation_code=s.last_confirmation_code,
            authorization_code=auth.text if auth else None,
            licenses=tuple((e.tag, e.count) for e in auth.entitlements) if auth else (),
        )  # fmt: skip

    def decorate(self, snapshot: Status, *, classic: bool) -> Status:
        """The status snapshot with the reservation: its block, and in classic mode the
        registration the vendor shows ("REGISTERED - SPECIFIC LICENSE RESERVATION")."""
        mine = self.status()
        out = replace(snapshot, reservation=mine)
        if self.installed is None or not classic or not snapshot.enabled:
            return out
        reg = replace(snapshot.registration, state=RegistrationState.REGISTERED,
                      reservation=self.installed.reservation_type)  # fmt: skip
        return replace(out, registration=reg)

    # ------------------------------------------------------------ helpers

    def _require_enabled(self) -> ReservationState:
        s = self._state()
        if not s.enabled:
            raise Conflict("license reservation is not enabled (configure 'license smart "
                           "reservation' first)", code="reservation-not-enabled")  # fmt: skip
        return s

    def _safe_ca(self) -> x509.Certificate | None:
        try:
            return self._ca()
        except SmartlicError:
            return None
