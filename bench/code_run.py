"""Code server speed, and the plain-subprocess design of the reference system measured in the same run,
both through the official MCP client over stdio:

- first `run_python("print(1)")` in a new session (starts its sandbox and interpreter), 10 sessions;
- warm `run_python("print(1)")` in an existing session, 100 calls, p50/p99;
- warm `numpy.arange(10).sum()`, 30 calls: our interpreter imported numpy once, a subprocess imports it every call.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import anyio
from _common import ROOT, ms, percentile, print_header
from mcp import Client
from mcp.client.stdio import StdioServerParameters

NEW_SESSIONS = 10
WARM_CALLS = 100
NUMPY_CALLS = 30
FIRST_GOAL_S = 1.5
WARM_GOAL_MS = 50.0
NUMPY = "import numpy\nprint(numpy.arange(10).sum())"


def _params(args: list[str], home: Path) -> StdioServerParameters:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "MEMENTO_HOME": str(home), "MEMENTO_LOG_LEVEL": "WARNING"}
    return StdioServerParameters(command=sys.executable, args=args, env=env, cwd=str(ROOT))


async def _call(client: Client, code: str, session: str | None = None) -> float:
    arguments = {"code": code} if session is None else {"code": code, "session": session}
    start = time.perf_counter()
    result = await client.call_tool("run_python", arguments)
    elapsed = time.perf_counter() - start
    text = result.content[0].text
    if result.is_error or not (text.strip().endswith("1") or text.strip().endswith("45")):
        raise RuntimeError(f"unexpected reply: {text[:300]}")
    return elapsed


async def measure(params: StdioServerParameters, sessions: bool) -> dict[str, list[float]]:
    async with Client(params, mode="legacy") as client:
        await _call(client, "print(1)", "warm-up" if sessions else None)  # untimed: file cache, .pyc files
        first = [await _call(client, "print(1)", f"new-{i}" if sessions else None) for i in range(NEW_SESSIONS)]
        session = "bench" if sessions else None
        await _call(client, "print(1)", session)
        warm = [await _call(client, "print(1)", session) for _ in range(WARM_CALLS)]
        await _call(client, NUMPY, session)
        numpy = [await _call(client, NUMPY, session) for _ in range(NUMPY_CALLS)]
    return {"first": first, "warm": warm, "numpy": numpy}


def _line(label: str, times: list[float]) -> str:
    return f"  {label:34} p50 {ms(percentile(times, 50)):>10}   p99 {ms(percentile(times, 99)):>10}   (min {ms(min(times))}, max {ms(max(times))})"


def main() -> None:
    print_header("code server: run_python over stdio, sandboxed interpreter per session vs a subprocess per call")
    with tempfile.TemporaryDirectory(prefix="memento-bench-") as tmp:
        ours = anyio.run(measure, _params(["-m", "memento.servers.code"], Path(tmp) / "ours"), True)
        plain = anyio.run(measure, _params([str(ROOT / "bench" / "code_subprocess_server.py")], Path(tmp) / "plain"), False)
    for name, result in (
        ("memento code server (bwrap sandbox, long-lived interpreter)", ours),
        ("reference design (plain subprocess per call, no sandbox)", plain),
    ):
        print(name)
        print(_line(f"first call in a new session (x{NEW_SESSIONS})", result["first"]))
        print(_line(f"warm print(1) (x{WARM_CALLS})", result["warm"]))
        print(_line(f"warm numpy call (x{NUMPY_CALLS})", result["numpy"]))
    first, warm = percentile(ours["first"], 50), percentile(ours["warm"], 50)
    print(
        f"goals: first call < {FIRST_GOAL_S:g} s -> {'MET' if first < FIRST_GOAL_S else 'NOT MET'}; "
        f"warm p50 < {WARM_GOAL_MS:g} ms -> {'MET' if warm * 1000 < WARM_GOAL_MS else 'NOT MET'}"
    )
    for key, label in (("warm", "warm print(1)"), ("numpy", "warm numpy call"), ("first", "first call")):
        print(f"ratio subprocess / ours, {label} p50: {percentile(plain[key], 50) / percentile(ours[key], 50):.1f}x")


if __name__ == "__main__":
    main()
