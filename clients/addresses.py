"""The address a request comes from: the socket's, or what a trusted proxy says it forwarded."""

import ipaddress
from functools import lru_cache

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_address(request) -> str:
    """The client's IP address: REMOTE_ADDR, or X-Forwarded-For behind TRUSTED_PROXIES."""
    remote = request.META.get("REMOTE_ADDR") or ""
    address = _parse(remote)
    if address is None:
        return remote  # a unix socket or a test double: nothing to resolve
    proxies = _networks(tuple(settings.TRUSTED_PROXIES))
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    # Walk back from the socket: each trusted proxy vouches for the hop before it. The first
    # untrusted hop is the client; anything further left it could have written itself.
    for hop in reversed([part.strip() for part in forwarded.split(",") if part.strip()]):
        if not _trusted(address, proxies):
            break
        previous = _parse(hop)
        if previous is None:
            break  # a garbled header: the last address a trusted proxy vouched for stands
        address = previous
    return str(address)


def _parse(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped  # one client, one spelling
    return address


def _trusted(address, proxies: tuple[Network, ...]) -> bool:
    return any(address.version == net.version and address in net for net in proxies)


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)
