"""``flash:`` paths: the device's own storage in the shell's policy-mode file commands.

``flash:`` (or ``bootflash:``) names the folder ``flash/`` in the device's state directory
(second reference document: ``license smart save usage all file flash:report``,
``license smart import file flash: ACK_report``); plain paths work too.

Usage::

    path = resolve_path(device.flash_dir, "flash:report")   # <state>/flash/report
"""

from __future__ import annotations

from pathlib import Path

from smartlic.errors import InvalidInput
from smartlic.formats.bounds import clean_text

__all__ = ["FLASH_PREFIXES", "resolve_path"]

FLASH_PREFIXES = ("flash:", "bootflash:")
NAME_MAX = 255  # bytes in one part of a path (Linux, macOS); a longer one is ENAMETOOLONG


def resolve_path(flash_dir: Path | None, text: str) -> Path:
    """``flash:name`` / ``flash: name`` → ``<state>/flash/name``; anything else is a plain path.

    A ``flash:`` name must stay inside the flash folder (``flash:../x`` is refused); a name
    no file system holds (NUL, a lone surrogate, a part over ``NAME_MAX`` bytes) is refused
    before any file call raises on it.
    """
    text = text.strip()
    if not clean_text(text) or any(len(p.encode()) > NAME_MAX for p in text.split("/")):
        raise InvalidInput(f"not a file name: {text[:40]!r}")
    for prefix in FLASH_PREFIXES:
        if text.startswith(prefix):
            return _in_flash(flash_dir, text[len(prefix) :].strip())
    if not text:
        raise InvalidInput("a file name is required")
    return Path(text)


def _in_flash(flash_dir: Path | None, name: str) -> Path:
    if flash_dir is None:
        raise InvalidInput("this device has no flash: file system")
    if not name:
        raise InvalidInput("a file name after flash: is required")
    root = flash_dir.resolve()
    path = (root / name).resolve()
    if root not in path.parents:
        raise InvalidInput(f"flash:{name} is outside flash:")
    root.mkdir(parents=True, exist_ok=True)
    return path
