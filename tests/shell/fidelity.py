"""Structural comparison with real devices (issue 10, "Fidelity to real devices").

Our shell's output and a real device's output of the same command, in the same state, are
both parsed by Genie's schema-CHECKED parser (``genie_parse``); their key sets - the schema
paths each fills, value-keys as ``*`` - must be equal. The real outputs are the suite's
reference fixtures, copied into ``tests/shell/real_outputs/`` (genieparser golden outputs;
their origin is in the README there).

Keys Genie reads from the lines a real terminal prints before the command's output ("Load for
five secs", "Time source is NTP") are not the command's, and are left out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.shell.genie_parsers import genie_parse, key_set

__all__ = ["REAL_OUTPUTS", "real", "structure"]

REAL_OUTPUTS = Path(__file__).parent / "real_outputs"

_TERMINAL_HEADER = {
    "load_for_five_secs",
    "time_source_is_ntp",
    "load_time",
    "one_minute",
    "five_minutes",
    "ntp_time",
    "primary_load_time_percent",
    "secondary_load_time_percent",
    "one_minute_load_percent",
    "five_minute_load_percent",
}


def structure(view: str, text: str) -> set[str]:
    """The key set of ``text`` parsed (schema-checked) as ``view``, terminal header left out."""
    parsed: dict[str, Any] = genie_parse(view, text)
    return {path for path in key_set(view, parsed) if path.split("/")[1] not in _TERMINAL_HEADER}


def real(view: str, fixture: str) -> set[str]:
    """The key set of the real output ``genieparser__iosxe__<fixture>.txt``."""
    path = next(REAL_OUTPUTS.glob(f"genieparser__iosxe*__{fixture}.txt"))
    return structure(view, path.read_text())
