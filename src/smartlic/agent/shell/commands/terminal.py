"""Session commands: privilege (``enable``/``disable``), ``terminal length|width``, the
console/vty line settings automation tools send when they connect, and ``show version``.

IOS behaviour followed here:

* ``enable`` from user EXEC asks ``Password:`` (not echoed) and allows three attempts before
  ``% Bad secrets``; in privileged EXEC it does nothing.
* ``terminal length <0-512>`` (0: no paging) and ``terminal width <0-512>`` apply to this
  session only; netmiko sends ``terminal width 511`` and ``terminal length 0``, scrapli
  ``term length 0`` and ``term width 512``, unicon ``term length 0`` and ``term width 0``.
* unicon also configures ``no logging console``, ``line console 0`` / ``line vty 0 4`` and
  ``exec-timeout 0``: accepted and not kept (a simulated device has neither console nor
  logging).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING

from smartlic.agent.shell.commands.exec_license import exit_exec
from smartlic.agent.shell.registry import Arg, Registry
from smartlic.agent.shell.replies import CommandFailed, Confirm, Reply, VersionView
from smartlic.agent.shell.session import CONFIG, CONFIG_LINE, EXEC, USER
from smartlic.formats.bounds import decimal

if TYPE_CHECKING:
    from smartlic.agent.shell.session import Session

__all__ = ["register"]

ATTEMPTS = 3


def _in_range(high: int, text: str) -> bool:
    n = decimal(text)
    return n is not None and n <= high


def enable(session: Session, args: Mapping[str, str]) -> Reply:
    if session.mode != USER:
        return None
    check = session.enable_secret
    if check is None:
        session.mode = EXEC
        return None
    return _ask_secret(session, check, ATTEMPTS)


def _ask_secret(session: Session, check: Callable[[str], bool], left: int) -> Confirm:
    def answer(text: str) -> Reply:
        if check(text):
            session.mode = EXEC
            return None
        if left > 1:
            return _ask_secret(session, check, left - 1)
        return CommandFailed("Bad secrets")

    return Confirm((), "Password: ", answer, secret=True)


def disable(session: Session, args: Mapping[str, str]) -> Reply:
    session.mode = USER
    return None


def terminal(what: str, session: Session, args: Mapping[str, str]) -> Reply:
    setattr(session, what, int(args["value"]))
    return None


def accepted(session: Session, args: Mapping[str, str]) -> Reply:
    return None


def enter_line(session: Session, args: Mapping[str, str]) -> Reply:
    session.mode = CONFIG_LINE
    return None


def leave_line(mode: str, session: Session, args: Mapping[str, str]) -> Reply:
    session.mode = mode
    return None


def _packages(session: Session) -> tuple[tuple[str, str], ...]:
    """The boot level's licenses, the technology packages ``show version`` lists."""
    device = session.device
    level = device.config.boot_level
    if level is None:
        return ()
    names = [name for name, _ in device.profile.boot_levels.get(level, [])]
    specs = [device.profile.license(name) for name in names]
    kinds = ["Subscription Smart License" if s.subscription else "Smart License" for s in specs]
    return tuple(zip(names, kinds, strict=True))


def _smart_status(session: Session) -> str:
    """``Smart Licensing Status:`` - the mode, or a classic device's registration state."""
    status = session.device.manager.status()
    if status.policy is not None:
        return "Smart Licensing Using Policy"
    if not status.enabled:
        return "Smart Licensing is DISABLED"
    reg, auth = status.registration.state.value, status.authorization.state.value
    return f"{reg.replace('_', ' ').upper()}/{auth.replace('_', ' ').upper()}"


def show_version(session: Session, args: Mapping[str, str]) -> Reply:
    device = session.device
    return VersionView(
        hostname=device.config.hostname,
        pid=device.profile.pid,
        serial=device.manager.udi.sn,
        version=device.profile.software_version,
        uptime=device.clock.now() - device.started,
        packages=_packages(session),
        smart_status=_smart_status(session),
    )


def _register_terminal(registry: Registry[Session], mode: str) -> None:
    registry.describe(mode, "terminal", "Set terminal line parameters")
    for what, text in (
        ("length", "Set number of lines on a screen"),
        ("width", "Set width of the display terminal"),
    ):
        value = Arg("<0-512>", f"Number of {'lines' if what == 'length' else 'characters'}",
                    check=partial(_in_range, 512))  # fmt: skip
        path = f"terminal {what} {{value}}"
        registry.command(mode, path, partial(terminal, what), help=text, args={"value": value})


def _register_lines(registry: Registry[Session]) -> None:
    registry.describe(CONFIG, "line", "Configure a terminal line")
    registry.command(CONFIG, "line console 0", enter_line, help="Primary terminal line")
    first = Arg("<0-15>", "First Line number", check=partial(_in_range, 15))
    last = Arg("<1-15>", "Last Line number", check=partial(_in_range, 15))
    args = {"first": first, "last": last}
    registry.command(CONFIG, "line vty {first}", enter_line, help="Virtual terminal", args=args)
    registry.command(CONFIG, "line vty {first} {last}", enter_line, help="Virtual terminal",
                     args=args)  # fmt: skip
    minutes = Arg("<0-35791>", "Timeout in minutes", check=partial(_in_range, 35791))
    seconds = Arg("<0-2147483>", "Timeout in seconds", check=partial(_in_range, 2147483))
    timeout = {"minutes": minutes, "seconds": seconds}
    text = "Set the EXEC timeout"
    registry.command(CONFIG_LINE, "exec-timeout {minutes}", accepted, help=text, args=timeout)
    registry.command(CONFIG_LINE, "exec-timeout {minutes} {seconds}", accepted, help=text,
                     args=timeout)  # fmt: skip
    registry.command(CONFIG_LINE, "exit", partial(leave_line, CONFIG), help="Exit from line mode")
    registry.command(CONFIG_LINE, "end", partial(leave_line, EXEC), help="Exit from configure mode")
    registry.describe(CONFIG, "logging", "Modify message logging facilities")
    registry.command(CONFIG, "logging console", accepted, help="Set console logging parameters")
    registry.command(CONFIG, "no logging console", accepted, help="Set console logging parameters")


def register(registry: Registry[Session]) -> None:
    registry.describe(USER, "show", "Show running system information")
    registry.command(USER, "enable", enable, help="Turn on privileged commands")
    registry.command(EXEC, "enable", enable, help="Turn on privileged commands")
    registry.command(EXEC, "disable", disable, help="Turn off privileged commands")
    registry.command(USER, "exit", exit_exec, help="Exit from the EXEC")
    registry.command(USER, "logout", exit_exec, help="Exit from the EXEC")
    for mode in (USER, EXEC):
        _register_terminal(registry, mode)
    _register_lines(registry)
    registry.command(EXEC, "show version", show_version, help="System hardware and software status",
                     pipe=True)  # fmt: skip
