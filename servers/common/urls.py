"""URL safety: which URLs a server may fetch, decided before any connection is made.

Only http(s) is allowed. By default every address the host name resolves to
must be public: loopback, private, link-local, shared (CGNAT), multicast,
reserved and cloud-metadata addresses are refused, including IPv4 hidden in
IPv6 forms. Callers check again after every redirect. A policy may allow
private addresses, or a list of hosts that skip the address check. The resolver
is injectable, so the decision is testable without any traffic.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .errors import AccessDenied, FetchFailed, InvalidInput

__all__ = ["UrlPolicy", "check_url", "system_resolver"]

Resolver = Callable[[str, int], Iterable[str]]

# Well-known metadata endpoints of cloud providers; refused even when private
# addresses are allowed, because they hand out credentials.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254", "192.0.0.192")
)
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data", "instance-data.ec2.internal"})


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchFailed(f"Could not resolve host {host!r} ({exc.strerror}). Check the URL's spelling.") from exc
    return [str(info[4][0]) for info in infos]  # an IP address string for the inet families asked for


@dataclass(frozen=True)
class UrlPolicy:
    allow_private: bool = False
    allow_hosts: frozenset[str] = field(default_factory=frozenset)
    resolver: Resolver = system_resolver


def check_url(url: str, policy: UrlPolicy = UrlPolicy()) -> str:
    """Return the URL if it may be fetched; raise `InvalidInput` or `AccessDenied` if not."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(f"Malformed URL {url!r}: {exc}.") from exc
    if parts.scheme not in ("http", "https"):
        shown = parts.scheme or "none"
        raise InvalidInput(f"Unsupported URL scheme {shown!r} in {url!r}: only http and https can be fetched.")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise InvalidInput(f"Malformed URL {url!r}: it has no host name.")
    if host in policy.allow_hosts:
        return url
    if host in METADATA_HOSTS:
        raise AccessDenied(f"Refused {url!r}: {host} is a cloud metadata service.")
    port = port or (443 if parts.scheme == "https" else 80)
    literal = _as_ip(host)
    addresses = [literal] if literal is not None else [_as_ip(a) for a in policy.resolver(host, port)]
    for address in addresses:
        if address is None:
            continue
        reason = blocked_reason(address, allow_private=policy.allow_private)
        if reason:
            raise AccessDenied(
                f"Refused {url!r}: {host} resolves to {address}, {reason}. "
                "Private and local addresses are blocked by default (MEMENTO_ALLOW_PRIVATE_URLS=true "
                "or MEMENTO_ALLOWED_HOSTS lifts this for trusted networks)."
            )
    return url


def blocked_reason(address: ipaddress.IPv4Address | ipaddress.IPv6Address, *, allow_private: bool) -> str | None:
    """Why this address may not be contacted, or None when it may."""
    address = _unwrap(address)
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if allow_private:
        return None
    checks = (
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address"),
        ("is_private", "a private address"),
        ("is_multicast", "a multicast address"),
        ("is_unspecified", "an unspecified address"),
        ("is_reserved", "a reserved address"),
    )
    for attribute, reason in checks:
        if getattr(address, attribute):
            return reason
    if isinstance(address, ipaddress.IPv4Address) and address in ipaddress.ip_network("100.64.0.0/10"):
        return "a shared (carrier-grade NAT) address"
    if not address.is_global:
        return "not a public address"
    return None


def _unwrap(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The IPv4 address inside IPv4-mapped, 6to4 or NAT64 forms, so they cannot smuggle one."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address in ipaddress.ip_network("64:ff9b::/96"):
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def _as_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    # Shorthand and numeric IPv4 forms (127.1, 2130706433, 0x7f.1) that resolvers accept.
    try:
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except (OSError, ValueError):
        return None
