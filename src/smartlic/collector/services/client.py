"""The collector's HTTP client to the authority: API key, account headers, clear errors.

Every failure becomes a ``SmartlicError``: ``Unavailable`` when the authority cannot be reached,
times out or answers 5xx (retry later: nothing is lost), otherwise the authority's own problem
code and detail (e.g. ``unauthenticated`` for a bad API key).

Usage::

    with AuthorityClient(prefs, timeout_s=30) as client:
        answer = client.post(REPORTUSAGE, body)
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import httpx

from smartlic.collector.prefs import Preferences
from smartlic.errors import SmartlicError, Unavailable
from smartlic.formats.device_api import VENDOR_PREFIX

__all__ = [
    "AUTHREQUEST",
    "POLL",
    "REPORTUSAGE",
    "TRUST",
    "AuthorityClient",
    "AuthorityError",
    "AuthorityFailed",
]

DEVICE_API = VENDOR_PREFIX
REPORTUSAGE = f"{DEVICE_API}/v2/devices/reportusage"
AUTHREQUEST = f"{DEVICE_API}/v2/devices/authrequest"
POLL = f"{DEVICE_API}/v2/accounts/poll"
TRUST = "/api/device/v1/trust"


class AuthorityError(SmartlicError):
    """A refusal by the authority, carrying its status and problem code."""

    title = "Refused by the authority"

    def __init__(self, detail: str, *, status: int, code: str) -> None:
        super().__init__(detail, code=code)
        self.status = status  # type: ignore[misc]


class AuthorityFailed(Unavailable):
    """The authority answered 5xx: it is up, but failed on this request (unlike a timeout or
    a refused connection, sending less at a time may get through)."""

    def __init__(self, detail: str, *, status: int) -> None:
        super().__init__(detail)
        self.upstream_status = status


class AuthorityClient:
    def __init__(
        self, prefs: Preferences, *, timeout_s: float = 30.0, transport: Any = None
    ) -> None:
        if not prefs.authority_url:
            raise Unavailable("no authority URL is configured (smartlic collector init)")
        headers = {"Accept": "application/json"}
        if prefs.api_key:
            headers["Authorization"] = f"Bearer {prefs.api_key}"
        if prefs.smart_account:
            headers["X-CSW-SMART-ACCOUNT-ID"] = prefs.smart_account
        self.http = httpx.Client(
            base_url=prefs.authority_url, headers=headers, timeout=timeout_s, transport=transport
        )

    def __enter__(self) -> AuthorityClient:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.http.close()

    def post(self, path: str, body: Any, virtual_account: str | None = None) -> dict[str, Any]:
        headers = {"X-CSW-VIRTUAL-ACCOUNT-ID": virtual_account} if virtual_account else {}
        answer: dict[str, Any] = self._send("POST", path, json=body, headers=headers)
        return answer

    def get(self, path: str) -> Any:
        return self._send("GET", path)

    def upload(self, path: str, name: str, content: bytes) -> dict[str, Any]:
        files = {"file": (name, content, "application/gzip")}
        answer: dict[str, Any] = self._send("POST", path, files=files)
        return answer

    def download(self, path: str) -> bytes:
        try:
            response = self.http.get(path)
        except httpx.HTTPError as exc:
            raise Unavailable(f"authority unreachable: {type(exc).__name__}: {exc}") from exc
        _raise_for(response)
        return response.content

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise Unavailable(f"authority unreachable: {type(exc).__name__}: {exc}") from exc
        _raise_for(response)
        try:
            return response.json()
        except ValueError as exc:
            raise Unavailable("the authority answered something that is not JSON") from exc


def _raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    detail, code = f"HTTP {response.status_code}", "http-error"
    try:
        problem = response.json()
        detail = str(problem.get("detail") or problem.get("title") or detail)
        code = str(problem.get("code") or code)
    except (ValueError, AttributeError):
        pass
    if response.status_code >= 500:
        raise AuthorityFailed(
            f"authority answered {response.status_code}: {detail}", status=response.status_code
        )
    if response.status_code in (408, 429):
        raise Unavailable(f"authority answered {response.status_code}: {detail}")
    raise AuthorityError(detail, status=response.status_code, code=code)
