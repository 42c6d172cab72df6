"""One shell session: the current mode, the prompt, and running one line end to end.

``Session.execute(line)`` parses the line against the registry, calls the handler, renders
its reply in IOS format and applies any ``|`` modifier. It never prints; the REPL and the CLI
do. Modes follow IOS: ``Device#`` (exec) and ``Device(config)#`` after
``configure terminal``; ``end``, ``exit`` or Ctrl-Z return to exec.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from smartlic.agent.shell.device import Device
from smartlic.agent.shell.filters import apply_modifier
from smartlic.agent.shell.registry import Parsed, Registry, tokenize
from smartlic.agent.shell.render import lines_of
from smartlic.agent.shell.replies import ERROR_REPLIES, CommandFailed, Reply
from smartlic.errors import SmartlicError

__all__ = ["CONFIG", "CTRL_Z", "EXEC", "Outcome", "Session"]

EXEC = "exec"
CONFIG = "config"
CTRL_Z = "\x1a"


@dataclass(frozen=True)
class Outcome:
    """The text one line printed (newline-terminated lines) and whether it was an error."""

    text: str
    failed: bool = False


class Session:
    """Usage::

    session = Session(device, build_registry())
    session.execute("show license summary").text
    """

    def __init__(self, device: Device, registry: Registry[Session], *, echo: bool = False) -> None:
        self.device = device
        self.registry = registry
        self.mode = EXEC
        self.closed = False
        self.echo = echo  # the prompt and command precede the caret line (interactive/transcript)

    @property
    def prompt(self) -> str:
        suffix = "(config)#" if self.mode == CONFIG else "#"
        return f"{self.device.config.hostname}{suffix}"

    def execute(self, line: str) -> Outcome:
        """Run one line in the current mode."""
        ctrl_z = line.rstrip("\r\n").endswith(CTRL_Z)
        offset = len(self.prompt) if self.echo else 0
        outcome = self.run(self.mode, line.rstrip("\r\n").rstrip(CTRL_Z), offset)
        if ctrl_z and self.mode == CONFIG:
            self.mode = EXEC
        return outcome

    def run(self, mode: str, line: str, caret_offset: int = 0) -> Outcome:
        """Run ``line`` as a command of ``mode`` (``do`` uses this to run exec commands)."""
        tokens = tokenize(line)
        if mode == CONFIG and len(tokens) > 1 and tokens[0].text == "do":
            # "do <exec command>": run it as exec, the caret still under the typed character.
            rest = tokens[1].start
            return self.run(EXEC, line[rest:], caret_offset + rest)
        parsed = self.registry.parse(mode, line)
        if not isinstance(parsed, Parsed):
            return _outcome(parsed, caret_offset)
        reply = self._dispatch(parsed)
        lines = lines_of(reply, caret_offset=caret_offset)
        if parsed.modifier is not None:
            try:
                lines = apply_modifier(parsed.modifier, lines)
            except re.error as exc:
                return _outcome(CommandFailed(f"Invalid regular expression: {exc}"), 0)
        return Outcome("".join(f"{text}\n" for text in lines), isinstance(reply, ERROR_REPLIES))

    def _dispatch(self, parsed: Parsed[Session]) -> Reply:
        try:
            self.device.tick()
            reply = parsed.command.handler(self, parsed.args)
            self.device.tick()
        except SmartlicError as exc:
            return CommandFailed(_message(exc))
        return reply


def _outcome(reply: Reply, caret_offset: int) -> Outcome:
    text = "".join(f"{line}\n" for line in lines_of(reply, caret_offset=caret_offset))
    return Outcome(text, isinstance(reply, ERROR_REPLIES))


def _message(exc: SmartlicError) -> str:
    detail = exc.detail.rstrip(".")
    return f"{detail[:1].upper()}{detail[1:]} ({exc.code})."
