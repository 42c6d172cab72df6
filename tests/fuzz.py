"""schemathesis over a live server's published OpenAPI document (issue 8, "Fuzzing in the suite").

The server is the real app served by uvicorn on 127.0.0.1 (``serve_in_thread``), and every case
goes over real HTTP: what is checked is what a client sees, middleware and all. schemathesis
draws requests from the document with hypothesis (valid ones and, in negative mode, ones that
break the document); every answer must be

* no server error (no 5xx),
* a status code the operation documents,
* of a documented content type, with a body and headers that match the documented schema.

Each operation gets ``examples`` cases per mode, drawn with a fixed seed (``derandomize``), so a
run is reproducible; every failure is collected (not shrunk) and the test lists them all.

Usage::

    failures = fuzz(schema_url, base_url, headers={"Authorization": "Bearer ..."}, examples=8)
    assert failures == []
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import requests
import schemathesis
from hypothesis import HealthCheck
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


@dataclass
class FuzzRun:
    """What a run did: cases sent per status code, and one line per failure."""

    statuses: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    operations: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def cases(self) -> int:
        return sum(self.statuses.values())

    def summary(self) -> str:
        """One line for the log, then the slowest operations."""
        slowest = sorted(self.timings.items(), key=lambda kv: -kv[1])[:5]
        return "\n".join(
            [
                f"{self.operations} operations, {self.cases} cases in {self.seconds:.1f} s: "
                f"{dict(sorted(self.statuses.items()))}",
                *(f"  {t:5.2f} s {label}" for label, t in slowest),
            ]
        )


def fuzz(
    schema_url: str,
    base_url: str,
    *,
    headers: Mapping[str, str] | None = None,
    examples: int = 8,
    skip: Iterable[str] = (),
    path_values: Mapping[str, str] | None = None,
) -> FuzzRun:
    """Fuzz every operation of the document at ``schema_url`` (but the ``skip`` labels, e.g.
    ``"POST /api/v1/actions/sync"``) against ``base_url``. ``path_values`` replaces those path
    parameters in every other case (e.g. a real account's domain), so that the body and query
    of an operation are fuzzed against a resource that exists, not only against 404s."""
    started = time.monotonic()
    schema = schemathesis.openapi.from_url(schema_url)
    run, skipped = FuzzRun(), set(skip)
    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()
            if operation.label in skipped:
                continue
            run.operations += 1
            t0 = time.monotonic()
            send = _sender(session, base_url, headers, operation, path_values or {})
            for mode in MODES:
                _fuzz_operation(operation, mode, examples, run, send)
            run.timings[operation.label] = time.monotonic() - t0
    run.seconds = time.monotonic() - started
    return run


Sender = Callable[[Any], Any]


def _sender(
    session: requests.Session,
    base_url: str,
    headers: Mapping[str, str] | None,
    operation: Any,
    path_values: Mapping[str, str],
) -> Sender:
    names = {p.name for p in operation.path_parameters}
    pinned = {k: v for k, v in path_values.items() if k in names}
    sent = 0

    def send(case: Any) -> Any:
        nonlocal sent
        sent += 1
        if pinned and sent % 2:
            case.path_parameters = {**(case.path_parameters or {}), **pinned}
        return case.call(base_url=base_url, session=session, headers=dict(headers or {}))

    return send


def _fuzz_operation(
    operation: Any, mode: GenerationMode, examples: int, run: FuzzRun, send: Sender
) -> None:
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis.settings(
        max_examples=examples,
        derandomize=True,  # a fixed seed: the same cases every run
        database=None,
        deadline=None,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def one(case: Any) -> None:
        response = send(case)
        run.statuses[response.status_code] = run.statuses.get(response.status_code, 0) + 1
        try:
            case.validate_response(response, checks=CHECKS)
        # schemathesis raises a FailureGroup (a BaseExceptionGroup) or a single Failure: keep
        # what each says, with the request that caused it, and go on
        except (Exception, BaseExceptionGroup) as exc:
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            run.failures.append(
                f"{operation.label} [{mode.value}] -> {response.status_code}: "
                + " | ".join(lines[:12])
            )

    # Unsatisfiable: nothing to draw in this mode (e.g. no parameter can be made invalid)
    with contextlib.suppress(hypothesis.errors.Unsatisfiable):
        one()
