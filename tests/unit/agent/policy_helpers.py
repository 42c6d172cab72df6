"""Authority files for the agent's policy-mode unit tests, signed by real authority keys
(``FileSigner`` is what the authority itself uses; no database is involved)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from smartlic.agent import LicenseManager
from smartlic.authority.keys import AuthorityKeys
from smartlic.authority.services._files import FileSigner
from smartlic.clock import ManualClock
from smartlic.crypto import Udi
from smartlic.domain.policy import CISCO_DEFAULT, Policy
from smartlic.domain.products import DEFAULT_PROFILE, GATEWAY_PROFILE
from smartlic.formats.rum import key_id_of
from smartlic.formats.slp import write_file

UDI = Udi("IXM-LPWA-900-16-K9", "FOC242145DW")
CPF = GATEWAY_PROFILE.license("LORAWAN_CPF").tag  # subscription
ATM = DEFAULT_PROFILE.license("atm").tag  # perpetual
IPSEC = DEFAULT_PROFILE.license("ipsec").tag  # export-controlled
CATALOGUE = {s.tag: s for s in (*DEFAULT_PROFILE.licenses, *GATEWAY_PROFILE.licenses)}

Make = Callable[..., LicenseManager]


class Files:
    """Builds authority files for one device."""

    def __init__(self, keys: AuthorityKeys, clock: ManualClock, udi: Udi = UDI) -> None:
        self.signer, self.clock, self.udi = FileSigner(keys), clock, udi

    def section(self, name: str, payload: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        body = {"udi": {"pid": self.udi.pid, "sn": self.udi.sn}, **payload}
        return name, self.signer.section(body, self.clock.now())

    def ack(self, ids: list[int], policy: Policy | None = None) -> bytes:
        sections = [
            self.section(
                "smartLicenseRumAck",
                {
                    "type": "rum-ack",
                    "acknowledged": ids,
                    "rejected": [],
                    "smart_account": "Example Corp",
                    "virtual_account": "East",
                },
            ),
            self.section(
                "smartLicensePolicy",
                {"type": "policy", "policy": (policy or CISCO_DEFAULT).to_json()},
            ),
        ]
        return write_file(sections)

    def trust(self, manager: LicenseManager) -> bytes:
        key = manager._policy.core.trust_key().public_key()
        return write_file(
            [
                self.section(
                    "smartLicenseTrustCode",
                    {
                        "type": "trust-code",
                        "key_id": key_id_of(key),
                        "public_key": "",
                        "smart_account": "Example Corp",
                        "virtual_account": "East",
                        "expires_at": "2034-01-01T00:00:00Z",
                    },
                )
            ]
        )

    def code(self, tag: str, count: int, code_id: str) -> bytes:
        return write_file(
            [
                self.section(
                    "smartLicenseAuthorization",
                    {
                        "type": "authorization-code",
                        "code_id": code_id,
                        "entitlements": [{"tag": tag, "count": count}],
                        "confirmation_code": "1fc54c75",
                    },
                )
            ]
        )
