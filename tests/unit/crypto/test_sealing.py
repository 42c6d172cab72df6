"""Sealed secrets (registration-token texts): AES-256-GCM bound to their row, key file 0600."""

from __future__ import annotations

from pathlib import Path

import pytest

from smartlic.crypto import load_or_create_sealing_key, open_sealed, seal


def test_a_sealed_text_opens_only_under_its_key_and_row(tmp_path: Path) -> None:
    key = load_or_create_sealing_key(tmp_path / "token.key")
    assert (tmp_path / "token.key").stat().st_mode & 0o777 == 0o600
    assert load_or_create_sealing_key(tmp_path / "token.key") == key  # never overwritten
    sealed = seal(key, "slt_secret", "row-1")
    assert b"slt_secret" not in sealed and seal(key, "slt_secret", "row-1") != sealed
    assert open_sealed(key, sealed, "row-1") == "slt_secret"
    assert open_sealed(key, sealed, "row-2") is None  # copied to another row
    assert open_sealed(bytes(32), sealed, "row-1") is None  # another key
    assert open_sealed(key, sealed[:-1] + bytes([sealed[-1] ^ 1]), "row-1") is None
    assert open_sealed(key, b"short", "row-1") is None


def test_a_damaged_key_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "token.key").write_bytes(b"too short")
    with pytest.raises(ValueError, match="32-byte"):
        load_or_create_sealing_key(tmp_path / "token.key")
