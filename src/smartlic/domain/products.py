"""Product profiles: what a device model is, and which licenses its configuration consumes.

Profiles are data: one TOML file per platform in ``smartlic/domain/profiles/`` (package data),
read once by ``load_profiles``; the file's stem is the profile's name (``--profile c9300``).
The format is documented in docs/profiles.md. The default profile (``asr903``) reproduces the
first reference document's example device; ``ixm`` is the second document's gateway.

Entitlement tags follow ISO 19770-2 as Cisco uses it:
``regid.<YYYY-MM>.<reverse-domain>.<name>,<version>_<uuid>``; the uuid is derived from the name
so every authority and device agrees on it.
"""

from __future__ import annotations

import re
import tomllib
import uuid
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from smartlic.domain.enums import Enforcement
from smartlic.errors import InvalidInput

__all__ = [
    "ALL_LICENSES",
    "DEFAULT_PROFILE",
    "GATEWAY_PROFILE",
    "PROFILES",
    "LicenseSpec",
    "ProductProfile",
    "load_profile",
    "load_profiles",
    "make_tag",
    "valid_tag",
]

_NAMESPACE = uuid.UUID("6f1c2a52-4f0b-4d1e-9a51-5b1e0c6b7a10")
_TAG = re.compile(
    r"^regid\.\d{4}-\d{2}\.[a-z0-9-]+(\.[a-z0-9-]+)+\.[A-Za-z0-9_.+-]+,[0-9A-Za-z._-]+_[0-9a-f-]{36}$"
)


def make_tag(
    name: str, *, version: str = "1.0", date: str = "2026-01", domain: str = "org.smartlic"
) -> str:
    """A stable ISO 19770-2 style entitlement tag for ``name``."""
    uid = uuid.uuid5(_NAMESPACE, f"{domain}.{name},{version}")
    return f"regid.{date}.{domain}.{name},{version}_{uid}"


def valid_tag(tag: str) -> bool:
    return bool(_TAG.match(tag))


@dataclass(frozen=True)
class LicenseSpec:
    """One license a product can consume."""

    name: str  # short name shown in parentheses, e.g. "metroipaccess"
    display_name: str  # e.g. "Device METRO IP ACCESS"
    tag: str
    version: str = "1.0"
    enforcement: Enforcement = Enforcement.UNENFORCED
    description: str = ""
    subscription: bool = False  # "License type: Subscription" (else Perpetual)

    @property
    def text(self) -> str:
        return self.description or self.display_name


@dataclass(frozen=True)
class ProductProfile:
    """A device model: its PID, software, and what each configuration line consumes.

    ``software_version`` (``17.12.3``) selects the version-dependent lines of the shell's
    outputs (``release``); ``stack_members`` are the PIDs of a stack's standby and members.
    """

    name: str
    pid: str
    product_name: str
    software_tag: str
    licenses: tuple[LicenseSpec, ...]
    # config keyword -> [(license short name, count)]
    boot_levels: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    features: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    software_version: str = "17.9.4a"
    agent_version: str = "5.1.26_rel/120"
    stack_members: tuple[str, ...] = ()
    licensing_mode: str | None = None  # classic|policy|traditional; None: the default (policy)

    @property
    def release(self) -> tuple[int, int]:
        """``(17, 12)`` for ``17.12.3``: what the version-dependent output checks."""
        major, minor = re.findall(r"\d+", self.software_version)[:2]
        return int(major), int(minor)

    def license(self, name: str) -> LicenseSpec:
        for spec in self.licenses:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def by_tag(self, tag: str) -> LicenseSpec | None:
        return next((s for s in self.licenses if s.tag == tag), None)


def _license(data: dict[str, Any]) -> LicenseSpec:
    version = str(data.get("version", "1.0"))
    return LicenseSpec(
        name=data["name"],
        display_name=data["display_name"],
        tag=data.get("tag") or make_tag(data["name"], version=version),
        version=version,
        enforcement=Enforcement(data.get("enforcement", Enforcement.UNENFORCED)),
        subscription=bool(data.get("subscription", False)),
    )


def _consumes(table: dict[str, Any]) -> dict[str, list[tuple[str, int]]]:
    return {key: [(str(n), int(c)) for n, c in pairs] for key, pairs in table.items()}


def load_profile(name: str, text: str) -> ProductProfile:
    """One profile from its TOML text (format: docs/profiles.md); ``InvalidInput`` when a
    field is missing or a configuration line names a license the profile lacks."""
    try:
        data = tomllib.loads(text)
        licenses = tuple(_license(entry) for entry in data["license"])
        profile = ProductProfile(
            name=name,
            pid=data["pid"],
            product_name=data["product_name"],
            software_tag=make_tag(data["software_tag_name"], version="v1"),
            licenses=licenses,
            boot_levels=_consumes(data.get("boot_levels", {})),
            features=_consumes(data.get("features", {})),
            software_version=data["software_version"],
            agent_version=data["agent_version"],
            stack_members=tuple(data.get("stack_members", ())),
            licensing_mode=data.get("licensing_mode"),
        )
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"profile {name}: {exc}") from exc
    known = {spec.name for spec in licenses}
    for pairs in (*profile.boot_levels.values(), *profile.features.values()):
        if unknown := {n for n, _ in pairs} - known:
            raise InvalidInput(f"profile {name}: no license {sorted(unknown)[0]!r}")
    return profile


def load_profiles() -> dict[str, ProductProfile]:
    """Every ``profiles/*.toml`` shipped with smartlic, by name (the file's stem)."""
    folder = resources.files("smartlic.domain") / "profiles"
    found = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            name = entry.name.removesuffix(".toml")
            found[name] = load_profile(name, entry.read_text(encoding="utf-8"))
    return found


PROFILES: dict[str, ProductProfile] = load_profiles()
DEFAULT_PROFILE = PROFILES["asr903"]
GATEWAY_PROFILE = PROFILES["ixm"]

# Every license of every profile, once (what a demo authority sells).
ALL_LICENSES: tuple[LicenseSpec, ...] = tuple(
    {spec.tag: spec for p in PROFILES.values() for spec in p.licenses}.values()
)
