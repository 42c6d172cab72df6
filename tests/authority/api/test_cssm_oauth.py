"""The vendor's OAuth2 token endpoints over real HTTP: both grants, the three ways tools send
the fields, RFC 6749 refusals, and access tokens standing in for API keys on ``/api/v1``
with exactly the client's (or the user's) tenant scope."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import event

from smartlic.domain.enums import Role
from tests.authority.api.conftest import LiveAuthority

D = "acme.example"
TOKEN = "/as/token.oauth2"
OKTA = "/oauth2/default/v1/token"


@pytest.fixture
def live(live_authority: LiveAuthority) -> LiveAuthority:
    s = live_authority.services
    s.accounts.create_smart_account(name="Acme", domain=D, scope=_system())
    s.accounts.create_virtual_account(D, name="Prod", scope=_system())
    s.accounts.create_smart_account(name="Rival", domain="rival.example", scope=_system())
    return live_authority


def _system() -> Any:
    from smartlic.authority.services.scope import SYSTEM

    return SYSTEM


def _client(
    live: LiveAuthority, role: Role = Role.SMART_ACCOUNT_ADMIN, va: str | None = None
) -> tuple[str, str]:
    created = live.services.api_clients.create_client(D, role=role, virtual_account=va, actor="t")
    return created.client_id, created.client_secret


def _token_ok(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3599
    assert response.headers["cache-control"] == "no-store"
    token: str = body["access_token"]
    return token


def _refused(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "error_description"} and body["error"] == error
    assert body["error_description"]


def test_both_paths_form_query_and_basic_give_tokens_that_work_on_api_v1(
    live: LiveAuthority,
) -> None:
    cid, secret = _client(live)
    http = live.client(auth=False)
    fields = {"grant_type": "client_credentials", "client_id": cid, "client_secret": secret}
    tokens = [
        _token_ok(http.post(TOKEN, data=fields)),
        _token_ok(http.post(OKTA, data=fields)),
        _token_ok(http.post(TOKEN, params=fields)),
        _token_ok(http.post(OKTA, data={"grant_type": "client_credentials"}, auth=(cid, secret))),
    ]
    assert len(set(tokens)) == 4
    for token in tokens:
        bearer = {"Authorization": f"Bearer {token}"}
        listing = http.get("/api/v1/accounts", headers=bearer)
        assert [a["domain"] for a in listing.json()["items"]] == [D]
        assert http.get("/api/v1/accounts/rival.example", headers=bearer).status_code == 403
    # the secret and the tokens are stored as hashes only
    with live.services.engine.connect() as c:
        dump = str(c.exec_driver_sql("SELECT * FROM api_clients").all())
        dump += str(c.exec_driver_sql("SELECT * FROM access_tokens").all())
    assert secret not in dump and not any(t in dump for t in tokens)


def test_refusals_are_rfc6749_and_issue_nothing(live: LiveAuthority) -> None:
    cid, secret = _client(live)
    http = live.client(auth=False)
    good = {"grant_type": "client_credentials", "client_id": cid, "client_secret": secret}
    _refused(
        http.post(TOKEN, data=good | {"grant_type": "implicit"}), 400, "unsupported_grant_type"
    )
    _refused(http.post(TOKEN, data=good | {"grant_type": ""}), 400, "invalid_request")
    _refused(http.post(TOKEN, data={"client_id": cid}), 400, "invalid_request")  # RFC 6749 5.2
    _refused(http.post(TOKEN, data=good | {"client_secret": "wrong"}), 401, "invalid_client")
    _refused(http.post(TOKEN, data=good | {"client_id": "nobody"}), 401, "invalid_client")
    _refused(http.post(OKTA, data={"grant_type": "client_credentials"}), 401, "invalid_client")
    _refused(http.post(TOKEN, data=good | {"client_id": "x" * 100_000}), 401, "invalid_client")
    password = good | {"grant_type": "password", "username": "alice", "password": "nope"}
    _refused(http.post(TOKEN, data=password), 400, "invalid_grant")
    _refused(http.post(TOKEN, data=password | {"password": ""}), 400, "invalid_request")
    _refused(http.post(TOKEN, params=password | {"username": ""}), 400, "invalid_request")
    with live.services.engine.connect() as c:
        assert c.exec_driver_sql("SELECT count(*) FROM access_tokens").scalar() == 0
    bad = http.get("/api/v1/accounts", headers={"Authorization": "Bearer slat_forged"})
    assert bad.status_code == 401 and bad.json()["code"] == "unauthenticated"


def test_tokens_expire_after_an_hour_and_die_with_their_client(live: LiveAuthority) -> None:
    cid, secret = _client(live)
    http = live.client(auth=False)
    fields = {"grant_type": "client_credentials", "client_id": cid, "client_secret": secret}
    token = _token_ok(http.post(TOKEN, data=fields))
    bearer = {"Authorization": f"Bearer {token}"}
    live.clock.advance(minutes=59)
    assert http.get("/api/v1/accounts", headers=bearer).status_code == 200
    live.clock.advance(minutes=1)
    expired = http.get("/api/v1/accounts", headers=bearer)
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]
    fresh = {"Authorization": f"Bearer {_token_ok(http.post(TOKEN, data=fields))}"}
    admin = live.client()
    revoked = admin.post(f"/api/v1/accounts/{D}/api-clients/{cid}/actions/revoke")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    gone = http.get("/api/v1/accounts", headers=fresh)
    assert gone.status_code == 401 and "revoked" in gone.json()["detail"]
    _refused(http.post(TOKEN, data=fields), 401, "invalid_client")


def test_a_virtual_account_client_is_scoped_like_a_virtual_account_key(live: LiveAuthority) -> None:
    cid, secret = _client(live, Role.VIRTUAL_ACCOUNT_USER, "Prod")
    http = live.client(auth=False)
    fields = {"grant_type": "client_credentials", "client_id": cid, "client_secret": secret}
    bearer = {"Authorization": f"Bearer {_token_ok(http.post(TOKEN, data=fields))}"}
    base = f"/api/v1/accounts/{D}/virtual-accounts"
    assert [v["name"] for v in http.get(base, headers=bearer).json()["items"]] == ["Prod"]
    assert http.get(f"{base}/DEFAULT/tokens", headers=bearer).status_code == 403
    read_only = http.post(f"{base}/Prod/tokens", json={}, headers=bearer)
    assert read_only.status_code == 403 and "read-only" in read_only.json()["detail"]
    assert http.get(f"/api/v1/accounts/{D}/api-clients", headers=bearer).status_code == 403


def test_the_password_grant_carries_the_users_grants(live: LiveAuthority) -> None:
    users = live.services.users
    users.create_user(username="alice", password="correct horse battery", actor="t")
    users.grant(
        "alice", Role.VIRTUAL_ACCOUNT_ADMIN, smart_account=D, virtual_account="Prod", actor="t"
    )
    cid, secret = _client(live, Role.SMART_ACCOUNT_USER)
    http = live.client(auth=False)
    fields = {
        "grant_type": "password",
        "client_id": cid,
        "client_secret": secret,
        "username": "alice",
        "password": "correct horse battery",
    }
    bearer = {"Authorization": f"Bearer {_token_ok(http.post(TOKEN, data=fields))}"}
    base = f"/api/v1/accounts/{D}/virtual-accounts"
    created = http.post(f"{base}/Prod/tokens", json={}, headers=bearer)
    assert created.status_code == 201 and created.json()["token"]["created_by"] == "user:alice"
    assert http.post(f"{base}/DEFAULT/tokens", json={}, headers=bearer).status_code == 403
    _refused(http.post(TOKEN, data=fields | {"client_secret": "x"}), 401, "invalid_client")
    users.set_disabled("alice", True, actor="t")
    assert http.get(base, headers=bearer).status_code == 401


def test_password_guesses_are_throttled_like_portal_logins(live: LiveAuthority) -> None:
    live.services.users.create_user(username="bob", password="correct horse battery", actor="t")
    cid, secret = _client(live)
    http = live.client(auth=False)
    fields = {"grant_type": "password", "client_id": cid, "client_secret": secret,
              "username": "bob", "password": "wrong"}  # fmt: skip
    for _ in range(5):  # LoginPolicy.per_user_address
        _refused(http.post(TOKEN, data=fields), 400, "invalid_grant")
    locked = http.post(TOKEN, data=fields | {"password": "correct horse battery"})
    _refused(locked, 429, "invalid_grant")
    with live.services.engine.connect() as c:
        assert c.exec_driver_sql("SELECT count(*) FROM access_tokens").scalar() == 0


def _lookups(live: LiveAuthority) -> list[str]:
    """Collects the queries that read access tokens, from now on."""
    seen: list[str] = []

    def note(_c: Any, _cur: Any, statement: str, *_rest: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "access_tokens" in statement:
            seen.append(statement)

    event.listen(live.services.engine, "before_cursor_execute", note)
    return seen


def test_a_cached_token_stops_working_at_once_when_revoked(live: LiveAuthority) -> None:
    cid, secret = _client(live)
    http = live.client(auth=False)
    fields = {"grant_type": "client_credentials", "client_id": cid, "client_secret": secret}
    token = _token_ok(http.post(TOKEN, data=fields))
    bearer = {"Authorization": f"Bearer {token}"}
    assert http.get("/api/v1/accounts", headers=bearer).status_code == 200
    lookups = _lookups(live)
    for _ in range(3):  # answered from the cache: the token is not read again
        assert http.get("/api/v1/accounts", headers=bearer).status_code == 200
    assert lookups == []
    live.services.api_clients.revoke_token(token)  # RFC 7009 revocation, as the CLI does it
    gone = http.get("/api/v1/accounts", headers=bearer)
    assert gone.status_code == 401 and "revoked" in gone.json()["detail"]
    assert len(lookups) == 1  # read again, and refused
    other = {"Authorization": f"Bearer {_token_ok(http.post(TOKEN, data=fields))}"}
    assert http.get("/api/v1/accounts", headers=other).status_code == 200  # its own, live


def test_a_cached_principal_never_outlives_its_virtual_account_name(live: LiveAuthority) -> None:
    """A client of Prod: Prod renamed and a new Prod made, the token must not reach it."""
    cid, secret = _client(live, Role.VIRTUAL_ACCOUNT_ADMIN, "Prod")
    http, admin = live.client(auth=False), live.client()
    fields = {"grant_type": "client_credentials", "client_id": cid, "client_secret": secret}
    bearer = {"Authorization": f"Bearer {_token_ok(http.post(TOKEN, data=fields))}"}
    base = f"/api/v1/accounts/{D}/virtual-accounts"
    assert http.get(f"{base}/Prod/tokens", headers=bearer).status_code == 200
    renamed = admin.patch(f"{base}/Prod", json={"name": "Old"})
    assert renamed.status_code == 200, renamed.text
    assert admin.post(base, json={"name": "Prod"}).status_code == 201
    refused = http.get(f"{base}/Prod/tokens", headers=bearer)
    assert refused.status_code == 403 and "no access" in refused.json()["detail"]
    assert http.get(f"{base}/Old/tokens", headers=bearer).status_code == 200


def test_a_token_request_waiting_on_the_database_does_not_stop_the_server(
    live: LiveAuthority,
) -> None:
    """The token endpoint's database work (and a password grant's Argon2id check) runs off the
    event loop: while another connection holds the lock its insert needs, the request waits and
    the server still answers everyone else; the token is issued once the lock is gone."""
    import threading

    from sqlalchemy import text

    client_id, secret = _client(live)
    engine = live.services.api_clients.engine
    with engine.connect() as holder:
        if engine.dialect.name == "postgresql":
            holder.execute(text("LOCK TABLE access_tokens IN ACCESS EXCLUSIVE MODE"))
        else:
            # a write (that matches nothing) takes the database's one write lock
            holder.execute(text("DELETE FROM access_tokens WHERE 1 = 0"))
        answers: list[httpx.Response] = []
        waiting = threading.Thread(
            target=lambda: answers.append(
                httpx.post(
                    live.url + TOKEN,
                    data={"grant_type": "client_credentials", "client_id": client_id,
                          "client_secret": secret},
                    timeout=30,
                )
            )
        )  # fmt: skip
        waiting.start()
        try:
            waiting.join(timeout=0.5)
            assert waiting.is_alive() and not answers  # held up by the lock
            health = httpx.get(live.url + "/healthz", timeout=3)  # a blocked loop would time out
            assert health.status_code == 200
            assert waiting.is_alive() and not answers
        finally:
            holder.rollback()
    waiting.join(timeout=20)
    assert len(answers) == 1
    _token_ok(answers[0])
