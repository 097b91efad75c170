"""Abandoned streamable HTTP sessions and the server's memory: N clients each open a session on one
documents server, list its tools and leave without ending it (no DELETE), one after another.

Three servers are compared in the same run: with the session limits effectively off (the SDK's
30-minute idle timeout and a cap no client reaches, which is how the servers ran before the
limits were settings), with this project's defaults (10-minute idle timeout, at most 100
sessions), and with a 1-second idle timeout. Printed: sessions opened and refused, and the
server's resident memory before and after.

    python bench/documents_http_sessions.py [N]      (N defaults to 1500)
"""

from __future__ import annotations

import sys
import time

import anyio
import psutil
from _common import print_header
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.mcp_servers import http_server

CONFIGS = {
    "limits off (1800 s, 1,000,000)": {"MEMENTO_HTTP_SESSION_IDLE_TIMEOUT_S": "1800", "MEMENTO_HTTP_MAX_SESSIONS": "1000000"},
    "defaults (600 s, 100)": {},
    "short idle (1 s, 100)": {"MEMENTO_HTTP_SESSION_IDLE_TIMEOUT_S": "1"},
}


async def abandon(url: str) -> bool:
    """One abandoned session; False when the server refused to open it."""
    try:
        async with Client(streamable_http_client(url, terminate_on_close=False), mode="legacy") as client:
            await client.list_tools()
    except Exception:
        return False
    return True


def server_process() -> psutil.Process:
    return next(p for p in psutil.Process().children() if "memento.servers.documents" in " ".join(p.cmdline()))


async def run(env: dict[str, str], n: int) -> tuple[int, int, float, float, float]:
    with http_server("documents", env={"MEMENTO_LOG_LEVEL": "ERROR", **env}) as url:
        server = server_process()
        for _ in range(5):
            await abandon(url)  # warm up: imports and caches of the first requests
        await anyio.sleep(2)
        before = server.memory_info().rss
        opened = refused = 0
        start = time.perf_counter()
        for _ in range(n):
            if await abandon(url):
                opened += 1
            else:
                refused += 1
        elapsed = time.perf_counter() - start
        await anyio.sleep(2)
        after = server.memory_info().rss
    return opened, refused, before / 1024**2, after / 1024**2, elapsed


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1500
    print_header(f"documents server: {n} abandoned streamable HTTP sessions")
    for label, env in CONFIGS.items():
        opened, refused, before, after, elapsed = anyio.run(run, env, n)
        print(
            f"{label:32} opened {opened:5}  refused {refused:5}  RSS {before:6.1f} -> {after:6.1f} MiB "
            f"(+{after - before:5.1f})  {elapsed:5.1f} s"
        )


if __name__ == "__main__":
    main()
