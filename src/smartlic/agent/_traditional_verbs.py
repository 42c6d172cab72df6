"""The verbs of traditional licensing (``manager.traditional``): ``license install``,
``license clear``, ``license save``, ``license accept end user agreement``, and device-led
conversion of the installed licenses into smart licenses (``license smart conversion``).

Installing, clearing and accepting are refused in smart mode (``Conflict`` code ``smart-mode``):
"Once Smart Licensing mode is enabled, all CLIs related to the traditional licensing mode are
disabled" (first document). Conversion is the other way round: it needs smart mode and a
registration, and it reports the licenses to the authority once.
"""

from __future__ import annotations

from smartlic.agent._context import AgentContext
from smartlic.agent._smart import SmartEngine
from smartlic.agent._status import ConversionStatus
from smartlic.agent._traditional import LicenseLine, TraditionalEngine
from smartlic.agent._traditional_state import ConversionRecord
from smartlic.errors import Conflict, SmartlicError
from smartlic.formats.license_file import PERMANENT, LicenseFile

__all__ = ["SMART_MODE", "TraditionalVerbs"]

SMART_MODE = "traditional licensing commands are disabled: Smart Licensing is enabled"
IN_PROGRESS, SUCCESS, FAILED, STOPPED = "IN PROGRESS", "SUCCESS", "FAILED", "STOPPED"


class TraditionalVerbs:
    """Traditional-licensing commands over the shared context and the two engines involved."""

    def __init__(self, ctx: AgentContext, engine: TraditionalEngine, smart: SmartEngine) -> None:
        self.ctx, self.engine, self.smart = ctx, engine, smart

    def _require_traditional(self) -> None:
        if self.ctx.state.mode != "traditional":
            raise Conflict(SMART_MODE, code="smart-mode")

    def _changed(self, event: str, **props: object) -> None:
        if self.ctx.state.mode == "traditional":
            self.engine.refresh(self.ctx.clock.now())
        self.ctx.save()
        self.ctx.emit(event, **props)

    def install(self, data: bytes) -> tuple[LicenseFile, bool]:
        """Verify and install a license file; ``(license, newly installed)``."""
        self._require_traditional()
        with self.ctx.lock:
            lic, new = self.engine.install(data)
            if new:
                self._changed("agent.traditional.installed", feature=lic.feature, serial=lic.serial)
        self.ctx.flush()
        return lic, new

    def clear(self, feature: str) -> list[str]:
        self._require_traditional()
        with self.ctx.lock:
            serials = self.engine.clear(feature)
            self._changed("agent.traditional.cleared", feature=feature, serials=serials)
        self.ctx.flush()
        return serials

    def save(self) -> list[bytes]:
        """The installed license files (``license save``)."""
        self._require_traditional()
        with self.ctx.lock:
            return self.engine.saved()

    def accept_eula(self) -> bool:
        self._require_traditional()
        with self.ctx.lock:
            accepted = self.engine.accept_eula()
            if accepted:
                self._changed("agent.traditional.eula_accepted")
        self.ctx.flush()
        return accepted

    def lines(self) -> list[LicenseLine]:
        """Every license line ``show license`` prints (evaluation time charged up to now)."""
        with self.ctx.lock:
            if self.ctx.state.mode == "traditional":
                self.engine.refresh(self.ctx.clock.now())
            return self.engine.lines()

    def available(self, feature: str) -> bool:
        with self.ctx.lock:
            return self.engine.available(feature)

    @property
    def eula_accepted(self) -> bool:
        return self.ctx.state.traditional.eula_accepted

    # ------------------------------------------------------------ device-led conversion

    def conversion(self) -> ConversionRecord:
        return self.ctx.state.traditional.conversion

    def conversion_status(self) -> ConversionStatus | None:
        """The conversion as ``Status`` shows it; None for a device that never had a
        traditional license."""
        with self.ctx.lock:
            state = self.ctx.state.traditional
            record = state.conversion
            if not state.licenses and record.status == "NOT STARTED":
                return None
            return ConversionStatus(
                record.status,
                record.started_at,
                record.finished_at,
                tuple(record.converted),
                record.failure,
            )

    def start_conversion(self) -> ConversionRecord:
        """``license smart conversion start``: report the permanent licenses not converted yet
        to the authority, which adds them to the device's virtual account as smart licenses."""
        ctx = self.ctx
        with ctx.exchange_lock:
            with ctx.lock:
                files = self._convertible()
                record = ctx.state.traditional.conversion
                record.status, record.started_at, record.failure = (
                    IN_PROGRESS,
                    ctx.clock.now(),
                    None,
                )
                ctx.save()
            try:
                converted = self.smart.convert([f for _, f in files])
            except SmartlicError as exc:
                self._finish(FAILED, [], exc.detail)
                raise
            self._finish(SUCCESS, converted, None)
        ctx.flush()
        return ctx.state.traditional.conversion

    def _convertible(self) -> list[tuple[str, bytes]]:
        ctx = self.ctx
        if ctx.state.mode != "classic":
            raise Conflict("conversion needs Smart Licensing enabled", code="not-smart")
        if not ctx.registered():
            raise Conflict("the device is not registered", code="not-registered")
        record = ctx.state.traditional.conversion
        if record.status == IN_PROGRESS:
            raise Conflict("a license conversion is already in progress", code="in-progress")
        files = [
            (lic.serial, data)
            for lic, data in zip(ctx.state.traditional.licenses, self.engine.saved(), strict=True)
            if lic.license_type == PERMANENT and lic.serial not in record.converted
        ]
        if not files:
            why = "Already converted" if record.converted else "no traditional license to convert"
            raise Conflict(f"license conversion: {why}", code="already-converted")
        return files

    def _finish(self, status: str, serials: list[str], failure: str | None) -> None:
        with self.ctx.lock:
            record = self.ctx.state.traditional.conversion
            record.status, record.failure = status, failure
            record.finished_at = self.ctx.clock.now()
            record.converted += [s for s in serials if s not in record.converted]
            self.ctx.save()
            self.ctx.emit(f"agent.conversion.{status.lower()}", converted=serials)

    def stop_conversion(self) -> ConversionRecord:
        """``license smart conversion stop``: forget a conversion that did not finish."""
        with self.ctx.lock:
            record = self.ctx.state.traditional.conversion
            if record.status not in (IN_PROGRESS, FAILED):
                raise Conflict("no license conversion is in progress", code="not-in-progress")
            record.status, record.finished_at = STOPPED, self.ctx.clock.now()
            self.ctx.save()
        return record
