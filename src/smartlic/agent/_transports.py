"""How the agent reaches the authority: the transport seam (style habit 8).

A ``Transport`` sends one device-protocol message (docs/device-protocol.md) and returns the
response body as a dict, or raises a ``smartlic.errors`` exception: ``Unavailable`` when the
authority cannot be reached (the manager retries with backoff), the error named by the
authority's problem+json ``code`` otherwise. Transports do no signature checks; the manager
verifies every response it acts on, whatever carried it.

* ``SmartTransport(url)`` - "license smart transport smart": direct HTTP(S) to the authority's
  ``/api/device/v1/...``.
* ``CallHomeTransport(url)`` - "license smart transport callhome": on real devices Smart
  Licensing messages travel inside Call Home to a destination URL such as
  ``.../its/service/oddce/services/DDCEService``. Our authority serves no Call Home endpoint, so
  the honest minimum is: the same signed envelopes, posted to ``<url>/api/device/v1/...`` through
  a client that identifies itself as Call Home and reports failures as Call Home does ("Fail to
  send out Call Home HTTP message."). When a Call Home endpoint exists, only this class changes.
* ``OffTransport()`` - "license smart transport off": no communication at all (offline files
  come later); every send raises ``Unavailable``.
* ``CsluTransport(cslu_url)`` - "license smart transport cslu" (policy mode only): the same
  vendor messages posted to a collector at ``http://<host>:8182/cslu/v1/pi``, which serves
  ``/v2/devices/reportusage``, ``/v2/devices/authrequest``, ``/v2/accounts/poll`` and
  ``/v1/trust`` under that prefix (``smartlic.collector.api.pi``).
* "automatic" picks ``cslu`` when a CSLU URL is configured, else ``smart``.

Policy mode (docs/usage-protocol.md) speaks ``post_policy(message, body)`` with message one of
``reportusage``, ``authrequest``, ``poll``, ``trust`` (``PolicyTransport``): to the authority
they go to ``/services/api/smart-accounts-and-licensing/v2/...`` and ``/api/device/v1/trust``.

Both HTTP transports accept an HTTP(S) proxy (``proxy="http://host:port"``) and verify TLS,
against ``ca_bundle`` when given.

Usage::

    transport = SmartTransport("https://authority.example:8443", ca_bundle="/etc/ca.pem")
    manager = LicenseManager(udi=..., transport=transport, ...)
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import httpx

from smartlic.errors import (
    AlreadyRegistered,
    AuthenticationFailed,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    ReplayDetected,
    SignatureInvalid,
    SmartlicError,
    TokenRejected,
    Unavailable,
    UnknownTag,
)
from smartlic.formats.device_api import VENDOR_PREFIX
from smartlic.formats.device_v1 import API_PREFIX

__all__ = [
    "CallHomeTransport",
    "CsluTransport",
    "OffTransport",
    "PolicyTransport",
    "SmartTransport",
    "Transport",
    "TransportConfig",
    "make_transport",
]

TRANSPORT_TYPES = ("callhome", "smart", "off", "cslu", "automatic")
MESSAGES = ("register", "renew-id", "authorize", "deregister", "convert")
AUTHORITY_PATHS = {
    "reportusage": f"{VENDOR_PREFIX}/v2/devices/reportusage",
    "authrequest": f"{VENDOR_PREFIX}/v2/devices/authrequest",
    "poll": f"{VENDOR_PREFIX}/v2/accounts/poll",
    "trust": f"{API_PREFIX}/trust",
}
CSLU_PATHS = {
    "reportusage": "/v2/devices/reportusage",
    "authrequest": "/v2/devices/authrequest",
    "poll": "/v2/accounts/poll",
    "trust": "/v1/trust",
}


@runtime_checkable
class Transport(Protocol):
    """Sends one device-protocol message; see the module docstring for the error contract."""

    @property
    def type(self) -> str: ...

    @property
    def url(self) -> str | None: ...

    def send(self, message: str, body: Mapping[str, Any]) -> dict[str, Any]: ...

    def close(self) -> None: ...


@runtime_checkable
class PolicyTransport(Protocol):
    """Sends one policy-mode message (``reportusage``, ``authrequest``, ``poll``, ``trust``)."""

    @property
    def type(self) -> str: ...

    def post_policy(self, message: str, body: Mapping[str, Any]) -> dict[str, Any]: ...


@dataclass(frozen=True)
class TransportConfig:
    """The persisted transport settings ("license smart transport/url/proxy")."""

    type: str = "callhome"
    url: str | None = None
    proxy_address: str | None = None
    proxy_port: int | None = None
    ca_bundle: str | None = None
    cslu_url: str | None = None  # "license smart url cslu <url>"

    def __post_init__(self) -> None:
        if self.type not in TRANSPORT_TYPES:
            raise InvalidInput(f"transport type must be one of {', '.join(TRANSPORT_TYPES)}")
        if self.proxy_port is not None and not 0 < self.proxy_port < 65536:
            raise InvalidInput("proxy port must be 1-65535")

    @property
    def proxy(self) -> str | None:
        if not self.proxy_address:
            return None
        address = self.proxy_address
        if "://" not in address:
            address = f"http://{address}"
        return f"{address}:{self.proxy_port}" if self.proxy_port else address


class HttpTransport:
    """Posts JSON to ``<url>/api/device/v1/<message>`` with httpx; subclasses name the flavour."""

    type: ClassVar[str] = "smart"
    paths: ClassVar[dict[str, str]] = AUTHORITY_PATHS
    failure_message: ClassVar[str] = "Fail to send out Smart Licensing HTTP message."
    user_agent: ClassVar[str] = "smartlic-agent/0.1 (smart)"

    def __init__(
        self,
        url: str,
        *,
        proxy: str | None = None,
        ca_bundle: str | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self._url = url.rstrip("/")
        self.proxy = proxy
        self._client = httpx.Client(
            proxy=proxy,
            verify=_tls_context(ca_bundle),
            timeout=timeout_s,
            headers={"User-Agent": self.user_agent},
            trust_env=False,  # the configured proxy, not the environment's, is what status shows
        )

    @property
    def url(self) -> str | None:
        return self._url

    def send(self, message: str, body: Mapping[str, Any]) -> dict[str, Any]:
        if message not in MESSAGES:
            raise InvalidInput(f"unknown device-protocol message {message!r}")
        try:
            response = self._client.post(f"{self._url}{API_PREFIX}/{message}", json=dict(body))
        except httpx.HTTPError as exc:
            raise Unavailable(self.failure_message) from exc
        return _decode(response, self.failure_message)

    def post_policy(self, message: str, body: Mapping[str, Any]) -> dict[str, Any]:
        path = self.paths.get(message)
        if path is None:
            raise InvalidInput(f"unknown policy-mode message {message!r}")
        try:
            response = self._client.post(f"{self._url}{path}", json=dict(body))
        except httpx.HTTPError as exc:
            raise Unavailable(self.failure_message) from exc
        return _decode(response, self.failure_message)

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._url!r})"


def _tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    """Verification always on: the system trust store, or ``ca_bundle`` (a file or directory)."""
    try:
        if not ca_bundle:
            return ssl.create_default_context()
        if Path(ca_bundle).is_dir():
            return ssl.create_default_context(capath=ca_bundle)
        return ssl.create_default_context(cafile=ca_bundle)
    except (OSError, ssl.SSLError) as exc:
        raise InvalidInput(f"cannot use the CA bundle {ca_bundle!r}: {exc}") from exc


class SmartTransport(HttpTransport):
    """Direct HTTP(S) to the authority ("license smart transport smart")."""


class CallHomeTransport(HttpTransport):
    """The same messages, sent as Call Home would (see the module docstring)."""

    type: ClassVar[str] = "callhome"
    failure_message: ClassVar[str] = "Fail to send out Call Home HTTP message."
    user_agent: ClassVar[str] = "smartlic-agent/0.1 (callhome)"


class CsluTransport(HttpTransport):
    """Policy-mode messages to a collector (CSLU) at ``.../cslu/v1/pi``."""

    type: ClassVar[str] = "cslu"
    paths: ClassVar[dict[str, str]] = CSLU_PATHS
    failure_message: ClassVar[str] = "Fail to send out CSLU HTTP message."
    user_agent: ClassVar[str] = "smartlic-agent/0.1 (cslu)"

    def send(self, message: str, body: Mapping[str, Any]) -> dict[str, Any]:
        raise Unavailable("The CSLU transport carries policy-mode messages only.")


class OffTransport:
    """No communication ("license smart transport off")."""

    type: ClassVar[str] = "off"

    @property
    def url(self) -> str | None:
        return None

    def send(self, message: str, body: Mapping[str, Any]) -> dict[str, Any]:
        raise Unavailable("Transport is off: no communication with the authority.")

    def post_policy(self, message: str, body: Mapping[str, Any]) -> dict[str, Any]:
        raise Unavailable("Transport is off: no communication with the authority.")

    def close(self) -> None:
        return None

    def __repr__(self) -> str:
        return "OffTransport()"


class _NoUrlTransport(OffTransport):
    """A configured HTTP transport without a destination URL yet."""

    def __init__(self, type_: str) -> None:
        self._type = type_

    @property
    def type(self) -> str:  # type: ignore[override]
        return self._type

    def send(self, message: str, body: Mapping[str, Any]) -> dict[str, Any]:
        raise Unavailable("No destination URL configured for the transport.")

    def post_policy(self, message: str, body: Mapping[str, Any]) -> dict[str, Any]:
        raise Unavailable("No destination URL configured for the transport.")


def make_transport(config: TransportConfig) -> Transport:
    """The transport a ``TransportConfig`` describes."""
    if config.type == "off":
        return OffTransport()
    if config.type == "cslu" or (config.type == "automatic" and config.cslu_url):
        if not config.cslu_url:
            return _NoUrlTransport(config.type)
        return CsluTransport(config.cslu_url, proxy=config.proxy, ca_bundle=config.ca_bundle)
    if not config.url:
        return _NoUrlTransport(config.type)
    cls = CallHomeTransport if config.type == "callhome" else SmartTransport
    return cls(config.url, proxy=config.proxy, ca_bundle=config.ca_bundle)


# ------------------------------------------------------------------ responses

_BY_CODE: dict[str, type[SmartlicError]] = {
    cls.code: cls
    for cls in (
        AlreadyRegistered,
        AuthenticationFailed,
        Conflict,
        Forbidden,
        InvalidInput,
        NotFound,
        ReplayDetected,
        SignatureInvalid,
        Unavailable,
        UnknownTag,
    )
}
_BY_STATUS: dict[int, type[SmartlicError]] = {
    400: InvalidInput,
    401: SignatureInvalid,  # device-protocol 401s are signature/certificate failures
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: InvalidInput,
}


def _decode(response: httpx.Response, failure_message: str) -> dict[str, Any]:
    body = _json_or_none(response)
    if response.is_success:
        if body is None:
            raise Unavailable(f"{failure_message} (the response is not a JSON object)")
        return body
    raise problem_error(response.status_code, body or {})


def _json_or_none(response: httpx.Response) -> dict[str, Any] | None:
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def problem_error(status: int, problem: Mapping[str, Any]) -> SmartlicError:
    """The ``smartlic.errors`` exception a problem+json body names (``code`` first, then status)."""
    code = problem.get("code") if isinstance(problem.get("code"), str) else None
    detail = str(problem.get("detail") or problem.get("title") or f"HTTP {status}")
    if status >= 500 or status == 429:
        return Unavailable(detail, code=code)
    if code and code.startswith("token-"):
        return TokenRejected(detail, code=code)
    cls = _BY_CODE.get(code or "") or _BY_STATUS.get(status, SmartlicError)
    return cls(detail, code=code)
