"""The shell's policy-mode operations, as calls on the license manager, and ``flash:`` paths.

The manager owns every rule; this module only turns shell arguments into its calls and its
answers into what IOS prints. ``flash:`` names the device's own storage, the folder
``flash/`` in its state directory (second reference document: ``license smart save usage all
file flash:report``, ``license smart import file flash: ACK_report``); plain paths work too.

Usage::

    path = resolve_path(device.flash_dir, "flash:report")
    call(device.manager, "save_usage", path, which="all")
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from smartlic.errors import InvalidInput, SmartlicError

__all__ = ["FLASH_PREFIXES", "NotSupported", "call", "resolve_path"]

FLASH_PREFIXES = ("flash:", "bootflash:")


class NotSupported(SmartlicError):
    """The license manager in use has no such operation (e.g. policy mode in an old agent)."""

    code = "not-supported"
    status = 501
    title = "Not supported"


def resolve_path(flash_dir: Path | None, text: str) -> Path:
    """``flash:name`` / ``flash: name`` → ``<state>/flash/name``; anything else is a plain path.

    A ``flash:`` name must stay inside the flash folder (``flash:../x`` is refused).
    """
    text = text.strip()
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


def call(manager: object, name: str, *args: Any, **kwargs: Any) -> Any:
    """``manager.<name>(*args, **kwargs)``, or ``NotSupported`` when the manager lacks it."""
    method: Callable[..., Any] | None = getattr(manager, name, None)
    if method is None:
        raise NotSupported(f"this license manager does not support {name.replace('_', ' ')}")
    return method(*args, **kwargs)
