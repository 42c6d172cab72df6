"""``LicenseManager``: the SDK a product embeds - a thin facade over one engine per licensing
mode, sharing one ``AgentContext`` (``_context``: state store, transport, clock, event bus,
signed-document verifier):

* ``SmartEngine`` (``_smart``): classic Smart Licensing - registration, renewals, evaluation;
* ``PolicyEngine`` (``_policy_runtime``): Smart Licensing Using Policy - RUM reports, trust,
  authorization codes, the on-box API;
* ``TraditionalEngine`` (``_traditional``): node-locked, strictly enforced license files (the
  default of software that predates Smart Licensing; ``_traditional_verbs`` are its verbs).

The active engine is the one ``state.mode`` names; a mode switch (``set_mode``) is a transition
between engines over the same state, so what one mode established (a registration's CA, usage,
installed codes) is there for the next. No engine inherits from another or from the facade.

Mode. ``mode="policy"`` or ``"classic"`` at construction is persisted; without it the manager
keeps the persisted mode, and a NEW device (no state yet) starts in policy mode, as devices
shipped with Smart Licensing Using Policy do. A state written before policy mode existed is
classic.

Reservations. ``manager.reservation`` is the ``ReservationEngine`` (``_reservation``, SLR and
PLR) over the same collaborators; its verbs are its own, and the smart and policy engines ask
it what an installed reservation authorizes (``classic_view``, ``policy_view``, ``covers``).

Why ``request()`` does not send the authorization itself: a feature check-out must not block
on (or fail with) the network. It only marks the usage as changed; ``tick()`` (called by the
product's scheduler or by the ``start()`` thread) sends it, and ``sync()`` sends it at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from smartlic.agent._context import AgentContext
from smartlic.agent._events import EventCallback
from smartlic.agent._policy_runtime import PolicyEngine
from smartlic.agent._policy_verbs import Which
from smartlic.agent._reservation import ReservationEngine
from smartlic.agent._smart import SmartEngine
from smartlic.agent._state import AgentState, StateStore
from smartlic.agent._status import Attempt, Status
from smartlic.agent._timers import Timers
from smartlic.agent._traditional import TraditionalEngine
from smartlic.agent._traditional_verbs import TraditionalVerbs
from smartlic.agent._transports import Transport, TransportConfig, make_transport
from smartlic.agent._usage import Handle, Ticker, check_request
from smartlic.clock import Clock, SystemClock
from smartlic.crypto import Udi
from smartlic.domain.products import DEFAULT_PROFILE, LicenseSpec
from smartlic.errors import Conflict, InvalidInput, NotFound

__all__ = ["Handle", "LicenseManager", "Mode"]

Mode = Literal["classic", "policy", "traditional"]
MODES: tuple[str, ...] = ("classic", "policy", "traditional")


class LicenseManager:
    """The license manager of one product instance: Smart Licensing Using Policy (the default
    for a new device) or classic Smart Licensing (``mode="classic"``).

    Usage::

        manager = LicenseManager(
            udi=Udi("ASR-903", "FOX1234"), hostname="router1", state_dir=Path("/var/lib/lic"),
            transport=SmartTransport("https://authority.example"), clock=SystemClock(),
        )
        handle = manager.request(tag)            # no I/O; EVAL MODE until authorized
        if manager.is_authorized(tag): ...       # a dict read
        manager.register(token_text)             # REGISTERED + AUTHORIZED (raises on refusal)
        manager.start()                          # background tick(): renewals, retries, expiry
        manager.status().authorization.state     # AuthorizationState.AUTHORIZED
        manager.release(handle)
        manager.close()

    * Checks: ``is_authorized(tag)`` is true for AUTHORIZED, OUT OF COMPLIANCE, EVAL MODE and
      AUTHORIZATION EXPIRED (the grace period); false for a license not in use, EVAL EXPIRED,
      GRACE PERIOD EXPIRED, INVALID TAG, NOT AUTHORIZED and while Smart Licensing is disabled.
      ``check(tag)`` gives the status string. Both read answers precomputed at every change and
      every ``tick()``; time-based transitions (evaluation, authorization expiry) happen there,
      so call ``tick()`` regularly or ``start()`` the ticker thread.
    * Exchanges: ``register`` raises the refusal it records; ``renew``, ``sync``, ``tick`` and
      ``deregister`` record failures (``Attempt.failure_reason``) and schedule retries instead.
      Refusals before any exchange raise ``smartlic.errors``: ``AlreadyRegistered``,
      ``Conflict`` (code ``not-registered`` / ``not-enabled``), ``InvalidInput``.
    * Persistence: ``state_dir`` holds the HMAC-protected state and the identity key
      (``_state``); evaluation time is saved by ``tick()``, exchanges and ``close()``.
    * Policy mode (``mode="policy"``, docs/agent.md): every license is usable at once except
      enforced and export-controlled ones, which need an authorization code
      (``authorization_request``; ``request`` raises ``Forbidden`` code
      ``authorization-required`` without one). Usage is sampled into RUM reports that
      ``tick()``/``sync()`` send (transports smart, cslu, callhome, automatic) or
      ``save_usage`` writes to a file (transport off); ``import_file`` installs ACKs,
      policies, trust and authorization codes, all verified against ``authority_ca``.
      ``trust(token)`` establishes trust online; ``start_api`` serves the collector pull API.
    * Events: ``on_event(callback)`` receives ``AgentEvent``s named in ``EVENT_NAMES``.
    * Transport: without ``transport`` the manager builds one from its persisted configuration
      (``set_transport``/``set_url``/``set_proxy``/``set_ca_bundle``), "callhome" with no URL
      by default; a setter replaces a given transport by a configured one. Like an httpx
      ``Client``, the manager closes its transport in ``close()``.
    """

    def __init__(
        self,
        *,
        udi: Udi,
        hostname: str,
        state_dir: Path,
        transport: Transport | None = None,
        clock: Clock | None = None,
        software_tag: str | None = None,
        catalogue: Mapping[str, LicenseSpec] | None = None,
        timers: Timers | None = None,
        mode: Mode | None = None,
        authority_ca: str | None = None,
        sample_interval: timedelta = timedelta(minutes=15),
        purge_after: timedelta = timedelta(days=90),
    ) -> None:
        if mode not in (None, *MODES):
            raise InvalidInput("mode is " + " or ".join(repr(m) for m in MODES))
        new_device = not (Path(state_dir) / "state.json").exists()
        specs = catalogue if catalogue is not None else {s.tag: s for s in DEFAULT_PROFILE.licenses}
        self.clock: Clock = clock or SystemClock()
        self.timers = timers or Timers()
        self.software_tag = software_tag or DEFAULT_PROFILE.software_tag
        self._ctx = ctx = AgentContext(
            udi=udi,
            hostname=hostname,
            software_tag=self.software_tag,
            catalogue=specs,
            store=StateStore(Path(state_dir)),
            clock=self.clock,
            timers=self.timers,
            transport=transport,
        )
        self.reservation = ReservationEngine(
            lambda: ctx.state.reservation,
            udi=ctx.udi,
            clock=self.clock,
            verifier=ctx.verifier,
            ca=ctx.authority_ca,
            key=ctx.store.trust_key,
            lock=ctx.lock,
            changed=self._reservation_changed,
        )
        """SLR / PLR (``_reservation``): request, install, cancel, return, status."""
        self._smart = SmartEngine(ctx, self.reservation)
        self._policy = PolicyEngine(
            ctx,
            self.reservation,
            authority_ca=authority_ca,
            sample_interval=sample_interval,
            purge_after=purge_after,
        )
        self.reservation.reload()  # a provisioned authority_ca may verify its stored code
        self._traditional = TraditionalEngine(ctx, ca=ctx.authority_ca)
        self._ticker: Ticker | None = None
        # ``is_authorized(tag)`` and ``check(tag)`` are the bound ``__getitem__`` of two dicts
        # the active engine recomputes on every state change: one C-level dict read per check,
        # no Python frame (a method doing ``self._permitted.get(tag, False)`` costs ~2.5x a
        # dict read; this costs ~1.2x). A tag not in use falls to ``Answers.__missing__``.
        self.is_authorized: Callable[[str], bool] = ctx.permitted.__getitem__
        """May the feature using ``tag`` run? A dict read of a precomputed answer, no I/O."""
        self.check: Callable[[str], str] = ctx.statuses.__getitem__
        """The license's ``show license usage`` status ("EVAL MODE", ...) or "NOT IN USE"."""
        self._choose_mode(mode or ("policy" if new_device else ctx.state.mode), new_device)

    def _reservation_changed(self) -> None:
        with self._ctx.lock:
            self._engine.refresh(self.clock.now())
            self._ctx.save()

    def _choose_mode(self, chosen: str, new_device: bool) -> None:
        ctx = self._ctx
        with ctx.lock:
            if ctx.state.mode != chosen or new_device:
                ctx.state.mode = chosen
                ctx.save()
            if chosen != "classic":
                self._engine.refresh(self.clock.now())
                ctx.save()

    @property
    def _engine(self) -> SmartEngine | PolicyEngine | TraditionalEngine:
        """The engine of the current mode."""
        mode = self._ctx.state.mode
        if mode == "policy":
            return self._policy
        return self._traditional if mode == "traditional" else self._smart

    @property
    def _state(self) -> AgentState:
        return self._ctx.state

    @property
    def udi(self) -> Udi:
        return self._ctx.udi

    @property
    def hostname(self) -> str:
        return self._ctx.hostname

    @property
    def mode(self) -> str:
        return self._ctx.state.mode

    @property
    def sample_interval(self) -> timedelta:
        return self._policy.core.sample_interval

    @property
    def purge_after(self) -> timedelta:
        return self._policy.core.purge_after

    def set_mode(self, mode: Mode) -> None:
        """Move to another licensing mode: a transition between engines over the same state
        (the registration's CA, installed codes and the usage in progress carry over)."""
        if mode not in MODES:
            raise InvalidInput("mode is " + " or ".join(repr(m) for m in MODES))
        ctx = self._ctx
        with ctx.exchange_lock, ctx.lock:
            old = ctx.state.mode
            if old == mode:
                return
            ctx.state.mode = mode
            self._engine.refresh(self.clock.now())
            ctx.save()
            ctx.emit("agent.mode.changed", previous=old, mode=mode)
        ctx.flush()

    def __repr__(self) -> str:
        if self.mode == "policy":
            return (
                f"LicenseManager(udi={str(self.udi)!r}, mode='policy', "
                f"reports={len(self._state.policy.reports)})"
            )
        return (
            f"LicenseManager(udi={str(self.udi)!r}, registration="
            f"{self._state.registration_state.value!r}, "
            f"authorization={self._smart.view.state.value!r})"
        )

    # ------------------------------------------------------------ usage

    def request(self, tag: str, count: int = 1) -> Handle:
        """Check out ``count`` units of ``tag`` (thread-safe, no I/O)."""
        check_request(tag, count)
        ctx = self._ctx
        with ctx.lock:
            engine = self._engine
            engine.gate(tag, count)
            handle = Handle(next(ctx.ids), tag, count)
            ctx.handles[handle.id] = handle
            ctx.usage[tag] = ctx.usage.get(tag, 0) + count
            engine.refresh(self.clock.now())
            engine.note_usage(tag)
            ctx.emit("agent.license.requested", tag=tag, count=count, status=self.check(tag))
        ctx.flush()
        return handle

    def release(self, handle: Handle) -> None:
        """Give back a check-out; releasing twice raises ``NotFound``."""
        ctx = self._ctx
        with ctx.lock:
            if ctx.handles.pop(handle.id, None) is None:
                raise NotFound(f"license handle {handle.id} is not checked out")
            left = ctx.usage[handle.tag] - handle.count
            if left > 0:
                ctx.usage[handle.tag] = left
            else:
                del ctx.usage[handle.tag]
            engine = self._engine
            engine.refresh(self.clock.now())
            engine.note_usage(handle.tag)
            ctx.emit("agent.license.released", tag=handle.tag, count=handle.count)
        ctx.flush()

    def usage(self) -> dict[str, int]:
        with self._ctx.lock:
            return dict(self._ctx.usage)

    def status(self) -> Status:
        """A typed snapshot of everything ``show license ...`` prints (no I/O)."""
        ctx = self._ctx
        with ctx.lock:
            now = self.clock.now()
            self._engine.refresh(now)
            snapshot = self._smart.snapshot(now)
        ctx.flush()
        if self.mode == "policy":
            return self._policy.status(snapshot)
        conversion = self.traditional.conversion_status()
        if self.mode == "traditional" or conversion is not None:
            return replace(snapshot, mode=self.mode, conversion=conversion)
        return snapshot

    def on_event(self, callback: EventCallback) -> Callable[[], None]:
        """Subscribe to ``AgentEvent``s; returns a function that unsubscribes."""
        return self._ctx.events.subscribe(callback)

    # ------------------------------------------------------------ enable / configuration

    def enable(self) -> None:
        self._set_enabled(True)

    def disable(self) -> None:
        """Stop Smart Licensing: no communication, no evaluation, no license authorized."""
        self._set_enabled(False)

    def _set_enabled(self, enabled: bool) -> None:
        ctx = self._ctx
        with ctx.lock:
            if ctx.state.enabled != enabled:
                self._engine.refresh(self.clock.now())
                ctx.state.enabled = enabled
                self._engine.refresh(self.clock.now())
                ctx.save()
                ctx.emit("agent.enabled" if enabled else "agent.disabled")
        ctx.flush()

    def set_transport(
        self, type_: Literal["callhome", "smart", "off", "cslu", "automatic"]
    ) -> None:
        self._configure(type=type_)

    def set_url(self, url: str | None) -> None:
        self._configure(url=url)

    def set_cslu_url(self, url: str | None) -> None:
        """``license smart url cslu <url>`` (e.g. ``http://cslu:8182/cslu/v1/pi``)."""
        self._configure(cslu_url=url)

    def set_proxy(self, address: str | None, port: int | None = None) -> None:
        self._configure(proxy_address=address, proxy_port=port)

    def set_ca_bundle(self, path: str | None) -> None:
        self._configure(ca_bundle=path)

    def _configure(self, **changes: Any) -> None:
        ctx = self._ctx
        with ctx.exchange_lock, ctx.lock:
            config: TransportConfig = replace(ctx.state.transport, **changes)
            old, ctx.transport = ctx.transport, make_transport(config)
            old.close()
            ctx.configured_transport = True
            ctx.state.transport = config
            ctx.save()
            ctx.emit("agent.config.changed", **changes)
        ctx.flush()

    def set_authority_ca(self, pem: str) -> None:
        """The authority CA every authority file must chain to (provisioned like a root)."""
        self._policy.verbs.set_authority_ca(pem)

    def set_usage_interval(self, days: int) -> None:
        """``license smart usage interval <1-3650>`` (clamped to the policy when shown/used)."""
        self._policy.verbs.set_usage_interval(days)
        with self._ctx.lock:
            self._engine.refresh(self.clock.now())
            self._ctx.save()

    # ------------------------------------------------------------ classic Smart Licensing

    def register(self, idtoken: str, force: bool = False) -> Status:
        """Register with a token, then authorize at once; raises on refusal (after recording it).

        ``AlreadyRegistered`` when registered and not ``force``; ``TokenRejected`` /
        ``SignatureInvalid`` / ... from the authority or the response checks; ``Unavailable``
        when the authority cannot be reached (a retry is scheduled: state RETRY).
        """
        self._require_classic()
        self._smart.register(idtoken, force)
        return self.status()

    def deregister(self) -> Attempt:
        """Tell the authority, then forget the registration whatever it answered."""
        attempt = self._smart.deregister()
        self._ctx.flush()
        return attempt

    def renew(self, kind: Literal["auth", "id"]) -> Attempt:
        """``license smart renew auth|id``: exchange now; the outcome is in the returned Attempt
        (and in ``status()``); a failure schedules a retry rather than raising."""
        self._require_classic()
        attempt = self._smart.renew(kind)
        self._ctx.flush()
        return attempt

    def _require_classic(self) -> None:
        if self.mode == "policy":
            raise Conflict(
                "registration is classic Smart Licensing; in policy mode use trust()",
                code="policy-mode",
            )

    # ------------------------------------------------------------ policy mode

    def trust(self, idtoken: str, scope: str = "local", force: bool = False) -> None:
        """``license smart trust idtoken <token> local [force]``: install a trust code online."""
        self._policy.verbs.trust(idtoken, scope, force)

    def save_usage(self, path: str | Path, which: Which = "all") -> int:
        """``license smart save usage {all|unreported|days <n>|rum-Id <id>} file <path>``:
        write a usage file (closing the open reports it includes); returns the report count."""
        return self._policy.verbs.save_usage(path, which)

    def import_file(self, path: str | Path) -> str:
        """``license smart import <path>``: an ACK, policy, trust code or authorization code
        file; everything verified first. Returns "Import Data Successful"."""
        return self._policy.verbs.import_file(path)

    def import_data(self, data: bytes) -> str:
        return self._policy.verbs.import_data(data)

    def collect_reports(self) -> dict[str, Any]:
        """What a collector pulls (``GET /smartlic-service/all-reports``)."""
        return self._policy.verbs.collect_reports()

    def authorization_request(
        self,
        mode: Literal["add", "replace"],
        tags: dict[str, int],
        scope: str = "local",
        *,
        online: bool | None = None,
    ) -> str | None:
        """``license smart authorization request {add|replace} <feature> local`` (online: the
        installed code's id; offline: None, the request kept for ``save_authorization_request``)."""
        return self._policy.verbs.authorization_request(mode, tags, scope, online=online)

    def save_authorization_request(self, path: str | Path) -> None:
        """``license smart authorization request save <path>``."""
        self._policy.verbs.save_authorization_request(path)

    def authorization_return(
        self, scope: str = "local", *, online: bool = True, code_id: str | None = None
    ) -> str:
        """``license smart authorization return local {online|offline}``: the return code(s)."""
        return self._policy.verbs.authorization_return(scope, online=online, code_id=code_id)

    def start_api(self, host: str, port: int, username: str, password: str) -> tuple[str, int]:
        """Serve the on-box API (``_onbox_api``) for collector-initiated mode; returns the
        bound (host, port) - pass port 0 for any free port."""
        return self._policy.start_api(host, port, username, password)

    def stop_api(self) -> None:
        self._policy.stop_api()

    # ------------------------------------------------------------ traditional licensing

    @property
    def traditional(self) -> TraditionalVerbs:
        """``license install/clear/save``, the end user agreement, device-led conversion."""
        return TraditionalVerbs(self._ctx, self._traditional, self._smart)

    # ------------------------------------------------------------ timers and lifetime

    def sync(self) -> Attempt | None:
        """Classic: send the current usage now if it changed since the last authorization
        (else None). Policy mode: send the reports not yet acknowledged, a kept authorization
        request, and poll what is pending (``license smart sync local``)."""
        attempt = self._engine.sync()
        self._ctx.flush()
        return attempt

    def tick(self) -> None:
        """Run what is due at the clock's now: expiry transitions, retries, renewals, sync;
        in policy mode: sampling, purging, polls and the report push when due."""
        self._engine.tick()
        self._ctx.flush()

    def start(self, interval_s: float = 60.0) -> None:
        """Run ``tick()`` every ``interval_s`` seconds in a daemon thread until ``stop()``."""
        with self._ctx.lock:
            if self._ticker is None:
                self._ticker = Ticker(self.tick, interval_s)
                self._ticker.start()

    def stop(self) -> None:
        with self._ctx.lock:
            ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.stop()

    def close(self) -> None:
        """Stop the ticker and the on-box API, persist, close an owned transport."""
        self.stop()
        self.stop_api()
        ctx = self._ctx
        with ctx.lock:
            self._engine.refresh(self.clock.now())
            ctx.save()
            ctx.transport.close()
        ctx.flush()

    def __enter__(self) -> LicenseManager:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
