"""Configuration-mode commands (``Device(config)#``) and their ``no`` forms.

``license boot level`` and ``license feature`` keywords come from the product profile, so a
different profile brings its own choices (first reference document, "Enable Smart Licensing",
steps 2-4).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING

from smartlic.agent.shell.device import CPF_FEATURE
from smartlic.agent.shell.registry import Arg, Registry
from smartlic.agent.shell.replies import Notice, Reply
from smartlic.domain.products import DEFAULT_PROFILE, ProductProfile
from smartlic.formats.bounds import decimal

if TYPE_CHECKING:
    from smartlic.agent.shell.session import Session

__all__ = ["register"]

CONFIG = "config"

_TRANSPORTS = (
    ("automatic", "Use CSLU when a CSLU URL is set, else smart (policy mode)"),
    ("callhome", "Use Call Home for communication"),
    ("cslu", "Use the Cisco Smart Licensing Utility (policy mode)"),
    ("off", "Disable communication with the authority"),
    ("smart", "Use the smart transport (HTTPS to the authority)"),
)


def _port_ok(text: str) -> bool:
    n = decimal(text)
    return n is not None and 1 <= n <= 65535


def smart_enable(on: bool, session: Session, args: Mapping[str, str]) -> Reply:
    session.device.set_enabled(on)
    return None


def boot_level(level: str, session: Session, args: Mapping[str, str]) -> Reply:
    session.device.set_boot_level(level)
    if session.device.traditional_mode:  # strictly enforced at the next reload
        return Notice(
            ("% use 'write' command to make license boot config take effect on next boot",)
        )
    return None


def feature(name: str, on: bool, session: Session, args: Mapping[str, str]) -> Reply:
    session.device.set_feature(name, on)
    return None


def transport(kind: str | None, session: Session, args: Mapping[str, str]) -> Reply:
    session.device.set_transport(kind)
    return None


def url(session: Session, args: Mapping[str, str]) -> Reply:
    session.device.set_url(args.get("url"))
    return None


def proxy_address(session: Session, args: Mapping[str, str]) -> Reply:
    session.device.set_proxy(address=args["address"])
    return None


def proxy_port(session: Session, args: Mapping[str, str]) -> Reply:
    session.device.set_proxy(port=int(args["port"]))
    return None


def no_proxy(what: str, session: Session, args: Mapping[str, str]) -> Reply:
    session.device.clear_proxy("address" if what == "address" else "port")
    return None


def hostname(session: Session, args: Mapping[str, str]) -> Reply:
    session.device.set_hostname(args["name"])
    return None


def end(session: Session, args: Mapping[str, str]) -> Reply:
    session.mode = "exec"
    return None


def do(session: Session, args: Mapping[str, str]) -> Reply:
    """``do <exec command>``; registered for ``?`` - ``Session.run`` runs the exec command."""
    return Notice(tuple(session.run("exec", args["command"]).text.splitlines()))


def no_boot_level(level: str, session: Session, args: Mapping[str, str]) -> Reply:
    """``no license boot level X`` removes the boot level only when it is X."""
    if session.device.config.boot_level == level:
        session.device.set_boot_level(None)
    return None


def _describe(registry: Registry[Session]) -> None:
    for prefix in ("", "no "):
        registry.describe(CONFIG, f"{prefix}license", "Configure license features")
        registry.describe(CONFIG, f"{prefix}license boot", "license boot configuration")
        registry.describe(CONFIG, f"{prefix}license boot level", "Configure the boot level")
        registry.describe(CONFIG, f"{prefix}license feature", "Configure a feature license")
        registry.describe(CONFIG, f"{prefix}license smart", "Smart licensing configuration")
        registry.describe(CONFIG, f"{prefix}license smart transport", "Configure the transport")
        registry.describe(CONFIG, f"{prefix}license smart proxy", "Configure a proxy")
    registry.describe(CONFIG, "no", "Negate a command or set its defaults")


def _register_levels(registry: Registry[Session], profile: ProductProfile) -> None:
    for level in sorted(profile.boot_levels):
        text, path = f"Boot level {level}", f"license boot level {level}"
        registry.command(CONFIG, path, partial(boot_level, level), help=text)
        registry.command(CONFIG, f"no {path}", partial(no_boot_level, level), help=text)
    for name in sorted(set(profile.features) - {CPF_FEATURE}):  # cpf: gateway.py
        text, path = f"Feature {name} license", f"license feature {name}"
        registry.command(CONFIG, path, partial(feature, name, True), help=text)
        registry.command(CONFIG, f"no {path}", partial(feature, name, False), help=text)


def _register_smart(registry: Registry[Session]) -> None:
    text = "Enable Smart Licensing"
    registry.command(CONFIG, "license smart enable", partial(smart_enable, True), help=text)
    registry.command(CONFIG, "no license smart enable", partial(smart_enable, False), help=text)
    for kind, text in _TRANSPORTS:
        handler = partial(transport, kind)
        registry.command(CONFIG, f"license smart transport {kind}", handler, help=text)
    text = "Configure the transport"
    registry.command(CONFIG, "no license smart transport", partial(transport, None), help=text)
    _register_url_and_proxy(registry)


def _register_url_and_proxy(registry: Registry[Session]) -> None:
    text, link = "Configure the authority URL", Arg("WORD", "URL")
    registry.command(CONFIG, "license smart url {url}", url, help=text, args={"url": link})
    registry.command(CONFIG, "no license smart url", url, help=text)
    for what, handler, arg in (
        ("address", proxy_address, Arg("WORD", "A host name or IP address")),
        ("port", proxy_port, Arg("<1-65535>", "Proxy port number", check=_port_ok)),
    ):
        text = f"Proxy {what}"
        path = f"license smart proxy {what} {{{what}}}"
        registry.command(CONFIG, path, handler, help=text, args={what: arg})
        registry.command(
            CONFIG, f"no license smart proxy {what}", partial(no_proxy, what), help=text
        )


def register(registry: Registry[Session], profile: ProductProfile | None = None) -> None:
    _describe(registry)
    _register_levels(registry, profile or DEFAULT_PROFILE)
    _register_smart(registry)
    name = Arg("WORD", "This system's network name")
    text = "Set system's network name"
    registry.command(CONFIG, "hostname {name}", hostname, help=text, args={"name": name})
    registry.command(CONFIG, "end", end, help="Exit from configure mode")
    registry.command(CONFIG, "exit", end, help="Exit from configure mode")
    command = Arg("LINE", "Exec Command", rest_of_line=True)
    text = "To run exec commands in config mode"
    registry.command(CONFIG, "do {command}", do, help=text, args={"command": command})
