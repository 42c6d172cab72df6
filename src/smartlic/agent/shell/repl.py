"""The prompt loops, kept thin: read a line, ``Session.execute`` it, print the text.

``run_script`` feeds lines from ``-c`` options or a pipe; ``run_interactive`` shows the IOS
prompt. Both are plain functions over ``read``/``write`` callables, so tests need no terminal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from smartlic.agent.shell.session import EXEC, Session

__all__ = ["run_interactive", "run_script"]

Write = Callable[[str], None]


def run_script(session: Session, lines: Iterable[str], write: Write) -> int:
    """Run every line; with ``session.echo`` each is preceded by ``<prompt><line>``.

    Returns how many lines failed (an unknown command, a refused operation, ...).
    """
    failures = 0
    for line in lines:
        if session.closed:
            break
        if session.echo:
            write(f"{session.prompt}{line.rstrip()}\n")
        outcome = session.execute(line)
        write(outcome.text)
        failures += outcome.failed
    return failures


def run_interactive(
    session: Session,
    read: Callable[[str], str],
    write: Write,
    prefill: Callable[[str], None] | None = None,
) -> None:
    """Prompt until ``exit``/``logout`` in exec mode or end of input.

    Ctrl-D in configuration mode acts as ``end``, as Ctrl-Z does on IOS; Ctrl-C drops the line.
    After ``?`` the typed words come back on the next prompt, as IOS does (``prefill``).
    """
    while not session.closed:
        try:
            line = read(session.prompt)
        except KeyboardInterrupt:
            write("\n")
            continue
        except EOFError:
            write("\n")
            session.pending = None  # an unanswered question is declined
            if session.mode == EXEC:
                return
            session.mode = "exec"
            continue
        write(session.execute(line).text)
        if prefill is not None and line.rstrip().endswith("?"):
            prefill(line.rstrip()[:-1])
