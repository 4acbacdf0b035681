"""Where a camera URL may point: not at link-local or cloud-metadata addresses (nor at
the configured deny list), so a camera or a connection test cannot be turned on the
machine's own neighbourhood (``169.254.169.254`` answers cloud credentials)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from api.client_address import Network

ALWAYS_REFUSED: tuple[Network, ...] = (
    ipaddress.ip_network("169.254.0.0/16"),  # link-local, cloud metadata (AWS, GCP, Azure)
    ipaddress.ip_network("fe80::/10"),  # IPv6 link-local
    ipaddress.ip_network("fd00:ec2::254/128"),  # AWS metadata over IPv6
    ipaddress.ip_network("100.100.100.200/32"),  # Alibaba Cloud metadata
)


def refusal(addresses: Iterable[str], deny: Sequence[Network]) -> str | None:
    """Why a host with these addresses may not be a camera, or None."""
    for address in addresses:
        try:
            ip = ipaddress.ip_address(address.split("%")[0])
        except ValueError:
            continue
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        for network in (*ALWAYS_REFUSED, *deny):
            if ip.version == network.version and ip in network:
                return f"cameras may not be at {ip} (in {network}, refused)"
    return None


def resolve(host: str) -> list[str]:
    """The host's addresses ([] when it does not resolve: ffprobe will say so)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return []
    return [str(info[4][0]) for info in infos]


def target_refusal(url: str, deny: Sequence[Network]) -> str | None:
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:  # "http://[/": urllib refuses a malformed IPv6 host
        return "not a valid URL"
    return refusal([host, *resolve(host)], deny)
