"""Preferences: what a person sets at run time (the CSLU Preferences tab), kept in the store.

Usage::

    with Session(engine) as s, s.begin():
        prefs = load(s)
        prefs.connectivity = True
        save(s, prefs)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from smartlic.collector.models import Preference
from smartlic.crypto import fingerprint, load_certificate
from smartlic.errors import InvalidInput, SmartlicError
from smartlic.formats.bounds import clean_text

__all__ = ["Preferences", "PreferencesChange", "Url", "load", "save"]

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
        """Apply ``changes`` once all of them are valid (``PreferencesChange``), else none."""
        try:
            checked = PreferencesChange.model_validate(changes)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            raise InvalidInput(f"preference {where}: {message}", pointer=f"/{where}") from exc
        for key, value in checked.model_dump(exclude_unset=True).items():
            setattr(self, key, value)


def _text(value: str | None) -> str | None:
    if value is not None and not clean_text(value):
        raise ValueError("must be valid Unicode text (no lone surrogates, no NUL)")
    return value


Text = Annotated[str | None, AfterValidator(_text)]


def _url(value: str | None) -> str | None:
    """An address the collector will call: ``http(s)://host[:port][/path]``, nothing else."""
    if value is None:
        return None
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 (raises on a port that is not a number)
    except ValueError:
        raise ValueError("must be an http:// or https:// address (bad port)") from None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or any(c.isspace() for c in value)
    ):
        raise ValueError("must be an http:// or https:// address, e.g. https://authority:8000")
    return value


Url = Annotated[str | None, AfterValidator(_text), AfterValidator(_url)]


def _ca_fingerprint(pem: str | None) -> str | None:
    """What ``public`` shows of the pinned CA: its SHA-256 fingerprint."""
    if pem is None:
        return None
    try:
        return fingerprint(load_certificate(pem))
    except SmartlicError:
        return "unreadable"


class PreferencesChange(BaseModel):
    """What a person may change (REST ``PATCH /preferences``, ``collector preferences --set``).

    Strict: ``"connectivity": "off"`` is a string, not ``False``, and is refused rather than
    stored as a truthy value (issue 8, finding 12). Unknown names are refused too."""

    model_config = ConfigDict(extra="forbid", strict=True)

    connectivity: bool = Field(False, description='"Cisco Is Available": forward online')
    authority_url: Url = Field(None, max_length=2048, examples=["https://authority:8000"])
    api_key: Text = Field(None, max_length=255, description="the authority API key (write-only)")
    smart_account: Text = Field(None, max_length=255, description="smart account domain")
    smart_account_name: Text = Field(None, max_length=255)
    virtual_account: Text = Field(None, max_length=100)
    validate_device: bool = False
    satellite: bool = False


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
