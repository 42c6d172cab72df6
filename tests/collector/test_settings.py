"""CollectorSettings: defaults, the SMARTLIC_COLLECTOR_ prefix, validation."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest
from pydantic import ValidationError

from smartlic.collector.prefs import Preferences
from smartlic.collector.settings import CollectorSettings
from smartlic.errors import InvalidInput


def test_defaults_are_the_vendor_ports_and_a_sqlite_store(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("SMARTLIC_COLLECTOR_DATA_DIR", "SMARTLIC_COLLECTOR_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    s = CollectorSettings()
    assert (s.pi_port, s.api_port, s.host) == (8182, 8180, "127.0.0.1")
    assert s.database == "sqlite:///var/collector/collector.sqlite3"
    assert s.satellite_dir == Path("var/collector/satellite")


def test_environment_prefix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SMARTLIC_COLLECTOR_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SMARTLIC_COLLECTOR_BATCH_SIZE", "42")
    monkeypatch.setenv("SMARTLIC_COLLECTOR_DATABASE_URL", "")
    s = CollectorSettings()
    assert s.batch_size == 42 and s.database == f"sqlite:///{tmp_path}/collector.sqlite3"


@pytest.mark.parametrize("field", ["pi_port", "api_port"])
def test_ports_are_validated(field: str) -> None:
    with pytest.raises(ValidationError):
        CollectorSettings(**{field: 70000})


def test_preferences_hide_the_key_and_refuse_unknown_names() -> None:
    prefs = Preferences(api_key="slk_secret")
    assert prefs.public()["api_key"] == "set"
    with pytest.raises(InvalidInput, match="colour"):
        prefs.update({"colour": "blue"})


@pytest.mark.parametrize(
    "changes",
    [
        {"connectivity": "off"},
        {"connectivity": 0},
        {"satellite": "true"},
        {"validate_device": None},
        {"authority_url": 5},
        {"authority_url": "authority:8000"},  # no scheme: the forwarder could never reach it
        {"authority_url": "ftp://authority"},
        {"authority_url": "https://"},
        {"authority_url": "http://authority:port"},
        {"virtual_account": "x" * 101},
        {"api_key": "slk_\ud800"},
        {"connectivity": True, "satellite": "no"},  # all or nothing
    ],
)
def test_preferences_have_strict_types(changes: dict[str, object]) -> None:
    """Finding 12: "off" was stored as a truthy string and the collector stayed online."""
    prefs = Preferences(connectivity=False)
    before = asdict(prefs)
    with pytest.raises(InvalidInput, match="preference"):
        prefs.update(changes)
    assert asdict(prefs) == before
