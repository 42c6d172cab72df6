"""schemathesis over the collector's two published OpenAPI documents (tests/fuzz.py): the
product instance service (devices' port) and the REST API (with its token). Zero server errors,
every answer documented. The collector is connected to a live authority on loopback.

The REST API's sync and pull actions are left out: they reach the authority URL and the device
addresses that the fuzzer itself may have just written into the preferences and device list,
and no test sends traffic anywhere but 127.0.0.1."""

from __future__ import annotations

import pytest

from tests.collector.conftest import REST_TOKEN, Collector
from tests.fuzz import fuzz

EXAMPLES = 3  # per operation and mode (the slow run: 50)
REACHES_OUT = ("POST /api/v1/actions/sync", "POST /api/v1/actions/pull")


def fuzz_pi(collector: Collector, examples: int) -> None:
    result = fuzz(f"{collector.pi_url}/openapi.json", collector.pi_url, examples=examples)
    print(result.summary())
    assert result.failures == [], "\n".join(result.failures)


def fuzz_rest(collector: Collector, examples: int) -> None:
    result = fuzz(
        f"{collector.api_url}/openapi.json",
        collector.api_url,
        headers={"Authorization": f"Bearer {REST_TOKEN}"},
        examples=examples,
        skip=REACHES_OUT,
    )
    print(result.summary())
    assert result.failures == [], "\n".join(result.failures)
    assert result.statuses.get(200, 0) > 0  # the token took the fuzzer past 401


def test_the_product_instance_service_answers_as_documented(collector: Collector) -> None:
    fuzz_pi(collector, EXAMPLES)


def test_the_rest_api_answers_as_documented(collector: Collector) -> None:
    fuzz_rest(collector, EXAMPLES)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_the_collector_long_fuzz(collector: Collector) -> None:
    fuzz_pi(collector, 50)
    fuzz_rest(collector, 50)
