"""Annotated dependencies of the collector's routes."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from smartlic.collector.prefs import load
from smartlic.collector.services import CollectorServices
from smartlic.crypto import hash_secret
from smartlic.errors import AuthenticationFailed


def get_services(request: Request) -> CollectorServices:
    services: CollectorServices = request.app.state.services
    return services


ServicesDep = Annotated[CollectorServices, Depends(get_services)]


_bearer = HTTPBearer(auto_error=False, description="The collector's REST API token")


def require_token(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Every REST route but /health needs the token ``smartlic collector init`` printed (or
    ``smartlic collector rest-token`` made): preferences hold the authority's API key, and
    actions move data."""
    given = hash_secret(credentials.credentials) if credentials else ""
    check_token_hash(services, given, "a valid REST API token is required (Authorization: Bearer)")


def check_token_hash(services: CollectorServices, given: str, refusal: str) -> None:
    """The one check of the REST API token, by its SHA-256: a bearer header on the REST API,
    or the session cookie of the web page (which holds the hash the login was made with, so a
    new ``rest-token`` ends every session at once)."""
    with services.status.transaction() as s:
        expected = load(s).rest_token_hash
    if expected is None:
        raise AuthenticationFailed("no REST API token is set: run 'smartlic collector rest-token'")
    if not hmac.compare_digest(given, expected):
        raise AuthenticationFailed(refusal)


TokenDep = Depends(require_token)
