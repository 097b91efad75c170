"""The one entry point every server shares: parse flags, read settings, serve.

    python -m memento.servers.NAME [--transport stdio|http] [--host 127.0.0.1] [--port N]

stdio is the default (what MCP hosts launch); `http` serves streamable HTTP at
`http://HOST:PORT/mcp`, bound to loopback unless told otherwise. A bad setting
stops the server before it starts, with the variable named on stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import TypeVar

from mcp.server.mcpserver import MCPServer

from .logs import configure_logging
from .settings import CommonSettings, SettingsError

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
        server = build(settings)
    except SettingsError as exc:
        print(f"memento-{name}: configuration error: {exc}", file=sys.stderr)
        return 2

    if args.transport == "stdio":
        log.info("%s server on stdio", name)
        server.run("stdio")
        return 0
    if args.host not in _LOOPBACK:
        log.warning("binding %s to %s: anyone who can reach it can call its tools", name, args.host)
    log.info("%s server on http://%s:%d/mcp", name, args.host, args.port)
    server.run("streamable-http", host=args.host, port=args.port)
    return 0
