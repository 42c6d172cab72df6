"""License reservation (SLR / PLR) commands (domain-notes 1.6)::

    Device(config)# license smart reservation          reservation mode (no ... to leave)
    Device# license smart reservation request local     "Enter this request code in the Cisco
                                                         Smart Software Manager portal:"
    Device# license smart reservation install "<code>"  the authorization code, as a string
    Device# license smart reservation install file flash:AC_FCW2134L0RN.xml
    Device# license smart reservation cancel            drop an outstanding request
    Device# license smart reservation return local      confirms, then prints the return code
    Device# show license reservation

Refusals (a code for another device, tampered, reused, or not answering this device's request)
print IOS ``%`` messages and change nothing; the reservation engine is ``agent/_reservation``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING

from smartlic.agent.shell import views_policy, views_reservation
from smartlic.agent.shell.flash import resolve_path
from smartlic.agent.shell.registry import Arg, Registry
from smartlic.agent.shell.replies import CommandFailed, Confirm, Notice, Reply
from smartlic.errors import SmartlicError
from smartlic.formats.reservation import UNIVERSAL

if TYPE_CHECKING:
    from smartlic.agent.shell.session import Session

__all__ = ["register"]

EXEC, CONFIG = "exec", "config"
REQUEST_NOTICE = "Enter this request code in the Cisco Smart Software Manager portal:"
RETURN_NOTICE = "Enter this return code in Cisco Smart Software Manager portal:"
RETURN_WARNING = (
    "This command will remove the license reservation authorization code and the device will "
    "transition back to the unregistered state.",
    "Some features may not function properly.",
)
INSTALLED = (
    "%SMART_LIC-6-RESERVED_INSTALLED: {kind} License Reservation Authorization code installed "
    "for udi {udi}"
)
MAX_FILE = 64 * 1024


def reservation_mode(on: bool, session: Session, args: Mapping[str, str]) -> Reply:
    session.device.manager.reservation.enable(on)
    return None


def request(session: Session, args: Mapping[str, str]) -> Reply:
    return Notice((REQUEST_NOTICE, session.device.manager.reservation.request()))


def _installed(session: Session, text: str, first: str | None) -> Reply:
    try:
        auth = session.device.manager.reservation.install(text)
    except SmartlicError as exc:
        what = "Reservation install file failed" if first else "Reservation install failed"
        return CommandFailed(f"{what}: {exc.detail} ({exc.code})")
    kind = "Universal" if auth.reservation_type == UNIVERSAL else "Specific"
    lines = [first] if first else []
    lines += [f"Last Confirmation code {auth.confirmation_code}"]
    lines += [INSTALLED.format(kind=kind, udi=auth.udi)]
    return Notice(tuple(lines))


def install(session: Session, args: Mapping[str, str]) -> Reply:
    """The code typed on the line, quoted as the vendor's examples show."""
    return _installed(session, args["code"].strip().strip('"').strip("'"), None)


def install_file(session: Session, args: Mapping[str, str]) -> Reply:
    name = args["path"].strip()
    try:
        path = resolve_path(session.device.flash_dir, name)
        data = path.read_bytes()[: MAX_FILE + 1]
    except OSError as exc:
        return CommandFailed(f"Error opening {name} ({exc.strerror})")
    if len(data) > MAX_FILE:
        return CommandFailed(f"Reservation install file failed: {name} is too large")
    text = data.decode("utf-8", errors="replace")
    return _installed(session, text, "Reservation install file successful")


def cancel(session: Session, args: Mapping[str, str]) -> Reply:
    session.device.manager.reservation.cancel()
    return None


def return_local(session: Session, args: Mapping[str, str]) -> Reply:
    """The vendor's question first; ``y``/``yes`` removes the code and prints the return code."""
    engine = session.device.manager.reservation
    if engine.installed is None:
        return CommandFailed("No reservation authorization code is installed")

    def answer(text: str) -> Reply:
        if text.strip().lower() not in ("y", "yes"):
            return None
        return Notice((RETURN_NOTICE, engine.release()))

    return Confirm(RETURN_WARNING, "Do you want to continue? [yes/no]: ", answer)


def show_reservation(session: Session, args: Mapping[str, str]) -> Reply:
    device = session.device
    status = device.manager.status()
    if status.policy is None and not (status.reservation and status.reservation.enabled):
        return Notice((views_reservation.enabled_line(status),))  # as before issue 11
    members = views_policy.ha_members(status, device.profile)
    lines = views_reservation.reservation_info(status, device.profile, members)
    return Notice(tuple(lines[:-1]))


def register(registry: Registry[Session]) -> None:
    base = "license smart reservation"
    registry.describe(CONFIG, "license smart", "Smart licensing")
    registry.command(CONFIG, base, partial(reservation_mode, True),
                     help="Enable license reservation")  # fmt: skip
    registry.command(CONFIG, f"no {base}", partial(reservation_mode, False),
                     help="Disable license reservation")  # fmt: skip
    registry.describe(EXEC, base, "License reservation (SLR / PLR)")
    registry.describe(EXEC, f"{base} request", "Generate a reservation request code")
    registry.command(EXEC, f"{base} request local", request,
                     help="Reservation request code of the local device")  # fmt: skip
    code = Arg("LINE", "The authorization code, in quotes", rest_of_line=True)
    text = "Install a reservation authorization code"
    registry.command(EXEC, f"{base} install {{code}}", install, help=text, args={"code": code})
    path = Arg("WORD", "File holding the authorization code, e.g. flash:AC.xml",
               rest_of_line=True)  # fmt: skip
    text = "Install an authorization code from a file"
    registry.command(EXEC, f"{base} install file {{path}}", install_file, help=text,
                     args={"path": path})  # fmt: skip
    registry.command(EXEC, f"{base} cancel", cancel, help="Cancel a reservation request")
    registry.describe(EXEC, f"{base} return", "Return the installed reservation")
    registry.command(EXEC, f"{base} return local", return_local,
                     help="Return the reservation of the local device")  # fmt: skip
    registry.command(EXEC, "show license reservation", show_reservation,
                     help="Show license reservation information", pipe=True)  # fmt: skip
