"""Turn a handler's ``Reply`` into the text IOS would print.

Error shapes are IOS's own::

    Device#show licnese summary
                ^
    % Invalid input detected at '^' marker.

    % Incomplete command.

    % Ambiguous command:  "sh l"

The caret sits under the first character of the offending token; ``caret_offset`` is the
width of whatever precedes the typed command on the echoed line (the prompt, interactively).
"""

from __future__ import annotations

from smartlic.agent.shell import views
from smartlic.agent.shell.fmt import ios_clock
from smartlic.agent.shell.replies import (
    Ambiguous,
    ClockView,
    CommandFailed,
    Help,
    Incomplete,
    InvalidInput,
    LicenseView,
    Notice,
    Reply,
    RunningConfig,
)

__all__ = ["lines_of", "render"]

_VIEWS = {
    "status": views.license_status,
    "summary": views.license_summary,
    "usage": views.license_usage,
    "all": views.license_all,
    "tech": views.license_tech_support,
    "udi": views.license_udi,
}


def _help(reply: Help) -> list[str]:
    if reply.completions_only:
        return ["  ".join(word for word, _ in reply.entries) + "  "]
    width = max((len(word) for word, _ in reply.entries), default=0)
    return [f"  {word:<{width}}  {text}".rstrip() for word, text in reply.entries]


def _running_config(reply: RunningConfig) -> list[str]:
    body = ["!", *reply.lines, "!", "end"]
    size = sum(len(line) + 1 for line in body)
    return ["Building configuration...", "", f"Current configuration : {size} bytes", *body]


def lines_of(reply: Reply, *, caret_offset: int = 0) -> list[str]:
    """The output lines of ``reply`` (no trailing newlines); ``[]`` when IOS prints nothing."""
    match reply:
        case None:
            return []
        case LicenseView(view=view, status=status):
            return _VIEWS[view](status)
        case ClockView(now=now):
            return [ios_clock(now)]
        case RunningConfig():
            return _running_config(reply)
        case Notice(lines=lines):
            return list(lines)
        case Help():
            return _help(reply)
        case CommandFailed(message=message):
            return [f"% {message}"]
        case InvalidInput(column=column):
            caret = " " * (caret_offset + column) + "^"
            return [caret, "% Invalid input detected at '^' marker.", ""]
        case Incomplete():
            return ["% Incomplete command.", ""]
        case Ambiguous(text=text):
            return [f'% Ambiguous command:  "{text}"', ""]
    raise TypeError(f"not a shell reply: {reply!r}")  # pragma: no cover


def render(reply: Reply, *, caret_offset: int = 0) -> str:
    """``lines_of`` joined, each line newline-terminated."""
    return "".join(line + "\n" for line in lines_of(reply, caret_offset=caret_offset))
