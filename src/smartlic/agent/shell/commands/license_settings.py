"""``license smart`` settings that change what the device shows and keeps in its running
configuration, with their ``no`` forms:

    license smart privacy {hostname|version|all}
    license smart vrf <name>
    license smart server-identity-check          (on by default; ``no`` turns it off)
    license smart utility
    license smart custom_id <id>
    license smart usage customer-tags {tag1|tag2|tag3|tag4} <value>

They are shown by ``show license status|all|tech support`` (settings.py) and saved like every
other configuration line. smartlic applies them to its display only: reports still carry the
hostname, and the transport does not bind to a VRF (docs/agent.md, "The device shell").
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING

from smartlic.agent.shell.registry import Arg, Registry
from smartlic.agent.shell.replies import Reply

if TYPE_CHECKING:
    from smartlic.agent.shell.session import Session

__all__ = ["register"]

CONFIG = "config"
_PRIVACY = (("hostname", "Hostname privacy"), ("version", "Version privacy"), ("all", "All"))
_TAGS = ("tag1", "tag2", "tag3", "tag4")
_NAME = Arg("WORD", "Name", check=lambda t: 0 < len(t) <= 64)


def _save(session: Session) -> None:
    session.device.save_config()


def privacy(what: str, on: bool, session: Session, args: Mapping[str, str]) -> Reply:
    config = session.device.config
    chosen = {"hostname", "version"} if what == "all" else {what}
    kept = set(config.privacy) | chosen if on else set(config.privacy) - chosen
    config.privacy = sorted(kept)
    _save(session)
    return None


def setting(field: str, value: object, session: Session, args: Mapping[str, str]) -> Reply:
    """Set ``field``; ``value`` ``None`` takes the typed argument of the same name."""
    setattr(session.device.config, field, args.get(field) if value is None else value)
    _save(session)
    return None


def customer_tag(tag: str, on: bool, session: Session, args: Mapping[str, str]) -> Reply:
    tags = session.device.config.customer_tags
    if on:
        tags[tag] = args["value"]
    else:
        tags.pop(tag, None)
    _save(session)
    return None


def _register_privacy(registry: Registry[Session]) -> None:
    registry.describe(CONFIG, "license smart privacy", "Data privacy")
    for prefix, on in (("", True), ("no ", False)):
        for what, text in _PRIVACY:
            registry.command(CONFIG, f"{prefix}license smart privacy {what}",
                             partial(privacy, what, on), help=text)  # fmt: skip


def _register_tags(registry: Registry[Session]) -> None:
    registry.describe(CONFIG, "license smart usage customer-tags", "Customer tags in reports")
    value = Arg("LINE", "Tag value", check=lambda t: 0 < len(t) <= 127, rest_of_line=True)
    for tag in _TAGS:
        registry.command(CONFIG, f"license smart usage customer-tags {tag} {{value}}",
                         partial(customer_tag, tag, True), help=f"Customer tag {tag[-1]}",
                         args={"value": value})  # fmt: skip
        registry.command(CONFIG, f"no license smart usage customer-tags {tag}",
                         partial(customer_tag, tag, False),
                         help=f"Customer tag {tag[-1]}")  # fmt: skip


def register(registry: Registry[Session]) -> None:
    _register_privacy(registry)
    _register_tags(registry)
    vrf = {"vrf": _NAME}
    registry.command(CONFIG, "license smart vrf {vrf}", partial(setting, "vrf", None),
                     help="VRF for the smart transport", args=vrf)  # fmt: skip
    registry.command(CONFIG, "no license smart vrf", partial(setting, "vrf", ""),
                     help="VRF for the smart transport")  # fmt: skip
    for prefix, on in (("", True), ("no ", False)):
        registry.command(CONFIG, f"{prefix}license smart server-identity-check",
                         partial(setting, "server_identity_check", on),
                         help="Check the server's identity")  # fmt: skip
        registry.command(CONFIG, f"{prefix}license smart utility",
                         partial(setting, "utility", on),
                         help="Utility (MSLA) reporting")  # fmt: skip
    custom = {"custom_id": _NAME}
    registry.command(CONFIG, "license smart custom_id {custom_id}",
                     partial(setting, "custom_id", None), help="Custom identifier",
                     args=custom)  # fmt: skip
    registry.command(CONFIG, "no license smart custom_id", partial(setting, "custom_id", ""),
                     help="Custom identifier")  # fmt: skip
