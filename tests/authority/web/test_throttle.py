"""Portal log-in throttling over real HTTP: per user and address, per address, per user from
many addresses (sparing familiar ones), windows on the ManualClock, counts in the database
shared by two authority processes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select

from smartlic.authority.app import create_app
from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.services import Services, build_services
from smartlic.authority.services.login_throttle import LoginPolicy, client_key
from smartlic.authority.settings import AuthoritySettings
from smartlic.clock import ManualClock
from smartlic.storage import make_engine
from smartlic.storage.models import LoginAttempt
from tests.authority.api.conftest import serve_in_thread
from tests.authority.web.conftest import PASSWORD, PORTAL, Browser, Portal, html, texts

WRONG = "not the password"


def _alert(answer: httpx.Response) -> str:
    return " ".join(texts(html(answer), '//p[@role="alert"]'))


def _failures(engine: Engine) -> int:
    with engine.connect() as conn:
        query = select(func.count()).select_from(LoginAttempt).where(~LoginAttempt.succeeded)
        return int(conn.scalar(query) or 0)


def test_brute_force_is_throttled_then_allowed_after_the_window(
    portal: Portal, engine: Engine
) -> None:
    portal.services.users.create_user(username="alice", password=PASSWORD, actor="t")
    guesser = portal.browser()
    assert [guesser.login("alice", WRONG).status_code for _ in range(5)] == [401] * 5
    portal.live.clock.advance(timedelta(minutes=5))

    answer = guesser.login("alice", PASSWORD)  # the right password, during the lock
    assert answer.status_code == 429
    assert answer.headers["retry-after"] == str(10 * 60)
    assert _alert(answer) == (
        "Too many failed log-ins as 'alice' from your address: try again in 10 minutes."
    )
    assert guesser.get(f"{PORTAL}/").status_code == 303  # not logged in

    for _ in range(10):  # hammering during the lock is not counted and does not extend it
        assert guesser.login("alice", WRONG).status_code == 429
    assert _failures(engine) == 5

    portal.live.clock.advance(timedelta(minutes=10))
    assert guesser.login("alice", PASSWORD).status_code == 303
    assert guesser.get(f"{PORTAL}/").status_code == 200
    assert _failures(engine) == 0  # a success clears that user's failures from that address


def test_a_locked_user_is_refused_on_the_password_page_too(portal: Portal, alice: Browser) -> None:
    alice.page(f"{PORTAL}/password")
    for _ in range(5):
        data = {"current_password": WRONG, "new_password": "n" * 10, "confirm_password": "n" * 10}
        answer = alice.post(f"{PORTAL}/password", data)
        assert (answer.status_code, _alert(answer)) == (403, "The current password is wrong.")
    data = {"current_password": PASSWORD, "new_password": "n" * 10, "confirm_password": "n" * 10}
    answer = alice.post(f"{PORTAL}/password", data)
    assert (answer.status_code, answer.headers["retry-after"]) == (429, "900")
    portal.services.users.authenticate("alice", PASSWORD)  # unchanged


def test_forwarded_for_is_ignored_without_trusted_proxies(portal: Portal) -> None:
    portal.services.users.create_user(username="alice", password=PASSWORD, actor="t")
    guesser = portal.browser()
    for _ in range(5):
        guesser.login("alice", WRONG)
    spoofed = {"X-Forwarded-For": "198.51.100.99"}
    guesser.get(f"{PORTAL}/login")
    data = {"username": "alice", "password": PASSWORD}
    assert guesser.post(f"{PORTAL}/login", data, headers=spoofed).status_code == 429


# ---------------------------------------------------------------- many addresses


class Proxied:
    """An authority behind a trusted proxy (127.0.0.1): each browser claims its address."""

    def __init__(self, url: str, services: Services, clock: ManualClock) -> None:
        self.url, self.services, self.clock = url, services, clock
        self._clients: list[httpx.Client] = []

    def browser(self, address: str) -> Browser:
        client = httpx.Client(base_url=self.url, timeout=30, headers={"X-Forwarded-For": address})
        self._clients.append(client)
        return Browser(client)


@pytest.fixture
def proxied(
    engine: Engine, clock: ManualClock, keys: AuthorityKeys, tmp_path: Path
) -> Iterator[Proxied]:
    policy = LoginPolicy(per_user_address=3, per_address=5, per_user=6)
    services = build_services(engine, clock, keys, login_policy=policy)
    settings = AuthoritySettings(data_dir=tmp_path / "authority", trusted_proxies="127.0.0.1")
    server, thread, url = serve_in_thread(create_app(settings, clock=clock, services=services))
    services.users.create_user(username="alice", password=PASSWORD, actor="t")
    proxied = Proxied(url, services, clock)
    try:
        yield proxied
    finally:
        for client in proxied._clients:
            client.close()
        server.should_exit = True
        thread.join(timeout=10)


def test_one_address_spraying_many_users_is_throttled(proxied: Proxied) -> None:
    sprayer = proxied.browser("203.0.113.5")
    for name in ("u1", "u2", "u3", "u4", "u5"):
        assert sprayer.login(name, WRONG).status_code == 401
    answer = sprayer.login("alice", PASSWORD)
    assert answer.status_code == 429
    assert _alert(answer) == "Too many failed log-ins from your address: try again in 15 minutes."
    assert proxied.browser("203.0.113.6").login("alice").status_code == 303  # elsewhere: fine


def test_many_addresses_guessing_one_user_spare_its_familiar_address(proxied: Proxied) -> None:
    assert proxied.browser("192.0.2.10").login("alice").status_code == 303  # alice's office
    for n in range(3):  # a botnet: two guesses from each address, under the per-pair limit
        bot = proxied.browser(f"198.51.100.{n}")
        assert [bot.login("alice", WRONG).status_code for _ in range(2)] == [401, 401]

    traveller = proxied.browser("203.0.113.77").login("alice")  # alice on a new network
    assert traveller.status_code == 429
    assert _alert(traveller) == "Too many failed log-ins as 'alice': try again in 15 minutes."
    office = proxied.browser("192.0.2.10")
    assert office.login("alice").status_code == 303  # the attackers cannot lock her out there

    proxied.clock.advance(timedelta(minutes=15, seconds=1))
    assert proxied.browser("203.0.113.77").login("alice").status_code == 303


def test_ipv6_addresses_count_per_64() -> None:
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::9")
    assert client_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert client_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert client_key(None) == "unknown"


# ---------------------------------------------------------------- two processes, one database


def test_two_authorities_on_one_database_share_throttle_and_sessions(
    db_url: str, clock: ManualClock, keys: AuthorityKeys, tmp_path: Path
) -> None:
    """Two app instances, each with its own engine, as two worker processes would be."""
    settings = AuthoritySettings(data_dir=tmp_path / "authority", portal_secret="s" * 48)
    engines = [make_engine(db_url), make_engine(db_url)]
    servers = []
    try:
        for eng in engines:
            services = build_services(eng, clock, keys)
            servers.append(serve_in_thread(create_app(settings, clock=clock, services=services)))
        services.users.create_user(username="alice", password=PASSWORD, actor="t")
        one, two = (Browser(httpx.Client(base_url=url, timeout=30)) for _, _, url in servers)

        for browser in (one, two, one, two, one):
            assert browser.login("alice", WRONG).status_code == 401
        assert two.login("alice", PASSWORD).status_code == 429  # 5 failures, counted together

        clock.advance(timedelta(minutes=16))
        assert one.login("alice", PASSWORD).status_code == 303
        two.http.cookies = one.http.cookies  # the same browser, load-balanced to the other
        assert two.get(f"{PORTAL}/").status_code == 200
        assert two.post(f"{PORTAL}/logout").status_code == 303
        replay = httpx.Client(base_url=servers[0][2], cookies=one.http.cookies, timeout=30)
        with replay:
            assert replay.get(f"{PORTAL}/").status_code == 303  # logged out everywhere
        for browser in (one, two):
            browser.http.close()
    finally:
        for server, thread, _ in servers:
            server.should_exit = True
            thread.join(timeout=10)
        for eng in engines:
            eng.dispose()


def test_session_cookie_is_secure_over_https_only_from_trusted_proxies(
    proxied: Proxied, portal: Portal
) -> None:
    https = {"X-Forwarded-Proto": "https"}
    browser = proxied.browser("192.0.2.10")
    browser.http.headers.update(https)
    answer = browser.login("alice")
    assert "secure" in answer.headers["set-cookie"].lower()
    assert answer.headers["strict-transport-security"] == "max-age=31536000"

    portal.services.users.create_user(username="bob", password=PASSWORD, actor="t")
    untrusted = portal.browser()  # the plain live authority: no trusted proxies
    untrusted.http.headers.update(https)
    answer = untrusted.login("bob")
    assert answer.status_code == 303
    assert "secure" not in answer.headers["set-cookie"].lower()
    assert "strict-transport-security" not in answer.headers
