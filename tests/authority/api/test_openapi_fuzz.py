"""schemathesis over the authority's published OpenAPI document (tests/fuzz.py): zero server
errors, every answer documented, at a bounded example count with a fixed seed; a longer run is
marked slow (``pytest -m slow``).

The cases go over real HTTP to the real app on 127.0.0.1 (not schemathesis' ASGI transport), so
the body limit, request-id middleware and uvicorn's own parsing are fuzzed too. The caller is
the authority admin, and half of the cases name the real account, virtual account, token and
product instance, so that the fuzzing reaches past 401 and 404 into the services."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.authority.api.conftest import LiveAuthority
from tests.authority.api.helpers import ACCOUNT, DOMAIN, build_world, create_token, new_device, ok
from tests.authority.api.helpers import register as register_device
from tests.fuzz import fuzz

EXAMPLES = 3  # per operation and mode: the default run stays well under a minute on 2 cores


@pytest.fixture
def db_url(sqlite_template: Path, tmp_path: Path) -> str:
    """One database is enough to fuzz the HTTP layer: SQLite (a copy of the template)."""
    path = tmp_path / "authority.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


def run(live: LiveAuthority, examples: int) -> None:
    api = live.client()
    build_world(api)
    token = create_token(api)
    register_device(live, api, new_device(live, 1), token["text"])
    [instance] = ok(api.get(f"{ACCOUNT}/devices"))["items"]
    known = {
        "domain": DOMAIN,
        "virtual_account": "Prod",
        "token_id": token["token"]["id"],
        "instance_id": instance["id"],
    }
    result = fuzz(
        f"{live.url}/openapi.json",
        live.url,
        headers={"Authorization": f"Bearer {live.admin_key}"},
        examples=examples,
        path_values=known,
    )
    print(result.summary())
    assert result.failures == [], "\n".join(result.failures)
    assert result.statuses.get(200, 0) + result.statuses.get(201, 0) > result.operations


def test_the_authority_answers_every_fuzzed_request_as_documented(
    live_authority: LiveAuthority,
) -> None:
    run(live_authority, EXAMPLES)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_the_authority_long_fuzz(live_authority: LiveAuthority) -> None:
    run(live_authority, 30)
