"""``PolicyVerbs``: the public verbs of policy mode (the ``license smart ...`` privileged EXEC
commands of domain-notes 2.5): trust, usage interval, save usage, import, authorization
request/return.

Every verb but ``set_authority_ca`` and ``set_usage_interval`` raises ``Conflict`` (code
``classic-mode``) on a manager in another mode.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from lxml import etree

from smartlic.agent import _rum
from smartlic.agent._context import AgentContext
from smartlic.agent._policy_core import PolicyCore
from smartlic.agent._policy_files import retire
from smartlic.agent._policy_online import AUTH_REQUEST, AUTH_RETURN, PolicyWire, _b64
from smartlic.agent._policy_state import CLOSED, OPEN, RumRecord
from smartlic.agent._policy_view import needs_code
from smartlic.crypto import fingerprint, load_certificate, parse_token_text
from smartlic.errors import Conflict, InvalidInput, NotFound, SignatureInvalid
from smartlic.formats.device_v1 import udi_json
from smartlic.formats.envelope import make_nonce, seal_with_key, timestamp_ms
from smartlic.formats.rum import key_id_of, public_key_b64, sudi_json, usage_file
from smartlic.formats.slp import format_return_code, system_info, write_file

__all__ = ["PolicyVerbs", "Which"]

Which = Literal["all", "unreported"] | tuple[str, int]
IMPORT_OK = "Import Data Successful"
_MODE_NAMES = {"classic": "classic Smart Licensing", "traditional": "traditional licensing"}


class PolicyVerbs:
    """The policy-mode verbs over ``core`` (bookkeeping) and ``wire`` (messages)."""

    def __init__(self, ctx: AgentContext, core: PolicyCore, wire: PolicyWire) -> None:
        self.ctx, self.core, self.wire = ctx, core, wire

    def require_policy(self) -> None:
        if self.ctx.state.mode != "policy":
            raise Conflict(
                f"the device runs {_MODE_NAMES.get(self.ctx.state.mode, self.ctx.state.mode)}",
                code=f"{self.ctx.state.mode}-mode",
            )

    # ------------------------------------------------------------ configuration

    def set_authority_ca(self, pem: str) -> None:
        """The authority CA every authority file must chain to (provisioned like a root)."""
        with self.ctx.lock:
            self.core.set_ca(pem)

    def set_usage_interval(self, days: int) -> None:
        """``license smart usage interval <1-3650>`` (clamped to the policy when shown/used)."""
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3650:
            raise InvalidInput("the usage interval is 1-3650 days")
        with self.ctx.lock:
            self.core.ps().push_interval_days = days  # the facade refreshes the active engine

    # ------------------------------------------------------------ trust

    def trust(self, idtoken: str, scope: str = "local", force: bool = False) -> None:
        """``license smart trust idtoken <token> local [force]``: install a trust code online."""
        self.require_policy()
        if scope not in ("local", "all"):
            raise InvalidInput("scope is 'local' or 'all'")
        token = parse_token_text(idtoken)
        with self.ctx.exchange_lock:
            with self.ctx.lock:
                ca = self.core.authority_ca()
                if ca is not None and not token.matches_ca(fingerprint(ca)):
                    raise SignatureInvalid(
                        "the token was issued by another authority than this device trusts",
                        code="ca-mismatch",
                    )
                envelope = self._signed_request("trust-request", token=token.text, force=force)
            answer = self.wire.trust_exchange(envelope)
            if ca is None:
                self._learn_ca(answer, token)
            self.core.install(_b64(str(answer.get("smart_license") or "")), "trust")
        self.ctx.flush()

    def _learn_ca(self, answer: dict[str, Any], token: Any) -> None:
        pem = answer.get("ca_certificate")
        if not isinstance(pem, str) or not token.matches_ca(fingerprint(load_certificate(pem))):
            raise SignatureInvalid(
                "no authority CA is provisioned and the answer carries none matching the "
                "token's pin: set authority_ca",
                code="no-authority-ca",
            )
        with self.ctx.lock:
            self.core.set_ca(pem)

    def _signed_request(self, kind: str, **fields: Any) -> dict[str, Any]:
        key = self.core.trust_key()
        pub = key.public_key()
        payload = {
            "type": kind,
            "udi": udi_json(self.ctx.udi),
            "public_key": public_key_b64(pub),
            "hostname": self.ctx.hostname,
            "software_tag": self.ctx.software_tag,
            "timestamp": timestamp_ms(self.ctx.clock.now()),
            "nonce": make_nonce(),
            **fields,
        }
        return seal_with_key(payload, key, key_id_of(pub))

    # ------------------------------------------------------------ offline files

    def _system_info(self) -> etree._Element:
        """The ``<smartLicenseSystemInfo>`` element of a file this device saves."""
        ctx = self.ctx
        return system_info(ctx.udi, ctx.hostname, ctx.software_tag, ctx.clock.now())

    def save_usage(self, path: str | Path, which: Which = "all") -> int:
        """``license smart save usage {all|unreported|days <n>|rum-Id <id>} file <path>``:
        write a usage file (closing the open reports it includes); returns the report count."""
        self.require_policy()
        now = self.ctx.clock.now()
        with self.ctx.lock:
            self.core.refresh(now)
            reports = self._select(which, now)
            envelopes = [json.loads(r.envelope or "{}") for r in reports]
            data = usage_file(envelopes, [self._system_info()])
            Path(path).write_bytes(data)
            for r in reports:
                r.sent_at = now
            self.core.ps().last_report_file_write = now
            self.ctx.save()
        self.ctx.flush()
        return len(reports)

    def _select(self, which: Which, now: Any) -> list[RumRecord]:
        ps = self.core.ps()
        if which == "all" or which == "unreported":
            self.core.close_open(None, now)
            keep = [r for r in ps.reports if r.state == CLOSED]
            return keep if which == "all" else [r for r in keep if r.sent_at is None]
        if isinstance(which, tuple) and which[0] == "days" and which[1] >= 0:
            since = now - timedelta(days=min(which[1], 36_500))
            self.core.close_open({r.tag for r in ps.reports if r.state == OPEN}, now)
            return [r for r in ps.reports if r.state == CLOSED and r.opened_at >= since]
        if isinstance(which, tuple) and which[0] == "rum-id":
            report = next((r for r in ps.reports if r.report_id == which[1]), None)
            if report is None or report.state not in (OPEN, CLOSED):
                raise NotFound(f"no unacknowledged report {which[1]}")
            if report.state == OPEN:
                self.core.close_open([report.tag], now)
            return [report]
        raise InvalidInput("which is 'all', 'unreported', ('days', n) or ('rum-id', id)")

    def import_file(self, path: str | Path) -> str:
        """``license smart import <path>``: an ACK, policy, trust code or authorization code
        file; everything verified first. Returns "Import Data Successful"."""
        return self.import_data(Path(path).read_bytes())

    def import_data(self, data: bytes) -> str:
        self.require_policy()
        self.core.install(data, "import")
        self.ctx.flush()
        return IMPORT_OK

    def collect_reports(self) -> dict[str, Any]:
        """What a collector pulls (``GET /smartlic-service/all-reports``): every report not
        yet acknowledged, closing the open ones."""
        self.require_policy()
        now = self.ctx.clock.now()
        with self.ctx.lock:
            self.core.refresh(now)
            self.core.close_open(None, now)
            reports = _rum.unacknowledged(self.core.ps())
            for r in reports:
                r.sent_at = now
            self.core.ps().last_report_push = now
            self.ctx.save()
            usage = [json.loads(r.envelope or "{}") for r in reports]
        self.ctx.flush()
        return {"udi": udi_json(self.ctx.udi), "usage": usage}

    # ------------------------------------------------------------ authorization codes

    def authorization_request(
        self,
        mode: Literal["add", "replace"],
        tags: dict[str, int],
        scope: str = "local",
        *,
        online: bool | None = None,
    ) -> str | None:
        """``license smart authorization request {add|replace} <feature> local``. Online (the
        default unless the transport is off) it installs the code and returns its id; offline
        it keeps the request for ``save_authorization_request`` and returns None."""
        self.require_policy()
        self._check_auth_request(mode, tags, scope)
        with self.ctx.lock:
            self.core.ps().pending_auth_request = json.dumps({"mode": mode, "tags": tags})
            self.ctx.save()
        if online is False or (online is None and self.ctx.transport.type == "off"):
            return None
        with self.ctx.exchange_lock:
            env = self.auth_envelope(mode, tags)
            items = self.wire.send_auth(AUTH_REQUEST, replace=mode == "replace", requests=[env])
            with self.ctx.lock:
                self.core.ps().pending_auth_request = None
                codes = self.core.ps().authorizations
                code_id = codes[-1].code_id if items and codes else None
        self.ctx.flush()
        return code_id

    def _check_auth_request(self, mode: str, tags: dict[str, int], scope: str) -> None:
        if mode not in ("add", "replace") or scope not in ("local", "all"):
            raise InvalidInput("mode is add|replace and scope local|all")
        if not tags or any(not isinstance(n, int) or n < 1 for n in tags.values()):
            raise InvalidInput("ask for at least one license, counts >= 1")
        for tag in tags:
            spec = self.ctx.identity.catalogue.get(tag)
            if spec is not None and not needs_code(spec):
                raise InvalidInput(f"{spec.name} is not enforced and needs no authorization code")

    def auth_envelope(self, mode: str, tags: dict[str, int]) -> dict[str, Any]:
        ents = [{"tag": t, "count": n} for t, n in sorted(tags.items())]
        return self._signed_request("authorization-request", mode=mode, entitlements=ents)

    def save_authorization_request(self, path: str | Path) -> None:
        """``license smart authorization request save <path>``: the pending request as a
        ``<smartLicense><smartLicenseAuthRequest>`` file to upload at the authority."""
        self.require_policy()
        with self.ctx.lock:
            pending = self.core.ps().pending_auth_request
            if pending is None:
                raise NotFound("no authorization request is pending")
            req = json.loads(pending)
            env = self.auth_envelope(req["mode"], req["tags"])
            sections = [("smartLicenseAuthRequest", env)]
            Path(path).write_bytes(write_file(sections, [self._system_info()]))

    def authorization_return(
        self, scope: str = "local", *, online: bool = True, code_id: str | None = None
    ) -> str:
        """``license smart authorization return local {online|offline}``: the return code
        (one per line when several codes are installed); the codes leave the device either way."""
        self.require_policy()
        with self.ctx.exchange_lock:
            with self.ctx.lock:
                codes = [c for c in self.core.ps().authorizations if code_id in (None, c.code_id)]
                if not codes:
                    raise NotFound("no authorization code is installed")
                returns = [(c.code_id, self._return_code(c.code_id)) for c in codes]
            if online:
                self.wire.send_auth(
                    AUTH_RETURN,
                    returns=[
                        {"sudi": sudi_json(self.ctx.udi), "remove_code": r} for _, r in returns
                    ],
                )
            self._remove_codes([cid for cid, _ in returns], returns[-1][1])
        self.ctx.flush()
        return "\n".join(r for _, r in returns)

    def _return_code(self, code_id: str) -> str:
        raw = uuid.UUID(code_id).bytes
        sig = self.core.trust_key().sign(b"return:" + raw + str(self.ctx.udi).encode())
        return format_return_code(raw, sig)

    def _remove_codes(self, code_ids: list[str], last: str) -> None:
        now = self.ctx.clock.now()
        with self.ctx.lock:
            ps = self.core.ps()
            retire(ps, code_ids)
            ps.last_return_code = last
            for cid in code_ids:
                self.core.record(
                    "SAEVT_AUTH_RETURN", f"%SMART_LIC-6-AUTHORIZATION_REMOVED: {cid}", now
                )
                self.ctx.emit("agent.policy.authorization.returned", code_id=cid)
            self.core.refresh(now)
            self.ctx.save()
