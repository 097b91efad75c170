"""The URL policy enforced where connections are made, so DNS cannot be turned against it.

`check_url` decides on a URL before a request; this module makes the
connection itself obey the same decision. `PinnedResolver` remembers each
host's answer for a short while, so the addresses checked are the addresses
connected to (a second, different DNS answer - rebinding - is never used).
`GuardedBackend` is an httpcore network backend that resolves through it,
refuses the connection when any answer is blocked, and connects to the vetted
address. It must not decide anything `urls.py` does not: it only applies it.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Iterable
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import anyio.to_thread
import httpcore

from .errors import AccessDenied, FetchFailed
from .urls import METADATA_HOSTS, UrlPolicy, blocked_reason, check_url

__all__ = ["GuardedBackend", "PinnedResolver", "check_url_async", "pinned_policy", "vetted_addresses"]


class PinnedResolver:
    """Caches (host, port) → addresses for `ttl_s`, so a check and its connection see one answer."""

    def __init__(self, resolve, ttl_s: float = 60.0, max_entries: int = 4096) -> None:
        self._resolve = resolve
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._answers: dict[tuple[str, int], tuple[float, list[str]]] = {}
        self._lock = threading.Lock()

    def knows(self, host: str, port: int) -> bool:
        """Whether an answer for (host, port) is held and fresh."""
        with self._lock:
            cached = self._answers.get((host.lower(), port))
        return cached is not None and time.monotonic() - cached[0] < self._ttl_s

    def __call__(self, host: str, port: int) -> list[str]:
        key = (host.lower(), port)
        now = time.monotonic()
        with self._lock:
            cached = self._answers.get(key)
            if cached and now - cached[0] < self._ttl_s:
                return cached[1]
        addresses = list(self._resolve(host, port))
        with self._lock:
            if len(self._answers) >= self._max_entries:
                self._answers.clear()
            self._answers[key] = (now, addresses)
        return addresses


def pinned_policy(policy: UrlPolicy, ttl_s: float = 60.0) -> UrlPolicy:
    """The same policy with its resolver wrapped in a `PinnedResolver`."""
    if isinstance(policy.resolver, PinnedResolver):
        return policy
    return replace(policy, resolver=PinnedResolver(policy.resolver, ttl_s))


async def check_url_async(url: str, policy: UrlPolicy) -> str:
    """`check_url`, on a worker thread when it may have to resolve a name (that blocks)."""
    if not _may_resolve(url, policy):
        return check_url(url, policy)
    return await anyio.to_thread.run_sync(check_url, url, policy)


def _may_resolve(url: str, policy: UrlPolicy) -> bool:
    """False when checking `url` needs no DNS: an IP literal, an allowed host, or a name resolved moments ago."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").rstrip(".").lower()
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return False  # malformed: check_url reports it without resolving
    if not host or parts.scheme not in ("http", "https") or host in policy.allow_hosts or _ip(host) is not None:
        return False
    resolver = policy.resolver
    return not (isinstance(resolver, PinnedResolver) and resolver.knows(host, port))


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


async def vetted_addresses(host: str, port: int, policy: UrlPolicy) -> list[str]:
    """The addresses a connection to (host, port) may use: every answer of the policy's resolver, each allowed.

    Raises `AccessDenied` when any answer is refused (one bad answer taints the name) and `FetchFailed`
    when there is none. Callers connect to these addresses only, never to a fresh DNS answer.
    """
    name = host.rstrip(".").lower().strip("[]")
    literal = _ip(name)
    if literal is not None:
        addresses = [str(literal)]
    else:
        if name in METADATA_HOSTS and name not in policy.allow_hosts:
            raise AccessDenied(f"Refused to connect to {host}: it is a cloud metadata service.")
        addresses = list(await anyio.to_thread.run_sync(policy.resolver, name, port))
    if not addresses:
        raise FetchFailed(f"Host {host!r} has no address. Check the URL's spelling.")
    if name in policy.allow_hosts:
        return addresses
    for text in addresses:
        address = _ip(text)
        reason = "not an IP address" if address is None else blocked_reason(address, allow_private=policy.allow_private)
        if reason:
            raise AccessDenied(
                f"Refused to connect to {host}: it resolves to {text}, {reason}. Private and local "
                "addresses are blocked (MEMENTO_ALLOW_PRIVATE_URLS or MEMENTO_ALLOWED_HOSTS lift this)."
            )
    return addresses


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Connect only to addresses the policy allows, resolving through the policy's resolver."""

    def __init__(self, policy: UrlPolicy, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.policy = policy
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await vetted_addresses(host, port, self.policy)
        last: Exception | None = None
        for text in addresses:  # connect to a vetted address, never to a fresh DNS answer
            try:
                return await self.inner.connect_tcp(text, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None):
        raise AccessDenied("Unix sockets are never used for web requests.")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)
