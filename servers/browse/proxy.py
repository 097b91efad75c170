"""A SOCKS5 proxy on loopback through which Chromium makes every connection, so the URL policy sees each one.

Route interception only sees the first request of a page's own documents:
redirect hops, shared and service workers, WebSockets opened by workers,
prefetches and TURN-over-TCP all bypass it. Chromium is therefore started
with this proxy (loopback included, names resolved here and nowhere else),
and each connection it asks for is vetted with `vetted_addresses` and made
to the address just checked - which also closes the DNS-rebinding window.
It only applies the policy; it never decides anything `urls.py` does not.
Only CONNECT is served: no UDP relay (WebRTC is kept to proxied TCP by a
Chromium flag) and no BIND.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import struct
from collections.abc import Callable

from memento.servers.common.errors import AccessDenied, ServerError
from memento.servers.common.netguard import vetted_addresses
from memento.servers.common.urls import UrlPolicy

__all__ = ["GuardProxy"]

log = logging.getLogger("memento.browse")

_VERSION = 5
_NO_AUTH, _NO_METHOD = 0, 0xFF
_CONNECT = 1
_IPV4, _NAME, _IPV6 = 1, 3, 4
# Reply codes of RFC 1928.
_OK, _FAILURE, _NOT_ALLOWED, _UNREACHABLE, _REFUSED, _BAD_COMMAND, _BAD_ADDRESS = 0, 1, 2, 4, 5, 7, 8
_HANDSHAKE_S = 10.0  # a client that does not finish the SOCKS greeting in this time is dropped
_CHUNK = 64 * 1024

Refused = Callable[[str, str], None]  # (host:port, reason)


class GuardProxy:
    """One listening socket on 127.0.0.1; `server` is the address to give Chromium (socks5://127.0.0.1:PORT)."""

    def __init__(self, policy: UrlPolicy, on_refused: Refused, connect_timeout_s: float) -> None:
        self.policy = policy
        self.on_refused = on_refused
        self.connect_timeout_s = connect_timeout_s
        self.connections = 0  # tunnels opened to an allowed address
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()

    @property
    def server(self) -> str:
        assert self._server is not None, "the proxy is not started"
        port = self._server.sockets[0].getsockname()[1]
        return f"socks5://127.0.0.1:{port}"

    async def start(self) -> GuardProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def close(self) -> None:
        """Stop listening and cut every tunnel still open."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 5)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._tunnel(reader, writer)
        except asyncio.CancelledError:
            pass  # `close` cut the tunnel; ending quietly keeps asyncio from logging the task as failed
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            pass  # the browser hung up or stalled mid-greeting: nothing to report
        except Exception:
            log.exception("the browser's proxy failed on a connection")
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(writer.wait_closed(), _HANDSHAKE_S)

    async def _tunnel(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        target = await asyncio.wait_for(self._greet(reader, writer), _HANDSHAKE_S)
        if target is None:
            return
        host, port = target
        shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            addresses = await vetted_addresses(host, port, self.policy)
        except AccessDenied as exc:
            self.on_refused(shown, str(exc))
            log.info("browser connection refused: %s (%s)", shown, exc)
            return await _reply(writer, _NOT_ALLOWED)
        except ServerError:
            return await _reply(writer, _UNREACHABLE)
        upstream = await self._connect(addresses, port)
        if upstream is None:
            return await _reply(writer, _REFUSED)
        up_reader, up_writer = upstream
        self.connections += 1
        try:
            await _reply(writer, _OK)
            await _pipe_both(reader, writer, up_reader, up_writer)
        finally:
            up_writer.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(up_writer.wait_closed(), _HANDSHAKE_S)

    async def _greet(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> tuple[str, int] | None:
        """Read the method offer and the request; return the target, or None after refusing it."""
        version, count = await reader.readexactly(2)
        methods = await reader.readexactly(count)
        if version != _VERSION or _NO_AUTH not in methods:
            writer.write(bytes([_VERSION, _NO_METHOD]))
            await writer.drain()
            return None
        writer.write(bytes([_VERSION, _NO_AUTH]))
        await writer.drain()
        version, command, _, kind = await reader.readexactly(4)
        if kind == _IPV4:
            host = str(ipaddress.IPv4Address(await reader.readexactly(4)))
        elif kind == _IPV6:
            host = str(ipaddress.IPv6Address(await reader.readexactly(16)))
        elif kind == _NAME:
            (length,) = await reader.readexactly(1)
            host = (await reader.readexactly(length)).decode("ascii", "replace")
        else:
            await _reply(writer, _BAD_ADDRESS)
            return None
        (port,) = struct.unpack(">H", await reader.readexactly(2))
        if version != _VERSION or command != _CONNECT:  # BIND and UDP ASSOCIATE would open unguarded paths
            await _reply(writer, _BAD_COMMAND)
            return None
        return host, port

    async def _connect(self, addresses: list[str], port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        for address in addresses:  # only the vetted addresses, never a fresh DNS answer
            try:
                return await asyncio.wait_for(asyncio.open_connection(address, port), self.connect_timeout_s)
            except (OSError, TimeoutError):
                continue
        return None


async def _reply(writer: asyncio.StreamWriter, code: int) -> None:
    writer.write(bytes([_VERSION, code, 0, _IPV4, 0, 0, 0, 0, 0, 0]))
    await writer.drain()


async def _pipe_both(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, up_reader: asyncio.StreamReader, up_writer: asyncio.StreamWriter
) -> None:
    """Copy bytes both ways: the browser closing its side half-closes the upstream; the upstream closing ends both."""

    async def copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        while data := await source.read(_CHUNK):
            sink.write(data)
            await sink.drain()

    outgoing = asyncio.ensure_future(copy(reader, up_writer))
    incoming = asyncio.ensure_future(copy(up_reader, writer))
    try:
        done, _ = await asyncio.wait([outgoing, incoming], return_when=asyncio.FIRST_COMPLETED)
        if incoming not in done:
            with contextlib.suppress(OSError):
                if up_writer.can_write_eof():
                    up_writer.write_eof()
            await incoming  # the rest of the answer still reaches the browser
    finally:
        for direction in (outgoing, incoming):
            direction.cancel()
        await asyncio.gather(outgoing, incoming, return_exceptions=True)
