"""Traditional (node-locked, strictly enforced) licensing as an engine: the mode a device whose
software predates Smart Licensing boots in (the first document: "By default, the software
image is loaded with the traditional, strictly-enforced mode of licensing").

What the device holds (``TraditionalState``, inside the HMAC-protected agent state):

* installed licenses, each kept with its signed license file (``formats.license_file``) and
  re-verified whenever the engine is built - a state file is never taken on its own say-so;
* the built-in evaluation right-to-use of every feature (``EvalRightToUse``, 60 days of use),
  usable once the end user agreement is accepted;
* the evaluation time each license has used, charged while the feature is in use;
* device-led conversion: which installed licenses were converted to smart licenses.

Strict enforcement: a check-out of a feature without a usable license is refused
(``Forbidden``, code ``no-license``); nothing runs in an evaluation without the agreement.

Usage::

    engine = TraditionalEngine(ctx, ca=get_ca)
    engine.install(file_bytes)          # verified: chain, signature, UDI, tampering, expiry
    engine.licenses(now)                # what ``show license`` lists
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509

from smartlic.agent._context import AgentContext
from smartlic.agent._status import Attempt, Status
from smartlic.agent._traditional_state import InstalledLicense, TraditionalState
from smartlic.errors import Conflict, Forbidden, InvalidInput, NotFound, SmartlicError
from smartlic.formats.license_file import (
    EVALUATION,
    PERMANENT,
    LicenseFile,
    read_license_file,
)

__all__ = [
    "EVAL_RIGHT_TO_USE",
    "RIGHT_TO_USE_DAYS",
    "LicenseLine",
    "TraditionalEngine",
]

EVAL_RIGHT_TO_USE = "EvalRightToUse"
RIGHT_TO_USE_DAYS = 60
LICENSED, UNLICENSED = "IN USE", "NOT LICENSED"


@dataclass(frozen=True)
class LicenseLine:
    """One line of ``show license``: a license of a feature, installed or built in."""

    feature: str
    license_type: str  # Permanent | Evaluation | EvalRightToUse
    count: int | None
    period_days: int | None
    used: timedelta
    in_use: bool
    activated: bool
    eula_accepted: bool
    serial: str | None = None
    installed_at: datetime | None = None

    @property
    def left(self) -> timedelta | None:
        """Evaluation time left (None: permanent)."""
        if self.period_days is None:
            return None
        return max(timedelta(days=self.period_days) - self.used, timedelta(0))

    @property
    def usable(self) -> bool:
        if self.license_type == PERMANENT:
            return True
        return self.eula_accepted and self.left is not None and self.left > timedelta(0)


class TraditionalEngine:
    """Node-locked licensing over an ``AgentContext``; ``ca`` gives the pinned authority CA."""

    name = "traditional"

    def __init__(self, ctx: AgentContext, *, ca: Callable[[], x509.Certificate | None]) -> None:
        self.ctx, self._ca = ctx, ca
        self._since: datetime | None = None
        with ctx.lock:
            self._recheck()

    @property
    def state(self) -> TraditionalState:
        return self.ctx.state.traditional

    def _names(self) -> dict[str, str]:
        """Feature name -> license tag, from the product's catalogue."""
        return {spec.name: tag for tag, spec in self.ctx.identity.catalogue.items()}

    def _recheck(self) -> None:
        """Drop an installed license whose file no longer verifies (a hand-edited state)."""
        kept = []
        for lic in self.state.licenses:
            try:
                self._verify(base64.b64decode(lic.data))
            except InvalidInput as exc:
                if exc.code != "expired":  # an evaluation file may expire once installed
                    continue
            except SmartlicError:
                continue
            kept.append(lic)
        self.state.licenses = kept

    def _verify(self, data: bytes) -> LicenseFile:
        return read_license_file(data, self.ctx.verifier, ca=self._ca(), udi=self.ctx.udi)

    # ------------------------------------------------------------ derived view (hold lock)

    def lines(self) -> list[LicenseLine]:
        """Every license of every feature: installed ones first, then the built-in
        EvalRightToUse of each feature, in catalogue order."""
        state, used = self.state, self._in_use()
        out: list[LicenseLine] = []
        for name in self._names():
            for lic in (x for x in state.licenses if x.feature == name):
                out.append(self._installed_line(lic, name in used))
            out.append(self._right_to_use_line(name, name in used))
        return out

    def _installed_line(self, lic: InstalledLicense, in_use: bool) -> LicenseLine:
        return LicenseLine(
            lic.feature,
            lic.license_type,
            lic.count,
            lic.period_days,
            timedelta(seconds=lic.used_s),
            in_use and self._chosen(lic.feature) is lic,
            True,
            self.state.eula_accepted or lic.license_type == PERMANENT,
            lic.serial,
            lic.installed_at,
        )

    def _right_to_use_line(self, name: str, in_use: bool) -> LicenseLine:
        used_s = self.state.right_to_use_s.get(name, 0.0)
        return LicenseLine(
            name,
            EVAL_RIGHT_TO_USE,
            None,
            RIGHT_TO_USE_DAYS,
            timedelta(seconds=used_s),
            in_use and self._chosen(name) is None and self._right_to_use_left(name),
            used_s > 0 or (in_use and self._chosen(name) is None),
            self.state.eula_accepted,
        )

    def _right_to_use_left(self, name: str) -> bool:
        used = self.state.right_to_use_s.get(name, 0.0)
        return self.state.eula_accepted and used < RIGHT_TO_USE_DAYS * 86400

    def _chosen(self, name: str) -> InstalledLicense | None:
        """The installed license a feature in use runs on: a permanent one, else the
        evaluation with the most time left (None: the built-in right-to-use, if any)."""
        state = self.state
        ours = [x for x in state.licenses if x.feature == name]
        for lic in ours:
            if lic.license_type == PERMANENT:
                return lic
        evals = [x for x in ours if state.eula_accepted and _left_s(x) > 0]
        return max(evals, key=_left_s) if evals else None

    def available(self, name: str) -> bool:
        return self._chosen(name) is not None or self._right_to_use_left(name)

    def _in_use(self) -> set[str]:
        names = {tag: spec.name for tag, spec in self.ctx.identity.catalogue.items()}
        return {names[t] for t, n in self.ctx.usage.items() if n and t in names}

    def refresh(self, now: datetime) -> None:
        """Charge evaluation time to the licenses in use, recompute the fast-path answers."""
        if self._since is not None and now > self._since:
            self._charge((now - self._since).total_seconds())
        names = {tag: spec.name for tag, spec in self.ctx.identity.catalogue.items()}
        permitted = {t: self.available(names.get(t, "")) for t, n in self.ctx.usage.items() if n}
        statuses = {t: LICENSED if ok else UNLICENSED for t, ok in permitted.items()}
        self.ctx.publish(permitted, statuses)
        self._since = now if any(permitted.values()) else None

    def _charge(self, seconds: float) -> None:
        for name in self._in_use():
            lic = self._chosen(name)
            if lic is not None and lic.license_type == EVALUATION:
                lic.used_s = min(lic.used_s + seconds, (lic.period_days or 0) * 86400.0)
            elif lic is None and self._right_to_use_left(name):
                used = self.state.right_to_use_s.get(name, 0.0) + seconds
                self.state.right_to_use_s[name] = min(used, RIGHT_TO_USE_DAYS * 86400.0)

    def gate(self, tag: str, count: int) -> None:
        """Strict enforcement: no check-out without a usable license of the feature."""
        spec = self.ctx.identity.catalogue.get(tag)
        if spec is None or not self.available(spec.name):
            name = spec.name if spec is not None else tag
            raise Forbidden(
                f"no valid license for feature {name}: install one, or accept the end user "
                "agreement to use its evaluation",
                code="no-license",
            )

    def note_usage(self, tag: str) -> None:
        """Traditional licensing keeps no usage log."""

    def status(self, snapshot: Status) -> Status:
        return snapshot

    def tick(self) -> None:
        with self.ctx.lock:
            self.refresh(self.ctx.clock.now())
            self.ctx.save()

    def sync(self) -> Attempt | None:
        """Nothing to send: a node-locked license never talks to an authority."""
        return None

    # ------------------------------------------------------------ verbs (hold lock)

    def install(self, data: bytes) -> tuple[LicenseFile, bool]:
        """``license install``: verify the file, then add it; ``(license, new)`` - a file
        installed before is not added twice. Raises before anything changes."""
        lic = self._verify(data)
        if lic.feature not in self._names():
            raise InvalidInput(
                f"feature {lic.feature} is not supported on this platform", code="unknown-feature"
            )
        if any(x.serial == lic.serial for x in self.state.licenses):
            return lic, False
        self.state.licenses.append(_installed(lic, data, self.ctx.clock.now()))
        return lic, True

    def clear(self, feature: str) -> list[str]:
        """``license clear FEATURE``: remove its installed licenses; their serials."""
        gone = [x for x in self.state.licenses if x.feature == feature]
        if not gone:
            raise NotFound(f"no installed license of feature {feature}")
        if feature in self._in_use() and any(x.license_type == PERMANENT for x in gone):
            raise Conflict(
                f"feature {feature} is in use: remove its configuration and reload first",
                code="in-use",
            )
        self.state.licenses = [x for x in self.state.licenses if x.feature != feature]
        return [x.serial for x in gone]

    def saved(self) -> list[bytes]:
        """``license save``: the installed license files, to install again elsewhere."""
        return [base64.b64decode(x.data) for x in self.state.licenses]

    def accept_eula(self) -> bool:
        """``license accept end user agreement``; False when it was accepted before."""
        if self.state.eula_accepted:
            return False
        self.state.eula_accepted = True
        return True


def _left_s(lic: InstalledLicense) -> float:
    return (lic.period_days or 0) * 86400.0 - lic.used_s


def _installed(lic: LicenseFile, data: bytes, now: datetime) -> InstalledLicense:
    return InstalledLicense(
        lic.serial,
        lic.feature,
        lic.license_type,
        lic.count,
        lic.period_days,
        now,
        base64.b64encode(data).decode(),
    )
