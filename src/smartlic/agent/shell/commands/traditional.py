"""Traditional licensing commands, on profiles whose software predates Smart Licensing by
default (``licensing_mode = "traditional"``, the 16.x ASR-903): ``license install``,
``license clear``, ``license save``, ``license accept end user agreement``, ``reload`` (a
boot level is enforced then), ``show license detail|feature|file``, and device-led conversion
``license smart conversion start|stop``.

In smart mode the traditional commands are refused with the message of the first document
("Once Smart Licensing mode is enabled, all CLIs related to the traditional licensing mode are
disabled"); ``no license smart enable`` brings them back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING

from smartlic.agent._traditional_verbs import SMART_MODE
from smartlic.agent.shell import views_traditional as vt
from smartlic.agent.shell.flash import resolve_path
from smartlic.agent.shell.registry import Arg, Registry
from smartlic.agent.shell.replies import CommandFailed, Notice, Reply
from smartlic.domain.products import ProductProfile
from smartlic.formats.license_bundle import split_bundle, write_bundle

if TYPE_CHECKING:
    from smartlic.agent.shell.session import Session

__all__ = ["register", "traditional_listing"]

EXEC, CONFIG = "exec", "config"
_PATH = Arg("WORD", "License file, e.g. flash:router.lic", rest_of_line=True)
_FEATURE = Arg("WORD", "Feature name")
Handler = Callable[["Session", Mapping[str, str]], Reply]


def _traditional_only(handler: Handler) -> Handler:
    """Smart mode disables the traditional commands; a file error prints IOS's message."""

    def run(session: Session, args: Mapping[str, str]) -> Reply:
        if not session.device.traditional_mode:
            return CommandFailed(SMART_MODE[:1].upper() + SMART_MODE[1:])
        try:
            return handler(session, args)
        except OSError as exc:
            return CommandFailed(f"Error opening {args['path'].strip()} ({exc.strerror})")

    return run


def install(session: Session, args: Mapping[str, str]) -> Reply:
    path = args["path"].strip()
    files = split_bundle(resolve_path(session.device.flash_dir, path).read_bytes())
    results = [session.device.manager.traditional.install(data) for data in files]
    lines = [f'Installing licenses from "{path}"']
    lines += [f"Installing...Feature:{lic.feature}...Successful:Supported" for lic, _ in results]
    new = sum(1 for _, fresh in results if fresh)
    total = len(results)
    return Notice(
        (
            *lines,
            f"{new}/{total} licenses were successfully installed",
            f"{total - new}/{total} licenses were existing licenses",
            f"0/{total} licenses were failed to install",
        )
    )


def clear(session: Session, args: Mapping[str, str]) -> Reply:
    serials = session.device.manager.traditional.clear(args["feature"])
    return Notice(
        (f"Feature: {args['feature']}", *(f"  License {s} cleared successfully" for s in serials))
    )


def save(session: Session, args: Mapping[str, str]) -> Reply:
    path = args["path"].strip()
    files = session.device.manager.traditional.save()
    resolve_path(session.device.flash_dir, path).write_bytes(write_bundle(files))
    return Notice((f"license lines saved ..... to {path}",))


def accept_eula(session: Session, args: Mapping[str, str]) -> Reply:
    session.device.manager.traditional.accept_eula()
    return None


def reload(session: Session, args: Mapping[str, str]) -> Reply:
    return Notice(("Reload requested", *session.device.reload()))


def conversion(start: bool, session: Session, args: Mapping[str, str]) -> Reply:
    verbs = session.device.manager.traditional
    if start:
        record = verbs.start_conversion()
        return Notice((f"Smart License Conversion process is done: {len(record.converted)} "
                       "license(s) converted",))  # fmt: skip
    verbs.stop_conversion()
    return Notice(("Smart License Conversion process is stopped",))


def traditional_listing(session: Session, view: str) -> list[str]:
    """``show license`` / ``detail`` / ``feature`` / ``file`` of a traditional device."""
    device = session.device
    names = {spec.tag: spec.name for spec in device.profile.licenses}
    usage = {names.get(tag, tag): n for tag, n in device.manager.usage().items()}
    lines = device.manager.traditional.lines()
    if view == "detail":
        return vt.license_detail(lines, usage)
    if view == "feature":
        return vt.license_feature(lines)
    if view == "file":
        return vt.license_file(lines, usage)
    return vt.license_lines(lines, usage)


def show(view: str, session: Session, args: Mapping[str, str]) -> Reply:
    return Notice(tuple(traditional_listing(session, view)))


def register(registry: Registry[Session], profile: ProductProfile) -> None:
    if profile.licensing_mode != "traditional":
        return
    registry.command(EXEC, "license install {path}", _traditional_only(install),
                     help="Install a license file", args={"path": _PATH})  # fmt: skip
    registry.command(EXEC, "license clear {feature}", _traditional_only(clear),
                     help="Clear the installed licenses of a feature",
                     args={"feature": _FEATURE})  # fmt: skip
    registry.command(EXEC, "license save {path}", _traditional_only(save),
                     help="Save the installed licenses to a file",
                     args={"path": _PATH})  # fmt: skip
    registry.command(EXEC, "reload", reload, help="Halt and perform a cold restart")
    for view, text in (("detail", "Show license details"), ("feature", "Show license features"),
                       ("file", "Show the installed license files")):  # fmt: skip
        registry.command(EXEC, f"show license {view}", partial(show, view), help=text, pipe=True)
    registry.describe(EXEC, "license smart conversion", "Device-led license conversion")
    for word, start in (("start", True), ("stop", False)):
        registry.command(EXEC, f"license smart conversion {word}", partial(conversion, start),
                         help=f"{word.capitalize()} converting traditional licenses to smart "
                         "licenses")  # fmt: skip
    registry.describe(CONFIG, "license accept", "Accept a license agreement")
    registry.describe(CONFIG, "license accept end", "Accept the end user agreement")
    registry.describe(CONFIG, "license accept end user", "Accept the end user agreement")
    registry.command(CONFIG, "license accept end user agreement", _traditional_only(accept_eula),
                     help="Accept the end user license agreement")  # fmt: skip
