"""Transport configuration and the problem+json -> error mapping (HTTP itself: tests/e2e)."""

from __future__ import annotations

import pytest

from smartlic.agent import (
    CallHomeTransport,
    OffTransport,
    SmartTransport,
    Transport,
    TransportConfig,
    make_transport,
)
from smartlic.agent._transports import problem_error
from smartlic.errors import (
    AlreadyRegistered,
    InvalidInput,
    NotFound,
    SignatureInvalid,
    SmartlicError,
    TokenRejected,
    Unavailable,
)


def test_every_transport_implements_the_protocol() -> None:
    for transport in (
        SmartTransport("http://127.0.0.1:1"),
        CallHomeTransport("http://127.0.0.1:1"),
        OffTransport(),
    ):
        assert isinstance(transport, Transport)
        transport.close()


@pytest.mark.parametrize(
    ("config", "kind", "url"),
    [
        (TransportConfig(), "callhome", None),
        (
            TransportConfig(type="callhome", url="http://127.0.0.1:1/"),
            "callhome",
            "http://127.0.0.1:1",
        ),
        (TransportConfig(type="smart", url="https://a.example"), "smart", "https://a.example"),
        (TransportConfig(type="off", url="https://a.example"), "off", None),
    ],
)
def test_make_transport(config: TransportConfig, kind: str, url: str | None) -> None:
    transport = make_transport(config)
    assert (transport.type, transport.url) == (kind, url)
    transport.close()


def test_no_url_and_off_never_send() -> None:
    for transport in (make_transport(TransportConfig()), OffTransport()):
        with pytest.raises(Unavailable):
            transport.send("register", {})


@pytest.mark.parametrize(
    ("address", "port", "proxy"),
    [
        ("proxy.example", 3128, "http://proxy.example:3128"),
        ("https://proxy.example", None, "https://proxy.example"),
        (None, 3128, None),
    ],
)
def test_proxy_url(address: str | None, port: int | None, proxy: str | None) -> None:
    assert TransportConfig(proxy_address=address, proxy_port=port).proxy == proxy


def test_unknown_messages_are_not_sent() -> None:
    transport = SmartTransport("http://127.0.0.1:1")
    with pytest.raises(InvalidInput):
        transport.send("format-disk", {})
    transport.close()


@pytest.mark.parametrize(
    ("status", "problem", "cls", "code"),
    [
        (403, {"code": "token-expired", "detail": "expired"}, TokenRejected, "token-expired"),
        (
            409,
            {"code": "already-registered", "detail": "x"},
            AlreadyRegistered,
            "already-registered",
        ),
        (401, {"code": "unknown-identity", "detail": "x"}, SignatureInvalid, "unknown-identity"),
        (404, {}, NotFound, "not-found"),
        (503, {"code": "internal", "detail": "db down"}, Unavailable, "internal"),
        (429, {}, Unavailable, "unavailable"),
        (418, {"detail": "teapot"}, SmartlicError, "internal"),
    ],
)
def test_problems_become_our_errors(
    status: int, problem: dict[str, str], cls: type[SmartlicError], code: str
) -> None:
    error = problem_error(status, problem)
    assert type(error) is cls
    assert error.code == code
    assert error.detail == problem.get("detail", f"HTTP {status}")
