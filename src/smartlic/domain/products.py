"""Product profiles: what a device model is, and which licenses its configuration consumes.

The default profile reproduces the first reference document's example device (an ASR 903
class router, "Device" in its outputs): ``license boot level metroipaccess`` consumes
"Device METRO IP ACCESS", ``license feature ptp`` "Device 1588", and ``license feature port``
the 6-1GE and 2-10G port upgrade licenses, two of each - the counts shown in the document's
``show license usage`` example.

Entitlement tags follow ISO 19770-2 as Cisco uses it:
``regid.<YYYY-MM>.<reverse-domain>.<name>,<version>_<uuid>``; the uuid is derived from the name
so every authority and device agrees on it.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

from smartlic.domain.enums import Enforcement

__all__ = [
    "ALL_LICENSES",
    "DEFAULT_PROFILE",
    "GATEWAY_PROFILE",
    "PROFILES",
    "LicenseSpec",
    "ProductProfile",
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


def _spec(
    name: str,
    display: str,
    enforcement: Enforcement = Enforcement.UNENFORCED,
    *,
    version: str = "1.0",
    subscription: bool = False,
) -> LicenseSpec:
    return LicenseSpec(
        name=name,
        display_name=display,
        tag=make_tag(name, version=version),
        version=version,
        enforcement=enforcement,
        subscription=subscription,
    )


@dataclass(frozen=True)
class ProductProfile:
    """A device model: its PID, software tag, and what each configuration line consumes."""

    pid: str
    product_name: str
    software_tag: str
    licenses: tuple[LicenseSpec, ...]
    # config keyword -> [(license short name, count)]
    boot_levels: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    features: dict[str, list[tuple[str, int]]] = field(default_factory=dict)

    def license(self, name: str) -> LicenseSpec:
        for spec in self.licenses:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def by_tag(self, tag: str) -> LicenseSpec | None:
        return next((s for s in self.licenses if s.tag == tag), None)


DEFAULT_PROFILE = ProductProfile(
    pid="ASR-903",
    product_name="Device",
    software_tag=make_tag("asr903", version="v1"),
    licenses=(
        _spec("advancedmetroipaccess", "Device ADVANCED METRO IP ACCESS"),
        _spec("metroipaccess", "Device METRO IP ACCESS"),
        _spec("metroaccess", "Device METRO ACCESS"),
        _spec("1588", "Device 1588"),
        _spec("atm", "Device ATM"),
        _spec("upoe", "Device UPOE"),
        _spec("gnss", "Device GNSS"),
        _spec("ipsec", "Device IPSEC", Enforcement.EXPORT_CONTROLLED),
        _spec("1GEupgradelicense", "Device 6-1GE PORT LICENSE"),
        _spec("10GEupgradelicense", "Device 2-10G PORT LICENSE"),
        _spec("mrp", "Device MRP CLIENT", Enforcement.ENFORCED),
    ),
    boot_levels={
        "advancedmetroipaccess": [("advancedmetroipaccess", 1)],
        "metroipaccess": [("metroipaccess", 1)],
        "metroaccess": [("metroaccess", 1)],
    },
    features={
        "atm": [("atm", 1)],
        "gnss": [("gnss", 1)],
        "ipsec": [("ipsec", 1)],
        "port": [("1GEupgradelicense", 2), ("10GEupgradelicense", 2)],
        "ptp": [("1588", 1)],
        "upoe": [("upoe", 1)],
    },
)

# The second reference document's device: a LoRaWAN gateway whose Common Packet Forwarder
# (``cpf enable`` under ``common-packet-forwarder profile``) consumes LORAWAN_CPF.
GATEWAY_PROFILE = ProductProfile(
    pid="IXM-LPWA-900-16-K9",
    product_name="Gateway",
    software_tag=make_tag("ixm", version="v1"),
    licenses=(_spec("LORAWAN_CPF", "LORAWAN_CPF", version="v01", subscription=True),),
    features={"cpf": [("LORAWAN_CPF", 1)]},
)

PROFILES: dict[str, ProductProfile] = {"asr903": DEFAULT_PROFILE, "ixm": GATEWAY_PROFILE}

# Every license of every profile, once (what a demo authority sells).
ALL_LICENSES: tuple[LicenseSpec, ...] = tuple(
    {spec.tag: spec for p in PROFILES.values() for spec in p.licenses}.values()
)
