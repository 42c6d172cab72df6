"""HTTP-level helpers shared by the API tests: build accounts through the API, drive devices
over device protocol v1, and snapshot what is stored to prove a refusal changed nothing."""

from __future__ import annotations

from typing import Any

import httpx

from smartlic.crypto import Udi, load_certificate, verify_certificate
from smartlic.domain.products import make_tag
from smartlic.formats.device_api import is_vendor_path
from smartlic.formats.signed import open_sealed
from tests.authority.api.conftest import LiveAuthority
from tests.devices import TestDevice

DOMAIN = "acme.example"
TAG = make_tag("metroipaccess")
OTHER = make_tag("1588")
V1 = "/api/v1"
ACCOUNT = f"{V1}/accounts/{DOMAIN}"
DEVICE = "/api/device/v1"


def va_path(va: str, rest: str = "") -> str:
    return f"{ACCOUNT}/virtual-accounts/{va}{rest}"


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The error body, checked: problem+json, or on the vendor device API the vendor's
    ``{"status": "FAILED", "message", ...}`` carrying the same code and detail."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert {"type", "title", "detail", "request_id"} <= body.keys()
    if is_vendor_path(response.request.url.path):
        assert response.headers["content-type"] == "application/json"
        assert body["status"] == "FAILED", body
        assert (body["message_code"], body["message"]) == (code, body["detail"])
    else:
        assert response.headers["content-type"] == "application/problem+json"
        assert body["status"] == status
    return body


def build_world(api: httpx.Client, *, prod: int = 10, spare: int = 5) -> None:
    """acme.example with virtual accounts Prod and Spare holding ``TAG`` licenses."""
    ok(api.post(f"{V1}/accounts", json={"name": "Acme", "domain": DOMAIN}), 201)
    for va in ("Prod", "Spare"):
        ok(api.post(f"{ACCOUNT}/virtual-accounts", json={"name": va}), 201)
    for tag, name in ((TAG, "metroipaccess"), (OTHER, "1588")):
        body = {"tag": tag, "name": name, "display_name": f"Device {name.upper()}"}
        ok(api.post(f"{V1}/licenses", json=body), 201)
    for va, quantity in (("Prod", prod), ("Spare", spare)):
        ok(api.post(va_path(va, "/licenses"), json={"tag": TAG, "quantity": quantity}), 201)


def create_token(api: httpx.Client, va: str = "Prod", **fields: Any) -> dict[str, Any]:
    created: dict[str, Any] = ok(api.post(va_path(va, "/tokens"), json=fields), 201)
    return created


def open_response(live: LiveAuthority, response: httpx.Response) -> dict[str, Any]:
    """Verify an authority envelope with the authority's signing key and decode it."""
    envelope = ok(response)
    return open_sealed(envelope, live.keys.signer.certificate.public_key())  # type: ignore[arg-type]


def register(
    live: LiveAuthority, api: httpx.Client, device: TestDevice, token: str
) -> dict[str, Any]:
    payload = open_response(
        live, api.post(f"{DEVICE}/register", json=device.register_request(token))
    )
    certificate = load_certificate(payload["certificate"])
    verify_certificate(certificate, live.keys.ca.certificate, at=live.clock.now())
    device.accept_registration(payload)
    return payload


def authorize(
    live: LiveAuthority, api: httpx.Client, device: TestDevice, usage: dict[str, int]
) -> dict[str, Any]:
    return open_response(live, api.post(f"{DEVICE}/authorize", json=device.authorize(usage)))


def new_device(live: LiveAuthority, n: int) -> TestDevice:
    return TestDevice(Udi("ASR-903", f"FOX{n:05d}"), live.clock, hostname=f"router{n}")


def pool_line(api: httpx.Client, va: str, tag: str = TAG) -> dict[str, Any]:
    view = ok(api.get(va_path(va, "/licenses")))
    line: dict[str, Any] = next(line for line in view["lines"] if line["tag"] == tag)
    return line


def snapshot(api: httpx.Client) -> dict[str, Any]:
    """Everything stored that a refused request could have changed (events aside)."""
    accounts = ok(api.get(f"{V1}/accounts"))["items"]
    state: dict[str, Any] = {"accounts": accounts, "catalogue": ok(api.get(f"{V1}/licenses"))}
    for account in accounts:
        base = f"{V1}/accounts/{account['domain']}"
        vas = ok(api.get(f"{base}/virtual-accounts"))["items"]
        state[account["domain"]] = {
            "vas": vas,
            "devices": ok(api.get(f"{base}/devices", params={"limit": 500})),
            "pools": {va["name"]: _pool(api, base, va["name"]) for va in vas},
            "tokens": {
                va["name"]: ok(api.get(f"{base}/virtual-accounts/{va['name']}/tokens"))
                for va in vas
            },
        }
    return state


def _pool(api: httpx.Client, base: str, va: str) -> dict[str, Any]:
    view: dict[str, Any] = ok(api.get(f"{base}/virtual-accounts/{va}/licenses"))
    view.pop("computed_at")
    return view
