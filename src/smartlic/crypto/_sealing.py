"""Secrets kept retrievable at rest: AES-256-GCM under a key file of the key directory.

A sealed value is ``nonce (12 bytes) || ciphertext+tag``; the associated data binds it to its
row (a registration token's hash), so a sealed text copied to another row does not open.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["load_or_create_sealing_key", "open_sealed", "seal"]

KEY_BYTES = 32
NONCE_BYTES = 12


def load_or_create_sealing_key(path: Path) -> bytes:
    """The 32-byte key in ``path``, created (mode 0600, never overwritten) if absent."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_bytes()
        if len(key) != KEY_BYTES:
            raise ValueError(f"{path}: not a {KEY_BYTES}-byte key") from None
        return key
    key = secrets.token_bytes(KEY_BYTES)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key


def seal(key: bytes, plaintext: str, associated: str) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext.encode(), associated.encode())


def open_sealed(key: bytes, sealed: bytes, associated: str) -> str | None:
    """The plaintext, or ``None`` when the value does not open under this key and row."""
    try:
        plain = AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], associated.encode())
    except (InvalidTag, ValueError):
        return None
    return plain.decode()
