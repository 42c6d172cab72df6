"""The settings object: defaults, environment, and every field documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from smartlic.authority.settings import ENV_PREFIX, AuthoritySettings

DOCS = Path(__file__).resolve().parents[3] / "docs" / "configuration.md"


def test_defaults_derive_from_the_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in AuthoritySettings.model_fields:
        monkeypatch.delenv(ENV_PREFIX + name.upper(), raising=False)
    settings = AuthoritySettings()
    assert settings.data_dir == Path("var/authority")
    assert settings.database == "sqlite:///var/authority/authority.sqlite3"
    assert settings.keys_path == Path("var/authority/keys")
    assert (settings.host, settings.port, settings.replay_window_s) == ("127.0.0.1", 8000, 300.0)


def test_the_environment_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SMARTLIC_AUTHORITY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SMARTLIC_AUTHORITY_PORT", "9001")
    monkeypatch.setenv("SMARTLIC_AUTHORITY_KEY_DIR", str(tmp_path / "k"))
    settings = AuthoritySettings()
    assert settings.port == 9001
    assert settings.database == f"sqlite:///{tmp_path / 'authority.sqlite3'}"
    assert settings.keys_path == tmp_path / "k"


def test_every_field_has_a_description() -> None:
    for name, info in AuthoritySettings.model_fields.items():
        assert info.description, name


def test_every_field_is_documented() -> None:
    text = DOCS.read_text()
    for name in AuthoritySettings.model_fields:
        variable = ENV_PREFIX + name.upper()
        assert re.search(rf"`{variable}`", text), f"{variable} is not in {DOCS.name}"
