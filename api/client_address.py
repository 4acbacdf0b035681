"""The client's address for login limits: the peer, or, when the peer is a trusted
proxy (``TRUSTED_PROXIES``, e.g. compose's nginx), the address that proxy says it
forwarded for. Anyone else's ``X-Forwarded-For`` is ignored: a client could otherwise
name a fresh address for every guess."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import TYPE_CHECKING

from events.errors import ConfigurationError

if TYPE_CHECKING:  # the settings read parse_networks: workers need not load FastAPI
    from fastapi import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> list[Network]:
    """``"127.0.0.1, 172.30.80.0/24"``: addresses or CIDR blocks, comma-separated."""
    out = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            out.append(ipaddress.ip_network(part, strict=False))
        except ValueError as e:
            raise ConfigurationError(f"TRUSTED_PROXIES: {part!r} is not an address") from e
    return out


def _trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def forwarded_client(peer: str, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """Walk ``X-Forwarded-For`` from the right past trusted proxies; the first address
    that is not one is the client (each proxy appends the address it saw)."""
    if not forwarded_for or not _trusted(peer, trusted):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop
    return hops[0] if hops else peer


def limit_key(address: str) -> str:
    """Whom a login limit counts: an IPv4 address, or an IPv6 address's /64 (one
    household or server gets a whole /64, so each of its addresses is no new client)."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def client_address(request: Request) -> str:
    peer = request.client.host if request.client else "unknown"
    trusted: Sequence[Network] = request.app.state.config.trusted_proxies
    return forwarded_client(peer, request.headers.get("x-forwarded-for"), trusted)
