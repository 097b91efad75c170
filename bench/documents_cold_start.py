"""Cold start of the documents server: from spawning the process to `tools/list` answered,
through the official MCP client over stdio, with a fresh process each time.
For context, also times a bare `python -c "import mcp.server.mcpserver"` (the SDK's own import)."""

from __future__ import annotations

import subprocess
import sys
import time

import anyio
from _common import doc_dir, ms, percentile, print_header, server_params
from mcp import Client

RUNS = 10
IMPORT_RUNS = 5
GOAL_MS = 1000


async def one_cold_start(params) -> tuple[float, int]:
    """Seconds from spawn to the tools/list reply, and the number of tools listed."""
    start = time.perf_counter()
    async with Client(params, mode="legacy") as client:  # spawns the server and initializes
        tools = await client.list_tools()
        elapsed = time.perf_counter() - start
    return elapsed, len(tools.tools)  # leaving the block ends the process the client started


_IMPORT = "import time; t = time.perf_counter(); import mcp.server.mcpserver; print(time.perf_counter() - t)"


def bare_import_seconds() -> tuple[float, float]:
    """Whole `python -c` process (start, import, exit) and the import alone, timed inside it."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _IMPORT], check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - start, float(out)


def main() -> None:
    print_header("documents server: cold start (spawn -> tools/list answered, stdio)")
    with doc_dir() as folder:
        params = server_params(folder)
        anyio.run(one_cold_start, params)  # untimed: warms the OS file cache and .pyc files
        times = []
        for _ in range(RUNS):
            elapsed, n_tools = anyio.run(one_cold_start, params)
            times.append(elapsed)
    imports = [bare_import_seconds() for _ in range(IMPORT_RUNS)]
    p50 = percentile(times, 50)
    print(f"cold start, {RUNS} fresh processes ({n_tools} tools listed):")
    print(f"  min {ms(min(times))}   p50 {ms(p50)}   max {ms(max(times))}")
    print(f"  goal: p50 < {GOAL_MS} ms -> {'MET' if p50 * 1000 < GOAL_MS else 'NOT MET'}")
    whole, inside = zip(*imports)
    print(f"context: bare `python -c 'import mcp.server.mcpserver'`, p50 of {IMPORT_RUNS}:")
    print(f"  whole process {ms(percentile(list(whole), 50))}   the import alone {ms(percentile(list(inside), 50))}")


if __name__ == "__main__":
    main()
