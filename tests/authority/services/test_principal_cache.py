"""The access-token principal cache across processes: two service sets over one database
(two server workers, or a server and the CLI) share the key directory's stamp file, so a
revocation made by one is honoured by the other's very next lookup."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.services import Services, build_services
from smartlic.authority.services._principal_cache import TTL, PrincipalCache
from smartlic.authority.services.scope import SYSTEM, Principal
from smartlic.clock import ManualClock
from smartlic.domain.enums import Role
from smartlic.errors import AuthenticationFailed

D = "example.com"


def _pair(engine: Engine, clock: ManualClock, keys: AuthorityKeys, stamp: Path) -> list[Services]:
    return [build_services(engine, clock, keys, revocation_stamp=stamp) for _ in range(2)]


@pytest.fixture
def pair(engine: Engine, clock: ManualClock, keys: AuthorityKeys, tmp_path: Path) -> list[Services]:
    server, cli = _pair(engine, clock, keys, tmp_path / "keys" / "revoked.stamp")
    server.accounts.create_smart_account(name="Example", domain=D, scope=SYSTEM)
    return [server, cli]


def _token(s: Services) -> tuple[str, str]:
    created = s.api_clients.create_client(D, role=Role.SMART_ACCOUNT_ADMIN, actor="t")
    issued = s.api_clients.issue_token(created.client_id, created.client_secret)
    return created.client_id, issued.access_token


def test_a_revocation_by_another_process_is_honoured_at_once(pair: list[Services]) -> None:
    server, cli = pair
    _, token = _token(server)
    assert server.api_clients.authenticate(token).smart_account == D
    assert server.api_clients.cached(token) is not None
    cli.api_clients.revoke_token(token)  # another process: only the stamp file tells
    assert server.api_clients.cached(token) is None
    with pytest.raises(AuthenticationFailed, match="revoked"):
        server.api_clients.authenticate(token)


def test_a_client_revoked_by_another_process_loses_every_token(pair: list[Services]) -> None:
    server, cli = pair
    cid, token = _token(server)
    server.api_clients.authenticate(token)
    cli.api_clients.revoke_client(cid, actor="cli")
    with pytest.raises(AuthenticationFailed, match="revoked"):
        server.api_clients.authenticate(token)


def test_entries_end_with_their_token_and_their_ttl(
    pair: list[Services], clock: ManualClock
) -> None:
    server, _ = pair
    _, token = _token(server)
    server.api_clients.authenticate(token)
    clock.advance(seconds=TTL.total_seconds())
    assert server.api_clients.cached(token) is None  # read again after the TTL
    server.api_clients.authenticate(token)
    clock.advance(minutes=60)
    with pytest.raises(AuthenticationFailed, match="expired"):
        server.api_clients.authenticate(token)


def test_a_lookup_racing_a_revocation_is_not_kept(clock: ManualClock, tmp_path: Path) -> None:
    cache = PrincipalCache(clock, stamp=tmp_path / "revoked.stamp", size=2)
    p = Principal("client:x", Role.SMART_ACCOUNT_ADMIN, D)
    later = clock.now() + TTL
    before = cache.generation()  # read the database here...
    PrincipalCache(clock, stamp=tmp_path / "revoked.stamp").invalidate()  # ...revoked meanwhile
    cache.put("k", p, later, before)
    assert cache.get("k") is None
    for key in ("a", "b", "c"):  # bounded: the least recently used goes first
        cache.put(key, p, later, cache.generation())
    assert [cache.get(k) is not None for k in ("a", "b", "c")] == [False, True, True]


def test_a_stamp_that_cannot_be_written_never_fails_the_revocation(
    clock: ManualClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = PrincipalCache(clock, stamp=tmp_path / "missing" / "revoked.stamp")
    p = Principal("client:x", Role.SMART_ACCOUNT_ADMIN, D)
    cache.put("k", p, clock.now() + TTL, cache.generation())
    cache.invalidate()  # this process forgets at once; the failure is logged, not raised
    assert cache.get("k") is None
    assert "could not rewrite" in caplog.text
