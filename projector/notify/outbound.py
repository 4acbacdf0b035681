"""Requests Ronin makes to places its users name (webhooks, browsers' push services):
the host is resolved once, every address is checked, and the request connects to the
checked address, so a name that resolves elsewhere a moment later (DNS rebinding) is
never followed to the machine's own neighbourhood.

Link-local and cloud-metadata addresses are always refused, the configured deny list
too; where only public services make sense (push), every address that is not global
is refused unless the allow list names it. HTTPS keeps the host's name for SNI and the
certificate check, so pinning the address weakens nothing.

Every failure is an :class:`Answer` in words, never an exception: one receiver that
refuses, resets or hangs must not fell the worker that serves everyone else.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from dataclasses import dataclass, field

import httpx

from api.camera_targets import ALWAYS_REFUSED, resolve
from api.client_address import Network


@dataclass(frozen=True, slots=True)
class Answer:
    status_code: int | None
    reason: str

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True, slots=True)
class OutboundPolicy:
    deny: tuple[Network, ...] = ()
    public_only: bool = False
    """Refuse every address that is not global (private, loopback, reserved ...)."""
    allow: tuple[Network, ...] = ()
    """Addresses allowed though not global (a push service of one's own, tests')."""


class Refused(ValueError):
    """The target may not be connected to; the message says why."""


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def address_refusal(text: str, policy: OutboundPolicy) -> str | None:
    """Why one address may not be connected to, or None (pure)."""
    ip = _address(text)
    if ip is None:
        return f"{text} is not an address"
    for network in (*ALWAYS_REFUSED, *policy.deny):
        if ip.version == network.version and ip in network:
            return f"{ip} is refused (in {network})"
    allowed = any(ip.version == n.version and ip in n for n in policy.allow)
    if policy.public_only and not ip.is_global and not allowed:
        return f"{ip} is not a public address"
    return None


def pinned_address(host: str, policy: OutboundPolicy) -> str:
    """The address to connect to for ``host``: resolved once, every address checked
    (one bad address refuses the host: which one a client gets is not ours to choose)."""
    addresses = [host] if _address(host) is not None else resolve(host)
    if not addresses:
        raise Refused(f"{host} does not resolve")
    for address in addresses:
        refused = address_refusal(address, policy)
        if refused is not None:
            raise Refused(refused)
    return addresses[0].split("%")[0]


@dataclass
class DeadHosts:
    """Services (host and port) that could not be reached are not tried again for
    ``rest_s``: a thousand subscriptions at one dead service cost one timeout, not a
    thousand, and hold no sending thread from anyone else's pushes."""

    rest_s: float = 60.0
    _until: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def resting(self, host: str) -> bool:
        with self._lock:
            return self._until.get(host, 0.0) > time.monotonic()

    def failed(self, host: str) -> None:
        with self._lock:
            if len(self._until) > 10_000:
                self._until.clear()
            self._until[host] = time.monotonic() + self.rest_s


def service_of(url: str) -> str:
    """Which service a URL is at (host and port): what dead hosts and per-service limits
    count."""
    try:
        return httpx.URL(url).netloc.decode()
    except httpx.InvalidURL:
        return url


def post(
    url: str,
    content: bytes,
    headers: dict[str, str],
    timeout_s: float,
    policy: OutboundPolicy,
    dead: DeadHosts | None = None,
) -> Answer:
    """POST to the checked address of ``url``'s host; the answer or why there is none."""
    try:
        target = httpx.URL(url)
        host, service = target.host, target.netloc.decode()  # the host is IDNA-decoded here
    except (httpx.InvalidURL, ValueError):  # an invalid IDNA host name is a ValueError
        return Answer(None, "not a URL")
    if target.scheme not in ("http", "https") or not host:
        return Answer(None, "not an http(s) URL")
    if dead is not None and dead.resting(service):
        return Answer(None, f"{service} did not answer a moment ago; not tried again yet")
    try:
        address = pinned_address(host, policy)
    except Refused as e:
        return Answer(None, f"refused: {e}")
    pinned = target.copy_with(host=address)
    sent = {**headers, "Host": service}
    extensions = {"sni_hostname": host} if target.scheme == "https" else {}
    try:
        with httpx.Client(timeout=timeout_s, follow_redirects=False, trust_env=False) as client:
            response = client.post(pinned, content=content, headers=sent, extensions=extensions)
    except httpx.TimeoutException:
        _failed(dead, service)
        return Answer(None, f"no answer within {timeout_s:g} s")
    except (httpx.HTTPError, OSError, ValueError) as e:
        _failed(dead, service)
        return Answer(None, f"cannot reach {host}: {type(e).__name__}")
    return Answer(response.status_code, f"HTTP {response.status_code} {response.reason_phrase}")


def _failed(dead: DeadHosts | None, service: str) -> None:
    if dead is not None:
        dead.failed(service)
