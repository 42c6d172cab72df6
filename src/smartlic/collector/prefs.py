"""Preferences: what a person sets at run time (the CSLU Preferences tab), kept in the store.

Usage::

    with Session(engine) as s, s.begin():
        prefs = load(s)
        prefs.connectivity = True
        save(s, prefs)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from sqlalchemy.orm import Session

from smartlic.collector.models import Preference
from smartlic.crypto import fingerprint, load_certificate
from smartlic.errors import SmartlicError

__all__ = ["Preferences", "load", "save"]

KEY = "preferences"


@dataclass
class Preferences:
    """The CSLU Preferences tab, plus what the collector needs to reach the authority."""

    connectivity: bool = False  # "Cisco Is Available"
    authority_url: str | None = None
    api_key: str | None = None
    smart_account: str | None = None  # the smart account's domain (X-CSW-SMART-ACCOUNT-ID)
    smart_account_name: str | None = None  # as written in ACKs; learned from the first ACK
    virtual_account: str | None = None
    validate_device: bool = False
    satellite: bool = False  # a satellite: also a local authority for classic devices
    # SHA-256 of the REST API token (port 8180); set by ``init`` / ``rest-token``, never shown
    rest_token_hash: str | None = None
    # The authority's CA certificate (PEM), pinned by ``init``: every authority-signed file or
    # answer must chain to it. Never changed through ``update`` (the REST API).
    authority_ca_pem: str | None = None

    def public(self) -> dict[str, Any]:
        """The preferences without secrets (the API key shown as set / not set)."""
        out = asdict(self)
        out["api_key"] = "set" if self.api_key else None
        out.pop("rest_token_hash")
        out["authority_ca"] = _ca_fingerprint(out.pop("authority_ca_pem"))
        return out

    def update(self, changes: dict[str, Any]) -> None:
        names = {f.name for f in fields(self)} - _NOT_UPDATABLE
        for key, value in changes.items():
            if key not in names:
                raise KeyError(key)
            setattr(self, key, value)


_NOT_UPDATABLE = {"rest_token_hash", "authority_ca_pem"}


def _ca_fingerprint(pem: str | None) -> str | None:
    """What ``public`` shows of the pinned CA: its SHA-256 fingerprint."""
    if pem is None:
        return None
    try:
        return fingerprint(load_certificate(pem))
    except SmartlicError:
        return "unreadable"


def load(s: Session) -> Preferences:
    row = s.get(Preference, KEY)
    if row is None:
        return Preferences()
    names = {f.name for f in fields(Preferences)}
    return Preferences(**{k: v for k, v in row.value.items() if k in names})


def save(s: Session, prefs: Preferences) -> None:
    row = s.get(Preference, KEY)
    if row is None:
        s.add(Preference(key=KEY, value=asdict(prefs)))
    else:
        row.value = asdict(prefs)
