"""Where the authority may send requests of its own (webhooks): the one check against
server-side request forgery.

A webhook URL names a host the authority will POST to; left unchecked, an account admin could
aim it at the authority's own network (``http://127.0.0.1:5432``, a cloud metadata service at
``169.254.169.254``, an intranet ``10.x`` host). ``EgressPolicy`` refuses every destination that
resolves to an address that is not public: loopback, private, link-local, multicast, reserved,
unspecified or otherwise not globally routable, IPv4 and IPv6 alike (IPv4-mapped, 6to4 and
NAT64 addresses are judged by the IPv4 address they carry). A host name is refused when *any*
of its addresses is.

The check runs twice: when an endpoint is created (a clear 422 ``destination-refused``) and at
every delivery, where the name is resolved again and the request is sent to the very address
that was checked (``Destination.pinned_url``; the ``Host`` header and TLS server name stay the
URL's), so DNS that changes between the check and the connection (rebinding) gains nothing.
Redirects are never followed.

An operator may allow internal destinations explicitly with
``SMARTLIC_AUTHORITY_WEBHOOK_ALLOW``: comma-separated host names (exact, case-insensitive) and
addresses or networks (``127.0.0.1``, ``10.20.0.0/16``, ``fd00::/8``).

Usage::

    egress = EgressPolicy.parse("hooks.intranet, 10.20.0.0/16")
    dest = egress.check("https://hooks.acme.example/x")   # InvalidInput when refused
    client.send(client.build_request("POST", dest.pinned_url, headers=dest.headers(),
                                     extensions=dest.extensions()))
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from urllib.parse import urlsplit, urlunsplit

from smartlic.errors import InvalidInput

__all__ = ["ALLOW_SETTING", "Destination", "EgressPolicy", "refusal_reason"]

ALLOW_SETTING = "SMARTLIC_AUTHORITY_WEBHOOK_ALLOW"
Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network
Resolver = Callable[[str, int], list[str]]
_NAT64 = IPv6Network("64:ff9b::/96")
_KINDS = (
    ("is_loopback", "a loopback"),
    ("is_link_local", "a link-local"),
    ("is_multicast", "a multicast"),
    ("is_unspecified", "an unspecified"),
    ("is_reserved", "a reserved"),
    ("is_private", "a private"),
)


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (an IP literal is its own address)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))


def refusal_reason(addr: Address) -> str | None:
    """Why ``addr`` is internal ("a loopback address"), or ``None`` for a public address."""
    embedded = _embedded_v4(addr)
    if embedded is not None:
        return refusal_reason(embedded)
    for attr, kind in _KINDS:
        if getattr(addr, attr):
            return f"{kind} address"
    return None if addr.is_global else "a non-public address"


def _embedded_v4(addr: Address) -> IPv4Address | None:
    if not isinstance(addr, IPv6Address):
        return None
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr.sixtofour is not None:
        return addr.sixtofour
    if addr.teredo is not None:
        return addr.teredo[1]
    if addr in _NAT64:
        return IPv4Address(int(addr) & 0xFFFFFFFF)
    return None


@dataclass(frozen=True)
class Destination:
    """A checked URL and the address it is sent to."""

    url: str
    host: str
    port: int
    address: str

    @property
    def pinned_url(self) -> str:
        parts = urlsplit(self.url)
        netloc = f"[{self.address}]" if ":" in self.address else self.address
        return urlunsplit(parts._replace(netloc=f"{netloc}:{self.port}"))

    def headers(self) -> dict[str, str]:
        netloc = urlsplit(self.url).netloc.rsplit("@", 1)[-1]
        return {"Host": netloc}

    def extensions(self) -> dict[str, str]:
        """The TLS server name (and certificate name checked) stays the URL's host."""
        return {"sni_hostname": self.host} if urlsplit(self.url).scheme == "https" else {}


@dataclass(frozen=True)
class EgressPolicy:
    allowed_hosts: frozenset[str] = frozenset()
    allowed_networks: tuple[Network, ...] = ()
    resolver: Resolver = field(default=resolve, compare=False)

    @classmethod
    def parse(cls, text: str | None) -> EgressPolicy:
        hosts: set[str] = set()
        nets: list[Network] = []
        for item in (text or "").replace(",", " ").split():
            try:
                nets.append(ipaddress.ip_network(item.strip("[]"), strict=False))
            except ValueError:
                hosts.add(item.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(nets))

    def check(self, url: str) -> Destination:
        """The destination of ``url`` when every address it resolves to may be reached;
        ``InvalidInput`` (code ``destination-refused``) otherwise."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
            raise InvalidInput("a webhook URL is http(s)://host[:port]/path", pointer="/url")
        host = parts.hostname.rstrip(".")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            addresses = self.resolver(host, port)
        except (OSError, ValueError, UnicodeError) as exc:
            raise _refused(url, f"its host does not resolve ({exc})") from None
        if not addresses:
            raise _refused(url, "its host has no address")
        for a in addresses:
            self._check_address(url, host, a)
        return Destination(url, host, port, addresses[0])

    def _check_address(self, url: str, host: str, text: str) -> None:
        addr = ipaddress.ip_address(text)
        if host.lower() in self.allowed_hosts or any(addr in n for n in self.allowed_networks):
            return
        reason = refusal_reason(addr)
        if reason is not None:
            raise _refused(url, f"{addr} is {reason}")


def _refused(url: str, why: str) -> InvalidInput:
    return InvalidInput(
        f"webhook URL {url[:200]!r} refused: {why}; the authority does not send to internal "
        f"addresses unless the operator allows them ({ALLOW_SETTING})",
        pointer="/url",
        code="destination-refused",
    )
