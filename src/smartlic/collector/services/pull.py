"""Collector-initiated mode: collect reports from devices and push the ACKs back.

The device's on-box API (domain-notes 2.8), HTTP basic auth, base ``/smartlic-service``:
``GET /all-reports`` -> ``{"udi": {"pid", "sn"}, "usage": [<RUMReport envelopes>]}`` and
``POST /import`` (the ACK file bytes, ``application/xml``) -> ``{"status": "OK"}``. Collected
reports take the same path as pushed ones (verified, stored before anything else happens).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select

from smartlic.clock import Clock
from smartlic.collector.models import Delivery, Device
from smartlic.collector.services import _base
from smartlic.collector.services._base import ServiceBase, get_or_add_device
from smartlic.collector.services.deliveries import item_bytes
from smartlic.collector.services.intake import Intake
from smartlic.crypto import Udi
from smartlic.errors import InvalidInput, NotFound, SmartlicError, Unavailable
from smartlic.formats.device_v1 import parse_udi

__all__ = ["PullResult", "Puller"]

BASE = "/smartlic-service"


@dataclass
class PullResult:
    devices: int = 0
    reports: int = 0
    delivered: int = 0
    errors: list[str] = field(default_factory=list)


class Puller(ServiceBase):
    def __init__(self, engine: Any, clock: Clock, intake: Intake, *, timeout_s: float) -> None:
        super().__init__(engine, clock)
        self.intake = intake
        self.timeout_s = timeout_s

    def add_device(
        self,
        udi: Udi,
        address: str | None = None,
        username: str | None = None,
        password: str | None = None,
        hostname: str = "",
    ) -> Device:
        """Add a device: with an address it is collector-initiated (pulled); either way it is
        known for Validate Device."""
        with self.transaction() as s:
            device = get_or_add_device(s, udi, self.now())
            device.known, device.hostname = True, hostname or device.hostname
            if address:
                device.mode, device.address = "pull", address.rstrip("/")
                device.username, device.password = username, password
            return device

    def pull_all(self) -> PullResult:
        with self.transaction() as s:
            ids = list(s.scalars(select(Device.id).where(Device.mode == "pull")))
        result = PullResult()
        for device_id in ids:
            self._pull_into(device_id, result)
        return result

    def pull(self, device_id: int) -> PullResult:
        result = PullResult()
        self._pull_into(device_id, result)
        if result.errors:
            raise Unavailable(result.errors[0])
        return result

    def _pull_into(self, device_id: int, result: PullResult) -> None:
        with self.transaction() as s:
            device = s.get(Device, device_id)
            if device is None or device.mode != "pull" or not device.address:
                raise NotFound(f"no collector-initiated device {device_id}")
        try:
            with self._http(device) as http:
                result.reports += self._collect(http, device)
                result.delivered += self._push_acks(http, device)
            result.devices += 1
        except SmartlicError as exc:
            result.errors.append(f"{device.name}: {exc.detail}")
            with self.transaction() as s:
                self.alert(s, device, _base.PULL_FAILED.format(reason=exc.detail))

    def _http(self, device: Device) -> httpx.Client:
        auth = (device.username or "", device.password or "")
        return httpx.Client(base_url=f"{device.address}{BASE}", auth=auth, timeout=self.timeout_s)

    def _collect(self, http: httpx.Client, device: Device) -> int:
        answer = _json(_send(http, "GET", "/all-reports"))
        udi = answer.get("udi") if isinstance(answer, dict) else None
        usage = answer.get("usage") if isinstance(answer, dict) else None
        if not isinstance(udi, dict) or not isinstance(usage, list):
            raise InvalidInput("/all-reports answered no {udi, usage}")
        if _claimed(udi) != device.udi:
            raise InvalidInput(f"the device at {device.address} is {udi}, not {device.name}")
        prefs = self.prefs()
        with self.transaction() as s:
            fresh = self.intake.admit(s, device.udi, prefs)
            return len(self.intake.store_reports(s, fresh, usage)) if usage else 0

    def _push_acks(self, http: httpx.Client, device: Device) -> int:
        with self.transaction() as s:
            q = select(Delivery).where(
                Delivery.device_id == device.id, Delivery.delivered_at.is_(None)
            )
            pending = list(s.scalars(q.order_by(Delivery.id)))
        for delivery in pending:
            headers = {"Content-Type": "application/xml"}
            try:
                _send(http, "POST", "/import", content=item_bytes(delivery.item), headers=headers)
            except SmartlicError as exc:
                with self.transaction() as s:
                    self.alert(s, device, _base.DELIVERY_FAILED.format(reason=exc.detail))
                raise
            with self.transaction() as s:
                row = s.get_one(Delivery, delivery.id)
                row.delivered_at = self.now()
                self.alert(s, device, _base.ACK_TO_DEVICE)
        return len(pending)


def _send(http: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    try:
        response = http.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        raise Unavailable(f"device unreachable: {type(exc).__name__}: {exc}") from exc
    if response.status_code >= 400:
        raise Unavailable(f"device answered {response.status_code} to {method} {path}")
    return response


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise InvalidInput("the device answered something that is not JSON") from exc


def _claimed(udi: dict[str, Any]) -> Udi | None:
    """The UDI a device's answer claims, None when it is no ``{pid, sn}`` (refused as a
    mismatch, naming what it sent)."""
    try:
        return parse_udi(udi)
    except InvalidInput:
        return None
