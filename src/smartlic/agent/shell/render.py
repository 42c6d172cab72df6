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

from collections.abc import Callable

from smartlic.agent._status import Status
from smartlic.agent.shell import version, views, views_policy, views_reports
from smartlic.agent.shell.fmt import ios_clock
from smartlic.agent.shell.replies import (
    Ambiguous,
    ClockView,
    CommandFailed,
    Confirm,
    CpfStatusView,
    Help,
    Incomplete,
    InvalidInput,
    LicenseView,
    Notice,
    Reply,
    RumDetailView,
    RunningConfig,
    VersionView,
)
from smartlic.agent.shell.settings import apply_settings
from smartlic.domain.products import ProductProfile

__all__ = ["lines_of", "render", "running_config_lines"]

View = Callable[[Status, ProductProfile], list[str]]

_VIEWS: dict[str, View] = {
    "status": views.license_status,
    "summary": views.license_summary,
    "usage": views.license_usage,
    "all": views.license_all,
    "tech": views.license_tech_support,
    "udi": views.license_udi,
}

# Smart Licensing Using Policy formats, used when the snapshot carries ``Status.policy``.
_POLICY_VIEWS: dict[str, View] = {
    "status": views_policy.license_status,
    "summary": views_policy.license_summary,
    "usage": views_policy.license_usage,
    "all": views_reports.license_all,
    "tech": views_reports.license_tech_support,
    "udi": views_policy.license_udi,
    "authorization": views_reports.license_authorization,
    "rum_all": views_reports.license_rum_all,
    "history": views_reports.license_history,
    "eventlog": views_reports.license_eventlog,
}


def _license_view(view: str, status: Status, profile: ProductProfile) -> list[str]:
    table = _POLICY_VIEWS if status.policy is not None else _VIEWS
    return table[view](status, profile)


def _yes_no(flag: bool) -> str:
    return "Yes" if flag else "No"


def _cpf_status(reply: CpfStatusView) -> list[str]:
    """The second reference document's ``show common-packet-forwarder status``."""
    reported, acked = _yes_no(reply.reported), _yes_no(reply.acknowledged)
    return [
        f"Enabled : {_yes_no(reply.enabled)}",
        f"Running : {_yes_no(reply.running)}",
        f"NS Registration : {reply.ns_registration}",
        f"License Status: Reported - {reported}, Acknowledged - {acked}",
    ]


def _help(reply: Help) -> list[str]:
    if reply.completions_only:
        return ["  ".join(word for word, _ in reply.entries) + "  "]
    width = max((len(word) for word, _ in reply.entries), default=0)
    return [f"  {word:<{width}}  {text}".rstrip() for word, text in reply.entries]


def running_config_lines(reply: RunningConfig) -> list[str]:
    """``show running-config`` (and what ``write memory`` saves as the startup-config)."""
    body = ["!", *reply.lines, "!", "end"]
    size = sum(len(line) + 1 for line in body)
    return ["Building configuration...", "", f"Current configuration : {size} bytes", *body]


def lines_of(reply: Reply, *, caret_offset: int = 0) -> list[str]:
    """The output lines of ``reply`` (no trailing newlines); ``[]`` when IOS prints nothing."""
    match reply:
        case None:
            return []
        case LicenseView(view=view, status=status, profile=profile, settings=settings):
            return apply_settings(_license_view(view, status, profile), settings)
        case RumDetailView(report=report):
            return views_reports.license_rum_detail(report)
        case CpfStatusView():
            return _cpf_status(reply)
        case Confirm(lines=lines):
            return list(lines)
        case ClockView(now=now):
            return [ios_clock(now)]
        case RunningConfig():
            return running_config_lines(reply)
        case VersionView():
            return version.show_version(reply)
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
