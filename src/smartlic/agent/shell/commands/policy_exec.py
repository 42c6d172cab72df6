"""Privileged EXEC commands of Smart Licensing Using Policy (domain-notes 2.5, S12/S17):

    license smart trust idtoken <token> {local|all} [force]
    license smart sync {local|all}
    license smart save usage {all|unreported|days <n>|rum-id <id>} file <path>
    license smart import [file] <path>            -> "Import Data Successful"
    license smart authorization request {add|replace} <feature> {local|all}
    license smart authorization request save <path>
    license smart authorization return {local|all} {online|offline}

Paths may name the device's storage (``flash:report``, ``flash: ACK_report``). The offline
return prints the code in the vendor's words: "Enter this return code in Cisco Smart Software
Manager portal:" (Removing the Product Instance from CSSM, second reference document).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from smartlic.agent.shell.flash import resolve_path
from smartlic.agent.shell.registry import Arg, Registry
from smartlic.agent.shell.replies import CommandFailed, Notice, Reply
from smartlic.domain.products import ProductProfile
from smartlic.formats.bounds import decimal
from smartlic.formats.device_v1 import udi_short

if TYPE_CHECKING:
    from smartlic.agent.shell.session import Session

__all__ = ["COMM_FAILED", "RETURN_NOTICE", "TRUST_NOTICE", "register"]

EXEC = "exec"
RETURN_NOTICE = "Enter this return code in Cisco Smart Software Manager portal:"
TRUST_NOTICE = (
    "%SMART_LIC-6-TRUST_INSTALL_SUCCESS: "
    "A new licensing trust code was successfully installed on {udi}."
)
COMM_FAILED = "%SMART_LIC-3-COMM_FAILED: Communications failure with the {peer} : {reason}"
_PEERS = {
    "cslu": "Cisco Smart License Utility (CSLU)",
    "smart": "Cisco Smart Software Manager (CSSM)",
}
_PATH = Arg("WORD", "Destination or source file, e.g. flash:report", rest_of_line=True)
_SCOPES = (("local", "The local device"), ("all", "All devices in the HA configuration"))


AuthMode = Literal["add", "replace"]
ShellHandler = Callable[["Session", Mapping[str, str]], Reply]
Which = Callable[[Mapping[str, str]], Any]  # shell arguments -> save_usage's ``which``


def _days(text: str) -> bool:
    n = decimal(text)
    return n is not None and n <= 1_000_000


def _report_id(text: str) -> bool:
    n = decimal(text)
    return n is not None and n < 2**64


# ``save usage`` selections: words, the manager's ``which``, their arguments, help.
_SELECTIONS: tuple[tuple[str, Which, dict[str, Arg], str], ...] = (
    ("all", lambda a: "all", {}, "All reports"),
    ("unreported", lambda a: "unreported", {}, "Reports not yet sent"),
    (
        "days {days}",
        lambda a: ("days", int(a["days"])),
        {"days": Arg("<0-1000000>", "Days", check=_days)},
        "Reports of the last n days",
    ),
    (
        "rum-id {id}",
        lambda a: ("rum-id", int(a["id"])),
        {"id": Arg("<0-18446744073709551615>", "Report id", check=_report_id)},
        "One report",
    ),
)


def _path(session: Session, args: Mapping[str, str]) -> str:
    return str(resolve_path(session.device.flash_dir, args["path"]))


def _file_errors(handler: ShellHandler) -> ShellHandler:
    """A file that cannot be read or written prints IOS's ``%Error opening <path> (<why>)``."""

    def run(session: Session, args: Mapping[str, str]) -> Reply:
        try:
            return handler(session, args)
        except OSError as exc:
            return CommandFailed(f"Error opening {args['path'].strip()} ({exc.strerror})")

    return run


def trust(session: Session, args: Mapping[str, str]) -> Reply:
    device = session.device
    device.manager.trust(args["token"], args["scope"], "force" in args)
    return Notice((TRUST_NOTICE.format(udi=udi_short(device.manager.udi)),))


def sync(session: Session, args: Mapping[str, str]) -> Reply:
    """Silent on success, as IOS; a failure shows the syslog line the device would log."""
    attempt = session.device.manager.sync()
    if attempt is None or attempt.succeeded:
        return None
    kind = session.device.manager.status().transport.type
    peer = _PEERS.get(kind, _PEERS["smart"])
    return Notice((COMM_FAILED.format(peer=peer, reason=attempt.failure_reason or "unknown"),))


def save_usage(which: Which, session: Session, args: Mapping[str, str]) -> Reply:
    session.device.manager.save_usage(_path(session, args), which(args))
    return None


def import_file(session: Session, args: Mapping[str, str]) -> Reply:
    return Notice((session.device.manager.import_file(_path(session, args)),))


def authorization_request(mode: AuthMode, session: Session, args: Mapping[str, str]) -> Reply:
    spec = session.device.profile.license(args["feature"])
    session.device.manager.authorization_request(mode, {spec.tag: 1}, args["scope"])
    return None


def save_authorization_request(session: Session, args: Mapping[str, str]) -> Reply:
    session.device.manager.save_authorization_request(_path(session, args))
    return None


def authorization_return(online: bool, session: Session, args: Mapping[str, str]) -> Reply:
    code = session.device.manager.authorization_return(args["scope"], online=online)
    return None if online else Notice((RETURN_NOTICE, *code.splitlines()))


def _scoped(
    registry: Registry[Session],
    path: str,
    handler: ShellHandler,
    text: str,
    args: dict[str, Arg],
) -> None:
    """``<path> {local|all}``: the scope is a keyword, handed to the handler as ``scope``."""
    for scope, help_text in _SCOPES:
        handler_for = _with(handler, scope=scope)
        registry.command(EXEC, f"{path} {scope}", handler_for, help=f"{text} ({scope})", args=args)
        registry.describe(EXEC, f"{path} {scope}", help_text, args)
    if not path.endswith("}"):  # an argument's help is its Arg's
        registry.describe(EXEC, path, text)


def _with(handler: ShellHandler, **extra: str) -> ShellHandler:
    """``handler`` with fixed extra arguments (the scope keyword, ``force``)."""

    def run(session: Session, args: Mapping[str, str]) -> Reply:
        return handler(session, {**args, **extra})

    return run


def _register_trust_sync(registry: Registry[Session]) -> None:
    registry.describe(EXEC, "license smart trust", "Trust establishment")
    token = {"token": Arg("WORD", "Token identification string")}
    path = "license smart trust idtoken {token}"
    registry.describe(EXEC, "license smart trust idtoken", "Install a trust code with an ID token")
    _scoped(registry, path, trust, "Install a trust code", token)
    for scope, _ in _SCOPES:
        handler = _with(trust, scope=scope, force="force")
        registry.command(
            EXEC, f"{path} {scope} force", handler, help="Force a new trust code", args=token
        )
    _scoped(registry, "license smart sync", sync, "Synchronize with CSLU or the authority", {})


def _register_save_usage(registry: Registry[Session]) -> None:
    registry.describe(EXEC, "license smart save", "Save license information to a file")
    registry.describe(EXEC, "license smart save usage", "Save the usage reports (RUM)")
    for words, which, args, text in _SELECTIONS:
        registry.describe(EXEC, f"license smart save usage {words.split()[0]}", text)
        registry.command(
            EXEC,
            f"license smart save usage {words} file {{path}}",
            _file_errors(partial(save_usage, which)),
            help=f"Save usage ({words.split()[0]}) to a file",
            args={**args, "path": _PATH},
        )


def _register_import(registry: Registry[Session]) -> None:
    text = "Import an ACK, policy, trust or authorization code file"
    registry.command(
        EXEC,
        "license smart import {path}",
        _file_errors(import_file),
        help=text,
        args={"path": _PATH},
    )
    registry.command(
        EXEC,
        "license smart import file {path}",
        _file_errors(import_file),
        help=text,
        args={"path": _PATH},
    )


def _register_authorization(registry: Registry[Session], profile: ProductProfile) -> None:
    base = "license smart authorization"
    registry.describe(EXEC, base, "Smart Licensing Authorization Code (SLAC)")
    registry.describe(EXEC, f"{base} request", "Request an authorization code")
    names = {spec.name for spec in profile.licenses}
    feature = {"feature": Arg("WORD", "Feature name", check=lambda t: t in names)}
    modes: tuple[tuple[AuthMode, str], ...] = (
        ("add", "Add to the installed codes"),
        ("replace", "Replace the installed codes"),
    )
    for mode, text in modes:
        registry.describe(EXEC, f"{base} request {mode}", text)
        _scoped(
            registry,
            f"{base} request {mode} {{feature}}",
            partial(authorization_request, mode),
            f"Request an authorization code ({mode})",
            feature,
        )
    registry.command(
        EXEC,
        f"{base} request save {{path}}",
        _file_errors(save_authorization_request),
        help="Save the request to a file",
        args={"path": _PATH},
    )
    registry.describe(EXEC, f"{base} return", "Return the authorization codes")
    for scope, help_text in _SCOPES:
        registry.describe(EXEC, f"{base} return {scope}", help_text)
        for kind, online in (("online", True), ("offline", False)):
            handler = _with(partial(authorization_return, online), scope=scope)
            text = f"Return the codes {kind} ({scope})"
            registry.command(EXEC, f"{base} return {scope} {kind}", handler, help=text)


def register(registry: Registry[Session], profile: ProductProfile) -> None:
    _register_trust_sync(registry)
    _register_save_usage(registry)
    _register_import(registry)
    _register_authorization(registry, profile)
