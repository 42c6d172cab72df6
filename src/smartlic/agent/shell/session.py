"""One shell session: the current mode, the prompt, and running one line end to end.

``Session.execute(line)`` parses the line against the registry, calls the handler, renders
its reply in IOS format and applies any ``|`` modifier. It never prints; the REPL and the CLI
do. Modes follow IOS: ``Device#`` (exec) and ``Device(config)#`` after
``configure terminal``; ``end``, ``exit`` or Ctrl-Z return to exec. The gateway's
``common-packet-forwarder profile`` enters ``Gateway(config-cpf-profile)#``, where global
configuration commands still work (and leave the sub-mode, as on IOS).

A session over SSH starts in user EXEC (``Device>``, ``privileged=False``): ``show`` commands
other than ``show running-config`` work there, ``enable`` asks for the enable secret
(``enable_secret``, a check) and moves to privileged EXEC. ``terminal length``/``width`` are
kept on the session (``length``, ``width``) for the terminal that pages the output.

A handler may ask a question (``Confirm``, e.g. ``cpf enable``'s agreement): the question
becomes the prompt and the next line is the answer; with ``assume_yes`` it is answered ``y``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from smartlic.agent.shell.device import Device
from smartlic.agent.shell.filters import apply_modifier
from smartlic.agent.shell.registry import Parsed, Registry, tokenize
from smartlic.agent.shell.render import lines_of
from smartlic.agent.shell.replies import (
    ERROR_REPLIES,
    CommandFailed,
    Confirm,
    Help,
    Incomplete,
    InvalidInput,
    Reply,
)
from smartlic.errors import SmartlicError
from smartlic.formats.bounds import clean_text

__all__ = ["CONFIG", "CONFIG_LINE", "CPF", "CTRL_Z", "EXEC", "USER", "Outcome", "Session"]

USER = "user"
EXEC = "exec"
CONFIG = "config"
CPF = "config-cpf-profile"
CONFIG_LINE = "config-line"
CTRL_Z = "\x1a"
_SUFFIX = {
    USER: ">",
    EXEC: "#",
    CONFIG: "(config)#",
    CPF: "(config-cpf-profile)#",
    CONFIG_LINE: "(config-line)#",
}
# Exec commands user EXEC may not run (privilege level 15 on IOS).
_PRIVILEGED = ("show running-config", "show startup-config")


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

    def __init__(
        self,
        device: Device,
        registry: Registry[Session],
        *,
        echo: bool = False,
        assume_yes: bool = False,
        privileged: bool = True,
        enable_secret: Callable[[str], bool] | None = None,
    ) -> None:
        self.device = device
        self.registry = registry
        self.mode = EXEC if privileged else USER
        self.enable_secret = enable_secret  # None: enable needs no secret
        self.length, self.width = 24, 80  # terminal length / width (IOS defaults)
        self.closed = False
        self.echo = echo  # the prompt and command precede the caret line (interactive/transcript)
        self.assume_yes = assume_yes
        self.pending: Confirm | None = None  # a question waiting for its answer

    @property
    def prompt(self) -> str:
        if self.pending is not None:
            return self.pending.question
        return f"{self.device.config.hostname}{_SUFFIX[self.mode]}"

    def execute(self, line: str) -> Outcome:
        """Run one line in the current mode (or answer the pending question)."""
        if not clean_text(line):  # a NUL, or a byte stdin could not decode (surrogateescape)
            offset = len(self.prompt) if self.echo and self.pending is None else 0
            column = next(i for i, char in enumerate(line) if not clean_text(char))
            return _outcome(InvalidInput(column), offset)
        if self.pending is not None:
            return self._answer(line.strip())
        ctrl_z = line.rstrip("\r\n").endswith(CTRL_Z)
        offset = len(self.prompt) if self.echo else 0
        outcome = self.run(self.mode, line.rstrip("\r\n").rstrip(CTRL_Z), offset)
        if ctrl_z and self.mode != EXEC:
            self.mode = EXEC
        return outcome

    def _answer(self, answer: str) -> Outcome:
        confirm, self.pending = self.pending, None
        assert confirm is not None
        # Echoed, the question was the prompt; otherwise print it with the answer, so the
        # output reads as on the device ("Do you agree the above statement? [y/n]y").
        shown = "" if confirm.secret else answer
        head = "" if self.echo else f"{confirm.question}{shown}\n"
        reply = self._call(lambda: confirm.answer(answer))
        if isinstance(reply, Confirm):  # asked again (a wrong enable secret)
            self.pending = reply
            return Outcome(head)
        outcome = _outcome(reply, 0)
        return Outcome(head + outcome.text, outcome.failed)

    def run(self, mode: str, line: str, caret_offset: int = 0) -> Outcome:
        """Run ``line`` as a command of ``mode`` (``do`` uses this to run exec commands)."""
        tokens = tokenize(line)
        if mode != EXEC and len(tokens) > 1 and tokens[0].text == "do":
            # "do <exec command>": run it as exec, the caret still under the typed character.
            rest = tokens[1].start
            return self.run(EXEC, line[rest:], caret_offset + rest)
        parsed = self._parse(mode, line)
        if not isinstance(parsed, Parsed):
            return _outcome(parsed, caret_offset)
        reply = self._dispatch(parsed)
        if isinstance(reply, Confirm):
            return self._ask(reply)
        lines = lines_of(reply, caret_offset=caret_offset)
        if parsed.modifier is not None:
            try:
                lines = apply_modifier(parsed.modifier, lines)
            except re.error as exc:
                return _outcome(CommandFailed(f"Invalid regular expression: {exc}"), 0)
        return Outcome("".join(f"{text}\n" for text in lines), isinstance(reply, ERROR_REPLIES))

    def _parse(self, mode: str, line: str) -> Parsed[Session] | Reply:
        """Parse in ``mode``; a configuration sub-mode falls back to global configuration
        commands, which leave the sub-mode (IOS)."""
        parsed = self.registry.parse(mode, line)
        if mode == USER and isinstance(parsed, Help) and not parsed.entries:
            return self.registry.parse(EXEC, line)  # "show ?": what show offers
        if mode == USER and isinstance(parsed, InvalidInput | Incomplete):
            return self._user_exec(line, parsed)
        if mode in (USER, EXEC, CONFIG) or not isinstance(parsed, InvalidInput | Incomplete):
            return parsed
        fallback = self.registry.parse(CONFIG, line)
        if isinstance(fallback, Parsed):
            self.mode = CONFIG
            return fallback
        return parsed

    def _user_exec(self, line: str, refused: Reply) -> Parsed[Session] | Reply:
        """User EXEC also runs the exec ``show`` commands, except the privileged ones."""
        parsed = self.registry.parse(EXEC, line)
        if not isinstance(parsed, Parsed):
            return refused
        path = parsed.command.path
        if path.startswith("show ") and not path.startswith(_PRIVILEGED):
            return parsed
        return refused

    def _ask(self, confirm: Confirm) -> Outcome:
        text = "".join(f"{line}\n" for line in confirm.lines)
        self.pending = confirm
        if not self.assume_yes or confirm.secret:
            return Outcome(text)
        answered = self._answer("y")
        head = f"{confirm.question}y\n" if self.echo else ""
        return Outcome(text + head + answered.text, answered.failed)

    def _dispatch(self, parsed: Parsed[Session]) -> Reply:
        return self._call(lambda: parsed.command.handler(self, parsed.args))

    def _call(self, handler: Callable[[], Reply]) -> Reply:
        try:
            self.device.tick()
            reply = handler()
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
