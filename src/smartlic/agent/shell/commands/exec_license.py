"""Exec commands: ``license smart register/renew/deregister``, modes, and the lab clock.

Messages are the vendor's: ``license smart register`` prints "Registration process is in
progress. Use the 'show license status' command to check the progress and result"
(domain-notes 1.4, S4); ``license smart renew auth`` "Authorization process is in progress.
Please check the syslog for the authorization status and result." (first reference document,
"Renew Smart Licensing Registration").
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING

from smartlic.agent.shell.registry import Arg, Registry
from smartlic.agent.shell.replies import ClockView, CommandFailed, Notice, Reply
from smartlic.clock import parse_duration

if TYPE_CHECKING:
    from smartlic.agent.shell.session import Session

__all__ = ["register"]

EXEC = "exec"

REGISTER_NOTICE = (
    "Registration process is in progress. "
    "Use the 'show license status' command to check the progress and result"
)
RENEW_NOTICES = {
    "auth": "license smart renew auth: Authorization process is in progress. "
    "Please check the syslog for the authorization status and result.",
    "id": "license smart renew id: Registration process is in progress. "
    "Please check the syslog for the registration status and result.",
}


def _is_duration(text: str) -> bool:
    try:
        parse_duration(text)
    except ValueError:
        return False
    return True


# Under Smart Licensing Using Policy "The CLI license smart register command is deprecated"
# (domain-notes 2.5); trust is established with "license smart trust idtoken" instead.
REGISTER_IN_POLICY_MODE = (
    "license smart register is deprecated under Smart Licensing Using Policy: use "
    "'license smart trust idtoken <token> local' (or 'license smart mode classic')"
)
CLASSIC_ONLY = (
    "{command} is classic Smart Licensing; this device runs Smart Licensing Using Policy "
    "(license smart mode classic to switch)"
)


def smart_register(session: Session, args: Mapping[str, str]) -> Reply:
    if session.device.policy_mode:
        return CommandFailed(REGISTER_IN_POLICY_MODE)
    session.device.manager.register(args["token"], force="force" in args)
    return Notice((REGISTER_NOTICE,))


def smart_register_force(session: Session, args: Mapping[str, str]) -> Reply:
    return smart_register(session, {**args, "force": "force"})


def smart_renew(kind: str, session: Session, args: Mapping[str, str]) -> Reply:
    if session.device.policy_mode:
        return CommandFailed(CLASSIC_ONLY.format(command=f"license smart renew {kind}"))
    session.device.manager.renew("auth" if kind == "auth" else "id")
    return Notice((RENEW_NOTICES[kind],))


def smart_deregister(session: Session, args: Mapping[str, str]) -> Reply:
    if session.device.policy_mode:
        return CommandFailed(CLASSIC_ONLY.format(command="license smart deregister"))
    session.device.manager.deregister()
    return None


def configure_terminal(session: Session, args: Mapping[str, str]) -> Reply:
    session.mode = "config"
    return Notice(("Enter configuration commands, one per line.  End with CNTL/Z.",))


def exit_exec(session: Session, args: Mapping[str, str]) -> Reply:
    session.closed = True
    return None


def lab_clock_advance(session: Session, args: Mapping[str, str]) -> Reply:
    return ClockView(session.device.advance(parse_duration(args["duration"])))


def _register_license(registry: Registry[Session]) -> None:
    registry.describe(EXEC, "license", "Smart licensing commands")
    registry.describe(EXEC, "license smart", "Smart licensing")
    registry.describe(EXEC, "license smart register", "Register with the licensing authority")
    token = Arg("WORD", "Token identification string")
    path = "license smart register idtoken {token}"
    registry.describe(EXEC, "license smart register idtoken", "Register with an ID token")
    text = "Register with an ID token"
    registry.command(EXEC, path, smart_register, help=text, args={"token": token})
    registry.command(
        EXEC,
        f"{path} force",
        smart_register_force,
        help="Force a registration",
        args={"token": token},
    )
    registry.describe(EXEC, "license smart renew", "Renew the ID certificate or the authorization")
    for kind, text in (("auth", "Renew the authorization"), ("id", "Renew the ID certificate")):
        handler = partial(smart_renew, kind)
        registry.command(EXEC, f"license smart renew {kind}", handler, help=text)
    registry.command(
        EXEC, "license smart deregister", smart_deregister, help="Deregister from the authority"
    )


def register(registry: Registry[Session]) -> None:
    _register_license(registry)
    registry.describe(EXEC, "configure", "Enter configuration mode")
    registry.command(
        EXEC, "configure terminal", configure_terminal, help="Configure from the terminal"
    )
    registry.command(EXEC, "exit", exit_exec, help="Exit from the EXEC")
    registry.command(EXEC, "logout", exit_exec, help="Exit from the EXEC")
    registry.describe(EXEC, "lab", "Lab tools (smartlic only, not an IOS command)")
    registry.describe(EXEC, "lab clock", "The device clock")
    duration = Arg("<duration>", "How far, e.g. 30d, 12h, 15m, 45s", check=_is_duration)
    registry.command(
        EXEC,
        "lab clock advance {duration}",
        lab_clock_advance,
        help="Move the device clock forward, run due timers",
        args={"duration": duration},
    )
