"""`memento servers check`: start each configured server through the official MCP client and probe it.

For every entry: spawn it (stdio) or connect (HTTP), time the handshake, list
its tools, and call the harmless tool the server declares as its probe (the
`memento/probe` entry of a listed tool's `_meta`, set with
`memento.servers.common.tooling.Probe`), so a server in its own package is
checked like a bundled one. A failure in one server is recorded and the others
are still checked. It knows no server by name.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

from .hosts import ConfigError, ServerEntry, stdio_parameters

__all__ = ["PROBE_META", "CheckResult", "check_server", "declared_probe"]

# The tool `_meta` key a server declares its probe under (the servers' `Probe`; the agent imports no server code).
PROBE_META = "memento/probe"


@dataclass
class CheckResult:
    name: str
    ok: bool = False
    startup_s: float | None = None
    tools: list[str] = field(default_factory=list)
    probe: str = "-"
    probe_s: float | None = None
    error: str = ""


async def check_server(entry: ServerEntry, environ: Mapping[str, str], timeout_s: float = 60.0, cwd: Path | None = None) -> CheckResult:
    """`environ`: what the server inherits (`hosts.server_environment(settings)`)."""
    result = CheckResult(entry.name)
    try:
        target: Any = entry.url if entry.url else stdio_parameters(entry, environ, cwd=cwd, quiet=True)
    except ConfigError as exc:
        result.error = str(exc)
        return result
    try:
        with anyio.fail_after(timeout_s):
            started = time.perf_counter()
            async with Client(target, mode="legacy") as client:
                tools = await client.list_tools()
                result.startup_s = time.perf_counter() - started
                result.tools = [t.name for t in tools.tools]
                probe = declared_probe(tools.tools)
                if probe is not None:
                    tool, arguments, expected = probe
                    began = time.perf_counter()
                    reply = await client.call_tool(tool, arguments)
                    result.probe_s = time.perf_counter() - began
                    text = " ".join(getattr(c, "text", "") for c in reply.content)
                    if reply.is_error or expected not in text:
                        result.probe = f"{tool}: failed"
                        result.error = text[:300] or "empty reply"
                        return result
                    result.probe = f"{tool}: ok"
        result.ok = True
    except TimeoutError:
        result.error = f"no answer within {timeout_s:g} s"
    except Exception as exc:  # any failure to start or talk is this server's failure, not the command's
        result.error = _describe(exc)
    return result


def declared_probe(tools: Sequence[Any]) -> tuple[str, dict[str, Any], str] | None:
    """(tool, arguments, text the reply must contain) of the first listed tool declaring a probe, else None.

    A malformed declaration counts as none: the server is still checked by its start-up and tool list.
    """
    for listed in tools:
        meta = getattr(listed, "meta", None)
        entry = meta.get(PROBE_META) if isinstance(meta, dict) else None
        if isinstance(entry, dict) and isinstance(entry.get("arguments"), dict) and isinstance(entry.get("expect"), str):
            return listed.name, entry["arguments"], entry["expect"]
    return None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_describe(e) for e in exc.exceptions)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
