"""A virtual terminal line: keystrokes in, screen text out, over one shell ``Session``.

This is what the SSH server puts between a client and the session (``ssh.py``): IOS's line
editing and paging, with no I/O of its own, so it is tested by feeding it strings.

* Enter is CR, LF or CRLF (one Enter, whichever the client sends); echo as typed, except
  the answer to a secret question (``enable``'s ``Password:``).
* Type-ahead waits: input is read only when the line is ready for it (after the previous
  command's output and prompt), so several lines sent at once are echoed and answered in
  turn, as on a device.
* ``?`` answers at once (no Enter) and the typed words come back after the prompt; Tab
  completes a unique keyword; Backspace/DEL erase; Ctrl-C drops the line (and leaves
  configuration mode); Ctrl-Z runs the line and leaves configuration mode; arrow keys and
  other escape sequences are ignored; a line stops growing at ``MAX_LINE`` characters (the
  bell rings).
* Output longer than ``terminal length`` - 1 lines stops at `` --More-- ``: Space shows the
  next page, Enter the next line, any other key ends the output.

Usage::

    vty = Vty(session)
    screen = vty.start()                 # the first prompt
    vty.receive("show license summary\\r")
    text, line = vty.step()              # echo; line == "show license summary"
    screen = vty.run(line)               # its output and the next prompt
"""

from __future__ import annotations

from smartlic.agent.shell.registry import Token, tokenize
from smartlic.agent.shell.replies import Help
from smartlic.agent.shell.session import CTRL_Z, EXEC, USER, Session

__all__ = ["MAX_LINE", "MORE", "Vty"]

MORE = " --More-- "
MAX_LINE = 4096  # characters on one command line; more ring the bell (memory stays bounded)
_ERASE_MORE = "\b" * len(MORE) + " " * len(MORE) + "\b" * len(MORE)
CTRL_C = "\x03"
ESC = "\x1b"


def crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


class Vty:
    """One terminal session; see the module docstring."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._input = ""
        self._line = ""
        self._after_cr = False  # a LF right after a CR is the same Enter
        self._escape = ""  # an escape sequence being skipped
        self._pages: list[str] = []  # output lines waiting behind --More--

    @property
    def closed(self) -> bool:
        return self.session.closed

    def start(self) -> str:
        return self.session.prompt

    def receive(self, data: str) -> None:
        self._input += data

    def step(self) -> tuple[str, str | None]:
        """Consume typed input until a line is complete: (screen text, the line or None).

        The caller runs the line (``run``) before stepping again."""
        screen: list[str] = []
        while self._input and not self.closed:
            char, self._input = self._input[0], self._input[1:]
            after_cr, self._after_cr = self._after_cr, char == "\r"
            if char == "\n" and after_cr:
                continue
            if self._pages:
                screen.append(self._page_key(char))
                continue
            line = self._key(char, screen)
            if line is not None:
                return "".join(screen), line
        return "".join(screen), None

    def run(self, line: str) -> str:
        """Run a completed line: its output (paged) and the next prompt."""
        outcome = self.session.execute(line)
        return self._show(outcome.text.splitlines())

    # -- keys ------------------------------------------------------------------------------

    def _key(self, char: str, screen: list[str]) -> str | None:
        if self._escape or char == ESC:
            self._skip_escape(char)
        elif char in "\r\n":
            return self._enter(screen, self._line)
        elif char == CTRL_Z:
            return self._ctrl_z(screen)
        elif char == CTRL_C:
            screen.append(self._ctrl_c())
        elif char in "\b\x7f":
            screen.append(self._backspace())
        elif len(self._line) >= MAX_LINE:
            screen.append("\a")
        elif self.session.pending is not None and self.session.pending.secret:
            self._line += char
        elif char == "?":
            screen.append(self._help())
        elif char == "\t":
            screen.append(self._complete())
        elif char.isprintable():
            self._line += char
            screen.append(char)
        return None

    def _enter(self, screen: list[str], line: str) -> str:
        self._line = ""
        screen.append("\r\n")
        return line

    def _ctrl_z(self, screen: list[str]) -> str | None:
        if self.session.mode in (USER, EXEC):
            return None
        screen.append("^Z")
        return self._enter(screen, self._line + CTRL_Z)

    def _ctrl_c(self) -> str:
        self._line = ""
        self.session.pending = None
        if self.session.mode not in (USER, EXEC):
            self.session.mode = EXEC
        return f"^C\r\n{self.session.prompt}"

    def _backspace(self) -> str:
        if not self._line:
            return ""
        self._line = self._line[:-1]
        secret = self.session.pending is not None and self.session.pending.secret
        return "" if secret else "\b \b"

    def _skip_escape(self, char: str) -> None:
        """ESC [ ... final byte (CSI), ESC O x (SS3) or ESC x: dropped."""
        self._escape += char
        seq = self._escape
        done = (len(seq) >= 2 and seq[1] not in "[O") or (
            len(seq) >= 3 and (seq[1] == "O" or seq[-1].isalpha() or seq[-1] == "~")
        )
        if done:
            self._escape = ""

    def _help(self) -> str:
        """``?``: the help at once, then the prompt and what was typed, as IOS shows it."""
        if self.session.pending is not None:
            self._line += "?"
            return "?"
        text = self.session.execute(self._line + "?").text
        return crlf(f"?\n{text}") + self.session.prompt + self._line

    def _complete(self) -> str:
        """Tab: complete the last word when one keyword alone fits."""
        line = self._line
        tokens = tokenize(line)
        if not tokens or line[-1:].isspace():
            return ""
        reply = self.session.registry.help(self._help_mode(tokens), line)
        if not isinstance(reply, Help) or len(reply.entries) != 1:
            return ""
        word = reply.entries[0][0]
        added = word[len(tokens[-1].text) :] + " "
        if not word.startswith(tokens[-1].text):
            return ""
        self._line += added
        return added

    def _help_mode(self, tokens: list[Token]) -> str:
        """User EXEC completes its own commands, and the words after ``show`` as exec does."""
        if self.session.mode != USER:
            return self.session.mode
        in_show = len(tokens) > 1 and "show".startswith(tokens[0].text)
        return EXEC if in_show else USER

    # -- paging ----------------------------------------------------------------------------

    def _show(self, lines: list[str]) -> str:
        self._pages = lines
        return self._page(self._page_size())

    def _page_size(self) -> int:
        length = self.session.length
        return len(self._pages) if length == 0 else max(1, length - 1)

    def _page(self, count: int) -> str:
        shown, self._pages = self._pages[:count], self._pages[count:]
        text = "".join(f"{line}\r\n" for line in shown)
        if self._pages:
            return text + MORE
        return text + ("" if self.closed else self.session.prompt)

    def _page_key(self, char: str) -> str:
        if char == " ":
            return _ERASE_MORE + self._page(self._page_size())
        if char in "\r\n":
            return _ERASE_MORE + self._page(1)
        self._pages = []
        return _ERASE_MORE + self.session.prompt
