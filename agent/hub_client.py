"""The MCP client side of the hub: open a session with one server, list its tools, call one, describe a failure.

Imported when the hub launches its servers, not with the hub: the SDK's client (about 0.5 s of imports on two
cores) stays off the path to a run's first model request. It keeps no state; hub.py owns the servers' lives.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import IO, Any, TextIO, cast

import anyio
import mcp_types as types
from mcp import Client
from mcp.client import Transport
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.shared.message import SessionMessage
from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT

from memento.core.streams import ReadStream, ReadStreamWrapper, WriteStream

from .hosts import Launch

__all__ = ["CONNECTION_CLOSED", "REQUEST_TIMEOUT", "MCPError", "call_tool", "describe", "dumped", "list_tools", "session"]

TransportStreams = tuple[ReadStream[SessionMessage | Exception], WriteStream[SessionMessage]]  # what a Transport yields
_LIST_PAGES = 100


def session(target: Launch | str, stderr: IO[str] | None, lost: anyio.Event) -> Client:
    """A client of the server at `target` (a launch, or a streamable-HTTP URL); `lost` is set when its stream ends."""
    if isinstance(target, str):
        transport = _watched(streamable_http_client(target), lost)
    else:
        transport = _watched(stdio_client(target.parameters(), errlog=cast(TextIO, stderr or sys.stderr)), lost)
    return Client(transport, mode="legacy")


async def list_tools(client: Client) -> list[types.Tool]:
    tools: list[types.Tool] = []
    cursor: str | None = None
    for _ in range(_LIST_PAGES):  # a server whose cursor never ends cannot hang the start
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if cursor is None:
            break
    return tools


def dumped(tools: list[types.Tool]) -> list[dict[str, Any]]:
    """A listing as the cache keeps it: the MCP `Tool` shape, by alias."""
    return [tool.model_dump(mode="json", by_alias=True, exclude_none=True) for tool in tools]


async def call_tool(client: Client, tool: str, arguments: dict[str, Any], timeout_s: float, meta: dict[str, Any] | None) -> Any:
    """The server's `CallToolResult`; `MCPError` (timeout, connection closed, refusal) passes through."""
    return await client.call_tool(
        tool, arguments, read_timeout_seconds=timeout_s, meta=cast(types.RequestParamsMeta, meta) if meta else None
    )


def describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(describe(e) for e in exc.exceptions)
    if isinstance(exc, MCPError) and exc.code == CONNECTION_CLOSED:
        return "the server closed the connection (it exited or crashed)"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class _WatchedReadStream(ReadStreamWrapper):
    """A transport's read stream that reports its end: how a server's death is noticed even between calls."""

    def __init__(self, inner: ReadStream[SessionMessage | Exception], lost: anyio.Event) -> None:
        super().__init__(inner)
        self._lost = lost

    async def receive(self) -> SessionMessage | Exception:
        try:
            return await self._inner.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._lost.set()
            raise


@asynccontextmanager
async def _watched(inner: Transport, lost: anyio.Event) -> AsyncIterator[TransportStreams]:
    async with inner as (read, write):
        yield _WatchedReadStream(read, lost), write
