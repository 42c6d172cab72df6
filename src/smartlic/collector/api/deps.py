"""Annotated dependencies of the collector's routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from smartlic.collector.services import CollectorServices


def get_services(request: Request) -> CollectorServices:
    services: CollectorServices = request.app.state.services
    return services


ServicesDep = Annotated[CollectorServices, Depends(get_services)]
