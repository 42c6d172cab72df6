"""Prometheus metrics for the authority and the collector: ``GET /metrics``.

Two kinds of figures, kept apart on purpose:

* **Per request** (counted in this process): ``smartlic_http_requests_total`` and
  ``smartlic_http_request_duration_seconds`` by method, route *template* (``/api/v1/accounts/
  {domain}``, never the raw path, so the label set stays bounded) and status. With several
  uvicorn workers, ``smartlic authority serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` and every
  worker's figures are summed on scrape (prometheus_client's multiprocess mode).
* **State** (read from the database on scrape, so every process answers the same): devices per
  state, reports ingested and refused, queue depths. Each server passes a ``probe`` that
  returns them; nothing here knows the schema.

Each app gets its own registry (no module-level state), so tests can build many apps.

Usage::

    install_metrics(app, server="authority", probe=lambda: [Sample("x", "help", 3.0)])
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["MULTIPROC_ENV", "Metrics", "Sample", "install_metrics"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


@dataclass(frozen=True)
class Sample:
    """One state figure: a gauge ``name`` (prefixed ``smartlic_``) with optional labels."""

    name: str
    help: str
    value: float
    labels: dict[str, str] = field(default_factory=dict)


Probe = Callable[[], Iterable[Sample]]


class _StateCollector(Collector):
    def __init__(self, probe: Probe) -> None:
        self.probe = probe

    def describe(self) -> list[GaugeMetricFamily]:
        return []  # names are only known on scrape; registering must not query the database

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families: dict[str, GaugeMetricFamily] = {}
        for sample in self.probe():
            name = f"smartlic_{sample.name}"
            family = families.get(name)
            if family is None:
                family = GaugeMetricFamily(name, sample.help, labels=sorted(sample.labels))
                families[name] = family
            family.add_metric([sample.labels[k] for k in sorted(sample.labels)], sample.value)
        yield from families.values()


class _RequestMetrics:
    """Pure ASGI middleware: one count and one latency observation per HTTP request. The
    labelled children are kept here once made (prometheus_client's ``labels`` builds a key
    and takes a lock on every call); their set is as bounded as the labels."""

    def __init__(self, app: ASGIApp, app_name: str, metrics: Metrics) -> None:
        self.app, self.name, self.metrics = app, app_name, metrics
        self.latency: dict[tuple[str, str], Histogram] = {}
        self.requests: dict[tuple[str, str, int], Counter] = {}

    def _observe(self, method: str, route: str, status: int, elapsed: float) -> None:
        latency = self.latency.get((method, route))
        if latency is None:
            latency = self.metrics.latency.labels(self.name, method, route)
            self.latency[method, route] = latency
        latency.observe(elapsed)
        requests = self.requests.get((method, route, status))
        if requests is None:
            requests = self.metrics.requests.labels(self.name, method, route, str(status))
            self.requests[method, route, status] = requests
        requests.inc()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = {"code": 500}  # what an exception that escapes every handler becomes

        async def remember(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, remember)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            elapsed = time.perf_counter() - started
            self._observe(scope["method"], route, status["code"], elapsed)


class Metrics:
    """One server's figures: ``instrument`` each of its apps, ``mount`` ``/metrics`` on one."""

    def __init__(self, *, server: str, probe: Probe) -> None:
        self.multiproc = bool(os.environ.get(MULTIPROC_ENV))
        self.registry = CollectorRegistry()
        # in multiprocess mode the request figures live in files shared by the workers
        own = None if self.multiproc else self.registry
        self.requests = Counter(
            "smartlic_http_requests",
            "HTTP requests answered",
            ["app", "method", "route", "status"],
            registry=own,
        )
        self.latency = Histogram(
            "smartlic_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["app", "method", "route"],
            registry=own,
        )
        self.state = _StateCollector(
            lambda: [Sample("server_info", "This server", 1, {"server": server}), *probe()]
        )
        if not self.multiproc:
            self.registry.register(self.state)

    def instrument(self, app: FastAPI, name: str) -> None:
        app.add_middleware(_RequestMetrics, app_name=name, metrics=self)

    def mount(self, app: FastAPI) -> None:
        app.add_api_route("/metrics", self.scrape, methods=["GET"], include_in_schema=False)

    def scrape(self) -> Response:
        scrape = self.registry
        if self.multiproc:  # every worker's request figures, summed, and the state once
            scrape = CollectorRegistry()
            multiprocess.MultiProcessCollector(scrape)  # type: ignore[no-untyped-call]
            scrape.register(self.state)
        return Response(generate_latest(scrape), media_type=CONTENT_TYPE_LATEST)


def install_metrics(app: FastAPI, *, server: str, probe: Probe) -> Metrics:
    """Count ``app``'s requests and serve its ``GET /metrics`` (a one-app server)."""
    metrics = Metrics(server=server, probe=probe)
    metrics.instrument(app, server)
    metrics.mount(app)
    return metrics
