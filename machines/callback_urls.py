"""Which callback URLs the platform may call: the allow-list and the addresses never called.

Pure (no DNS): the machine validator checks action URLs with `url_problem`, and the HTTP
wrapper (runtime/http.py) checks every call with it, and every resolved address with
`address_problem`. Link-local, cloud metadata, unspecified and multicast addresses are refused
whatever the allow-list says, "*" included.
"""

import ipaddress
import re
import socket
from collections.abc import Collection
from urllib.parse import unquote

import httpx

_DEFAULT_PORTS = {"http": 80, "https": 443}
_METADATA_HOSTS = frozenset(
    "metadata metadata.google.internal metadata.goog instance-data instance-data.ec2.internal"
    " metadata.tencentyun.com".split()
)
_METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")  # connecting to 0.x.x.x reaches this host
_BROADCAST = ipaddress.ip_address("255.255.255.255")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_INET_ATON_FORM = re.compile(r"[0-9a-fx.]+")  # 2852039166, 0xa9.0xfe.0xa9.0xfe, 169.254.43518


def url_problem(url: str, allowed_hosts: Collection[str]) -> str | None:
    """Why this callback URL is refused (no DNS look-up), or None if it is acceptable."""
    if any(char.isspace() or ord(char) < 32 for char in url):
        return "URL contains spaces or control characters"
    try:
        parsed = httpx.URL(url)
        host = parsed.host.rstrip(".")  # IDNA-decoded, so it may raise too
    except (httpx.InvalidURL, UnicodeError) as exc:
        return f"URL is malformed ({exc})"
    if parsed.scheme not in _DEFAULT_PORTS:
        return "URL is not an absolute http:// or https:// URL"
    if not host:
        return "URL has no host"
    if parsed.userinfo:
        return "URL must not contain a user name or password"
    if parsed.port is not None and not 0 < parsed.port < 65536:
        return f"URL port {parsed.port} is out of range"
    problem = _host_problem(host)
    if problem:
        return problem
    port = parsed.port or _DEFAULT_PORTS[parsed.scheme]
    if not _allowed(host, port, allowed_hosts):
        return f"host {_netloc(host, port)} is not on the callback allow-list"
    return None


def _host_problem(host: str) -> str | None:
    """Why this host is refused whatever the allow-list says, or None."""
    if host in _METADATA_HOSTS:
        return f"host {host} is a cloud metadata service"
    ip = _literal_ip(host)
    return address_problem(ip) if ip else None


def _literal_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host written as an IP stands for, including inet_aton's odd forms."""
    try:
        return ipaddress.ip_address(unquote(host))
    except ValueError:
        pass
    if _INET_ATON_FORM.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            pass
    return None


def address_problem(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why calls to this address are refused whatever the allow-list says, or None."""
    if ip.version == 6:
        if ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        elif ip in _NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _METADATA_ADDRESSES:
        return f"{ip} is a cloud metadata address"
    if ip.is_link_local:
        return f"{ip} is a link-local address"
    if ip.is_unspecified or (ip.version == 4 and ip in _THIS_NETWORK):
        return f"{ip} is an unspecified address"
    if ip.is_multicast or ip == _BROADCAST:
        return f"{ip} is a multicast or broadcast address"
    return None


def _allowed(host: str, port: int, allowed_hosts: Collection[str]) -> bool:
    """Whether an allow-list entry ("*", "host", "host:port", ".domain") admits host:port."""
    if isinstance(allowed_hosts, str):
        allowed_hosts = [allowed_hosts]
    for entry in allowed_hosts:
        entry = entry.strip().lower()
        if entry == "*":
            return True
        name, entry_port = _split_entry(entry)
        if entry_port is not None and entry_port != port:
            continue
        if name.startswith("."):
            if host == name[1:] or host.endswith(name):
                return True
        elif host == name:
            return True
    return False


def _split_entry(entry: str) -> tuple[str, int | None]:
    """An allow-list entry as (host, port or None); IPv6 hosts may be written in brackets."""
    if entry.startswith("["):
        name, _, rest = entry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif entry.count(":") == 1:
        name, _, port = entry.partition(":")
    else:
        name, port = entry, ""
    if port and not port.isdigit():
        return "", None  # a malformed entry matches nothing
    return name.rstrip("."), int(port) if port else None


def _netloc(host: str, port: int) -> str:
    """host:port as written in a URL, the port left out when it is the scheme's default."""
    shown = f"[{host}]" if ":" in host else host
    return shown if port in _DEFAULT_PORTS.values() else f"{shown}:{port}"
