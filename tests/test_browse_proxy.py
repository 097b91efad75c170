"""The browser's guarding proxy, spoken to as Chromium speaks to it (SOCKS5), without a browser.

Name resolution is stubbed and the proxy's outgoing connections are replaced by a recorder that
refuses everything but the loopback test server: private, link-local and metadata addresses are
only ever refused, never contacted.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Iterator

import pytest

from memento.servers.browse import proxy as proxy_module
from memento.servers.browse.proxy import GuardProxy
from memento.servers.common.errors import FetchFailed
from memento.servers.common.netguard import pinned_policy
from memento.servers.common.urls import UrlPolicy

pytestmark = pytest.mark.anyio
_open = asyncio.open_connection  # the test's own connections, made before the fixture replaces it for the proxy

NAMES = {
    "sneaky.example": ["127.0.0.1"],
    "internal.example": ["10.1.2.3"],
    "cloud.example": ["169.254.169.254"],
    "linklocal.example": ["fe80::1"],
    "split.example": ["93.184.215.14", "192.168.0.7"],
    "public.example": ["93.184.215.14"],
}


def resolve(host: str, port: int) -> list[str]:
    if host not in NAMES:
        raise FetchFailed(f"Could not resolve host {host!r} (stubbed).")
    return NAMES[host]


@pytest.fixture
def attempts(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every address the proxy tries to connect to; only 127.0.0.1 is really connected."""
    tried: list[str] = []

    async def recorder(host, port, **kwargs):
        tried.append(host)
        if host != "127.0.0.1":
            raise OSError(f"the test forbids connecting to {host}")
        return await _open(host, port, **kwargs)

    monkeypatch.setattr(proxy_module.asyncio, "open_connection", recorder)
    yield tried


async def socks_connect(
    proxy: GuardProxy, host: str, port: int, command: int = 1
) -> tuple[int, asyncio.StreamReader, asyncio.StreamWriter]:
    """Greet the proxy, ask for host:port, and return the reply code with the open stream."""
    address = proxy.server.removeprefix("socks5://")
    reader, writer = await _open(*address.split(":"))
    writer.write(b"\x05\x01\x00")
    assert await reader.readexactly(2) == b"\x05\x00"
    name = host.encode()
    writer.write(bytes([5, command, 0, 3, len(name)]) + name + struct.pack(">H", port))
    reply = await reader.readexactly(10)
    return reply[1], reader, writer


async def closed(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


async def guard_proxy(**policy) -> tuple[GuardProxy, list[tuple[str, str]]]:
    refused: list[tuple[str, str]] = []
    policy.setdefault("resolver", resolve)
    proxy = GuardProxy(pinned_policy(UrlPolicy(**policy)), lambda target, reason: refused.append((target, reason)), 2.0)
    return await proxy.start(), refused


@pytest.mark.parametrize(
    "host",
    [
        "10.0.0.1",
        "169.254.169.254",
        "sneaky.example",
        "internal.example",
        "cloud.example",
        "linklocal.example",
        "split.example",
        "metadata.google.internal",
    ],
)
async def test_a_connection_to_a_private_loopback_or_metadata_address_is_refused_unattempted(host: str, attempts: list[str]) -> None:
    proxy, refused = await guard_proxy()
    try:
        code, _, writer = await socks_connect(proxy, host, 80)
        await closed(writer)
    finally:
        await proxy.close()
    assert code == 2  # "connection not allowed by ruleset"
    assert attempts == [] and refused and refused[0][0] == f"{host}:80"


async def test_an_allowed_connection_goes_to_the_vetted_address_only(attempts: list[str]) -> None:
    answers = iter([["93.184.215.14"], ["127.0.0.1"]])  # a second answer would rebind to loopback

    def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    proxy, refused = await guard_proxy(resolver=rebinding)
    try:
        code, _, writer = await socks_connect(proxy, "rebind.example", 443)
        await closed(writer)
    finally:
        await proxy.close()
    assert code == 5 and attempts == ["93.184.215.14"] and not refused  # tried the checked address; the stub refused it


async def test_bytes_pass_both_ways_through_an_allowed_tunnel(attempts: list[str]) -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write((await reader.readexactly(5)).upper())
        await writer.drain()
        await closed(writer)

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    proxy, _ = await guard_proxy(allow_hosts=frozenset({"127.0.0.1"}))
    try:
        code, reader, writer = await socks_connect(proxy, "127.0.0.1", port)
        writer.write(b"hello")
        assert code == 0 and await asyncio.wait_for(reader.readexactly(5), 5) == b"HELLO"
        await closed(writer)
    finally:
        await proxy.close()
        server.close()
        await server.wait_closed()
    assert proxy.connections == 1


@pytest.mark.parametrize("command", [2, 3])  # BIND, UDP ASSOCIATE
async def test_only_connect_is_served(command: int, attempts: list[str]) -> None:
    proxy, _ = await guard_proxy(allow_hosts=frozenset({"127.0.0.1"}))
    try:
        code, _, writer = await socks_connect(proxy, "127.0.0.1", 9, command)
        await closed(writer)
    finally:
        await proxy.close()
    assert code == 7 and attempts == []


async def test_closing_the_proxy_cuts_its_open_tunnels_and_stops_listening(attempts: list[str]) -> None:
    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # keeps the tunnel open until the proxy cuts it
        await closed(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    proxy, _ = await guard_proxy(allow_hosts=frozenset({"127.0.0.1"}))
    address = proxy.server.removeprefix("socks5://").split(":")
    try:
        code, reader, writer = await socks_connect(proxy, "127.0.0.1", server.sockets[0].getsockname()[1])
        assert code == 0
        await asyncio.wait_for(proxy.close(), 10)
        assert await asyncio.wait_for(reader.read(), 5) == b""  # the tunnel was closed
        await closed(writer)
        with pytest.raises(OSError), socket.create_connection((address[0], int(address[1])), timeout=2):
            pass
    finally:
        server.close()
        await server.wait_closed()
