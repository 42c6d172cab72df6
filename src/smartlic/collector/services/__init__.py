"""The collector's services: intake from devices, forwarding to the authority, file transfer,
collection from devices, status. ``build_services`` wires them on one engine and clock."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from smartlic.clock import Clock
from smartlic.collector.services.forward import Forwarder
from smartlic.collector.services.intake import Intake
from smartlic.collector.services.pull import Puller
from smartlic.collector.services.status import Status
from smartlic.collector.services.transfer import Transfer
from smartlic.collector.settings import CollectorSettings

__all__ = ["CollectorServices", "build_services"]


@dataclass
class CollectorServices:
    intake: Intake
    forwarder: Forwarder
    transfer: Transfer
    puller: Puller
    status: Status


def build_services(engine: Engine, clock: Clock, settings: CollectorSettings) -> CollectorServices:
    intake = Intake(engine, clock, poll_interval_s=settings.device_poll_interval_s)
    return CollectorServices(
        intake=intake,
        forwarder=Forwarder(engine, clock, settings),
        transfer=Transfer(engine, clock, settings.archive_limits()),
        puller=Puller(engine, clock, intake, timeout_s=settings.http_timeout_s),
        status=Status(engine, clock),
    )
