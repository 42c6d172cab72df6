"""``LicenseManager``: the SDK a product embeds (classic Smart Licensing).

Layers: ``ManagerCore`` (``_core``: state, locks, derived answers, events) <- ``Exchanges``
(``_exchanges``: I/O with the authority) <- ``LicenseManager`` (the public verbs, here).

The race an exchange must survive: usage changes while an ``authorize`` request is on the
wire. The request carries a copy of the usage; the response is stored with the counts the
authority answered for, and ``derive`` compares them with the live usage, so a license
requested meanwhile stays in EVAL MODE and the manager stays "dirty" until the next exchange.

Why ``request()`` does not send the authorization itself: a feature check-out must not block
on (or fail with) the network. It only marks the usage as changed; ``tick()`` (called by the
product's scheduler or by the ``start()`` thread) sends it, and ``sync()`` sends it at once.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

from smartlic.agent import _transitions as tr
from smartlic.agent._policy_runtime import PolicyRuntime
from smartlic.agent._status import Attempt, Status
from smartlic.agent._transports import TransportConfig, make_transport
from smartlic.agent._usage import Handle, Ticker, check_request
from smartlic.crypto import parse_token_text
from smartlic.domain.enums import RegistrationState
from smartlic.errors import AlreadyRegistered, Conflict, InvalidInput, NotFound

__all__ = ["Handle", "LicenseManager"]


class LicenseManager(PolicyRuntime):
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

    def __repr__(self) -> str:
        if self._policy_mode:
            return (
                f"LicenseManager(udi={str(self.udi)!r}, mode='policy', "
                f"reports={len(self._state.policy.reports)})"
            )
        return (
            f"LicenseManager(udi={str(self.udi)!r}, registration="
            f"{self._state.registration_state.value!r}, authorization={self._view.state.value!r})"
        )

    # ------------------------------------------------------------ usage

    def request(self, tag: str, count: int = 1) -> Handle:
        """Check out ``count`` units of ``tag`` (thread-safe, no I/O)."""
        check_request(tag, count)
        with self._lock:
            if self._policy_mode:
                self._policy_gate(tag, count)
            handle = Handle(next(self._ids), tag, count)
            self._handles[handle.id] = handle
            self._usage[tag] = self._usage.get(tag, 0) + count
            self._refresh(self.clock.now())
            self._usage_log(tag)
            self._emit("agent.license.requested", tag=tag, count=count, status=self.check(tag))
        self._flush()
        return handle

    def release(self, handle: Handle) -> None:
        """Give back a check-out; releasing twice raises ``NotFound``."""
        with self._lock:
            if self._handles.pop(handle.id, None) is None:
                raise NotFound(f"license handle {handle.id} is not checked out")
            left = self._usage[handle.tag] - handle.count
            if left > 0:
                self._usage[handle.tag] = left
            else:
                del self._usage[handle.tag]
            self._refresh(self.clock.now())
            self._usage_log(handle.tag)
            self._emit("agent.license.released", tag=handle.tag, count=handle.count)
        self._flush()

    # ------------------------------------------------------------ enable / configuration

    def enable(self) -> None:
        self._set_enabled(True)

    def disable(self) -> None:
        """Stop Smart Licensing: no communication, no evaluation, no license authorized."""
        self._set_enabled(False)

    def _set_enabled(self, enabled: bool) -> None:
        with self._lock:
            if self._state.enabled != enabled:
                self._refresh(self.clock.now())
                self._state.enabled = enabled
                self._refresh(self.clock.now())
                self._save()
                self._emit("agent.enabled" if enabled else "agent.disabled")
        self._flush()

    def _usage_log(self, tag: str) -> None:
        if self._policy_mode:
            text = f'count="{self._usage.get(tag, 0)}" entitlementTag="{tag}"'
            self._log("SAEVT_ENDPOINT_USAGE", text, self.clock.now())

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
        with self._exchange_lock, self._lock:
            config: TransportConfig = replace(self._state.transport, **changes)
            old, self._transport = self._transport, make_transport(config)
            old.close()
            self._configured_transport = True
            self._state.transport = config
            self._save()
            self._emit("agent.config.changed", **changes)
        self._flush()

    # ------------------------------------------------------------ registration and renewals

    def register(self, idtoken: str, force: bool = False) -> Status:
        """Register with a token, then authorize at once; raises on refusal (after recording it).

        ``AlreadyRegistered`` when registered and not ``force``; ``TokenRejected`` /
        ``SignatureInvalid`` / ... from the authority or the response checks; ``Unavailable``
        when the authority cannot be reached (a retry is scheduled: state RETRY).
        """
        self._require_classic()
        with self._exchange_lock:
            with self._lock:
                self._require_enabled()
                if self._state.registration_state is RegistrationState.REGISTERED and not force:
                    raise AlreadyRegistered("the device is already registered (use force)")
                token = parse_token_text(idtoken).text
                tr.registration_started(self._state, token, force)
            self._register_exchange(token, force, raise_errors=True)
            self._authorize_exchange()
        return self.status()

    def deregister(self) -> Attempt:
        """Tell the authority, then forget the registration whatever it answered."""
        with self._exchange_lock:
            with self._lock:
                self._require_enabled()
                if self._state.registration_state is RegistrationState.UNREGISTERED:
                    raise Conflict("the device is not registered", code="not-registered")
                now = self.clock.now()
            error = self._deregister_exchange(now) if self._registered() else None
            self._apply(tr.deregistered, error, now)
            self._store.delete_identity_key()
        self._flush()
        return Attempt(now, error is None, tr.failure_reason(error) if error else None)

    def renew(self, kind: Literal["auth", "id"]) -> Attempt:
        """``license smart renew auth|id``: exchange now; the outcome is in the returned Attempt
        (and in ``status()``); a failure schedules a retry rather than raising."""
        self._require_classic()
        if kind not in ("auth", "id"):
            raise InvalidInput("renew what? 'auth' or 'id'")
        with self._exchange_lock:
            with self._lock:
                self._require_enabled()
                if not self._registered():
                    raise Conflict("the device is not registered", code="not-registered")
            if kind == "auth":
                self._authorize_exchange()
            else:
                self._renew_id_exchange()
        with self._lock:
            last = (self._state.communication if kind == "auth" else self._state.id_renewal).last
        self._flush()
        assert last is not None
        return last

    def sync(self) -> Attempt | None:
        """Classic: send the current usage now if it changed since the last authorization
        (else None). Policy mode: send the reports not yet acknowledged, a kept authorization
        request, and poll what is pending (``license smart sync local``)."""
        if self._policy_mode:
            with self._exchange_lock:
                attempt = self._policy_sync()
            self._flush()
            return attempt
        with self._exchange_lock:
            with self._lock:
                if not (self._state.enabled and self._registered() and self._dirty()):
                    return None
            self._authorize_exchange()
            with self._lock:
                last = self._state.communication.last
        self._flush()
        return last

    # ------------------------------------------------------------ timers and lifetime

    def tick(self) -> None:
        """Run what is due at the clock's now: expiry transitions, retries, renewals, sync;
        in policy mode: sampling, purging, polls and the report push when due."""
        if self._policy_mode:
            with self._exchange_lock:
                self._policy_tick()
            self._flush()
            return
        with self._exchange_lock:
            with self._lock:
                self._refresh(self.clock.now())
                due = self._due(self.clock.now())
            for job in due:
                job()
            with self._lock:
                self._refresh(self.clock.now())
                self._save()
        self._flush()

    def start(self, interval_s: float = 60.0) -> None:
        """Run ``tick()`` every ``interval_s`` seconds in a daemon thread until ``stop()``."""
        with self._lock:
            if self._ticker is None:
                self._ticker = Ticker(self.tick, interval_s)
                self._ticker.start()

    def stop(self) -> None:
        with self._lock:
            ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.stop()

    def close(self) -> None:
        """Stop the ticker and the on-box API, persist, close an owned transport."""
        self.stop()
        self.stop_api()
        with self._lock:
            self._refresh(self.clock.now())
            self._save()
            self._transport.close()
        self._flush()

    def _require_classic(self) -> None:
        if self._policy_mode:
            raise Conflict(
                "registration is classic Smart Licensing; in policy mode use trust()",
                code="policy-mode",
            )

    def __enter__(self) -> LicenseManager:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
