"""The one entry point every server shares: parse flags, read settings, serve.

    python -m memento.servers.NAME [--transport stdio|http] [--host 127.0.0.1] [--port N]

stdio is the default (what MCP hosts launch); `http` serves streamable HTTP at
`http://HOST:PORT/mcp`, bound to loopback unless told otherwise, with idle
sessions closed and the number of open sessions capped (settings). A bad
setting stops the server before it starts, with the variable named on stderr.

On stdio a line that is not JSON gets a JSON-RPC parse error (-32700) and JSON
that is not a JSON-RPC message an invalid-request error (-32600): the SDK
drops both silently, which leaves a client waiting for its timeout.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import anyio
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp_types import INVALID_REQUEST, PARSE_ERROR, CallToolResult, ErrorData, JSONRPCError, RequestId, TextContent
from pydantic import ValidationError

from memento.core.streams import ReadStream, ReadStreamWrapper, WriteStream

from .errors import MAX_MESSAGE, shown
from .logs import configure_logging
from .settings import CommonSettings, SettingsError
from .warmup import ListedWhenSent, after_listing

__all__ = ["serve"]

S = TypeVar("S", bound=CommonSettings)
log = logging.getLogger("memento.servers")

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def serve(
    name: str,
    settings_type: type[S],
    build: Callable[[S], MCPServer],
    argv: Sequence[str] | None = None,
    description: str = "",
) -> int:
    """Run server `name` built by `build(settings)`; return the process exit code."""
    parser = argparse.ArgumentParser(
        prog=f"memento-{name}",
        description=description or f"Memento {name} MCP server.",
        epilog="Settings come from MEMENTO_* environment variables; `memento config` lists them.",
    )
    parser.add_argument(
        "--transport",
        choices=("stdio", "http"),
        default="stdio",
        help="stdio (default; what MCP hosts launch) or http (streamable HTTP at /mcp)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind with --transport http (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to bind with --transport http (default 8000)")
    args = parser.parse_args(argv)

    try:
        settings = settings_type.from_env()
    except SettingsError as exc:
        print(f"memento-{name}: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    try:
        with _sdk_logging_left_alone():
            server = build(settings)
    except SettingsError as exc:
        print(f"memento-{name}: configuration error: {exc}", file=sys.stderr)
        return 2
    server.middleware.append(bound_tool_errors)

    if args.transport == "stdio":
        log.info("%s server on stdio", name)
        anyio.run(_serve_stdio, server)
        return 0
    if args.host not in _LOOPBACK:
        log.warning("binding %s to %s: anyone who can reach it can call its tools", name, args.host)
    log.info("%s server on http://%s:%d/mcp", name, args.host, args.port)
    server.middleware.append(after_listing)  # held-back warm-ups start once the tools are listed
    anyio.run(_serve_http, server, settings, args.host, args.port)
    return 0


@contextmanager
def _sdk_logging_left_alone() -> Iterator[None]:
    """Build the server without the SDK's logging set-up, which `configure_logging` has already done our way.

    MCPServer's constructor imports rich and builds a console handler that `logging.basicConfig` then
    drops (the root logger has ours): some 50 ms of a start that should take well under a second.
    """
    from mcp.server.mcpserver import server as sdk_server

    original = sdk_server.configure_logging
    sdk_server.configure_logging = _no_logging_setup
    try:
        yield
    finally:
        sdk_server.configure_logging = original


def _no_logging_setup(level: str = "INFO") -> None:
    del level  # the runner configured logging before the server was built


async def bound_tool_errors(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """Cut a tool error's text past `MAX_MESSAGE` characters, whoever wrote it.

    `tool_errors` bounds the servers' own messages; this also covers the SDK's,
    which quote the caller (an unknown tool's name comes back whole).
    """
    result = await call_next(ctx)
    if ctx.method != "tools/call":
        return result
    if isinstance(result, CallToolResult) and result.is_error:
        for block in result.content:
            if isinstance(block, TextContent) and len(block.text) > MAX_MESSAGE:
                block.text = shown(block.text, MAX_MESSAGE)
    elif isinstance(result, dict) and result.get("isError"):  # what the SDK's handlers return: the wire form
        for item in result.get("content") or ():
            if isinstance(item, dict) and isinstance(item.get("text"), str) and len(item["text"]) > MAX_MESSAGE:
                item["text"] = shown(item["text"], MAX_MESSAGE)
    return result


async def _serve_stdio(server: MCPServer) -> None:
    """`server.run("stdio")`, with malformed lines answered instead of dropped."""
    # The SDK's run_stdio_async is these lines without the answering stream; MCPServer offers no hook for it.
    lowlevel = server._lowlevel_server
    async with stdio_server() as (read_stream, write_stream):
        # Held-back warm-ups start once the first tools/list reply has left (see warmup.py).
        replies = ListedWhenSent(write_stream)
        reads = AnswerMalformed(read_stream, write_stream, seen=replies.expect)
        await lowlevel.run(reads, replies, lowlevel.create_initialization_options())


async def _serve_http(server: MCPServer, settings: CommonSettings, host: str, port: int) -> None:
    """`server.run("streamable-http")` with the session limits, and uvicorn logging through ours (stderr, our level)."""
    import uvicorn  # only the HTTP transport needs it

    app = server.streamable_http_app(
        host=host,
        # Abandoned sessions would otherwise pile up (each holds a task and its buffers) for the SDK's 30 minutes.
        session_idle_timeout=settings.http_session_idle_timeout_s,
        max_sessions=settings.http_max_sessions,
    )
    config = uvicorn.Config(app, host=host, port=port, log_config=None, log_level=settings.log_level.lower())
    await uvicorn.Server(config).serve()


class AnswerMalformed(ReadStreamWrapper):
    """A read stream over a transport's that answers what failed to parse and passes real messages on.

    The stdio transport hands each line it could not validate to the server as
    an exception, which the SDK only logs; here it becomes the JSON-RPC 2.0 error
    the spec asks for. Blank lines carry no message and get no answer. `seen`
    is shown each message passed on.
    """

    def __init__(
        self,
        inner: ReadStream[SessionMessage | Exception],
        replies: WriteStream[SessionMessage],
        seen: Callable[[object], None] | None = None,
    ) -> None:
        super().__init__(inner)
        self._replies = replies
        self._seen = seen

    async def receive(self) -> SessionMessage | Exception:
        while True:
            item = await self._inner.receive()
            if not isinstance(item, Exception):
                if self._seen is not None:
                    self._seen(item.message)
                return item
            error = _rejection(item)
            if error is None:
                continue
            try:
                await self._replies.send(SessionMessage(error))
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                return item  # the transport is going away; let the server see what it would have seen


def _rejection(exc: Exception) -> JSONRPCError | None:
    """The error answering a line the transport could not read, or None when nothing should be answered."""
    if not isinstance(exc, ValidationError):
        log.warning("the transport could not read a message: %r", exc)
        return None
    errors = exc.errors()
    if any(e["type"] == "json_invalid" for e in errors):
        line = errors[0].get("input")
        if isinstance(line, str) and not line.strip():
            return None
        return JSONRPCError(jsonrpc="2.0", id=None, error=ErrorData(code=PARSE_ERROR, message="Parse error: the line is not valid JSON."))
    message = "Invalid Request: the JSON is not a JSON-RPC 2.0 request, notification or response."
    return JSONRPCError(jsonrpc="2.0", id=_request_id(errors), error=ErrorData(code=INVALID_REQUEST, message=message))


def _request_id(errors: Sequence[Any]) -> RequestId | None:
    """The id of the rejected object when it has a usable one, so the client can match the error to its request."""
    for error in errors:
        found = error.get("input")
        if isinstance(found, dict):
            value = found.get("id")
            if isinstance(value, str | int) and not isinstance(value, bool):
                return value
            return None
    return None
