"""Cold start of every bundled tool server: from spawning the process to its `tools/list` reply, through
the official MCP client over stdio, a fresh process each time, one at a time. Also what each server imports
before it answers (`-X importtime`), and the MCP SDK's own import in a bare interpreter, for context.

    python bench/servers_cold_start.py [--runs 7] [--servers documents,code] [--tree old=DIR ...] [--imports]

`--tree LABEL=DIR` also times the code of another checkout (e.g. `git worktree add --detach /tmp/old REV`),
interleaved run by run with the installed code so all see the same load. A checkout's first start after the
clone compiles its `.pyc` files: that start is reported apart ("first start"), never mixed into the median.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import anyio
from _common import ms, percentile, print_header
from mcp import Client
from mcp.client.stdio import StdioServerParameters

SERVERS = ("documents", "casebank", "code", "search", "browse", "research")
PACKAGES = ("agent", "convert", "core", "memory", "servers")
GOAL_S = 0.6

# Starts a server module as `python -m` would, after putting a checkout's `memento` shim first on the path.
_LAUNCH = "import sys, runpy; {path}runpy.run_module('memento.servers.{name}', run_name='__main__', alter_sys=True)"


@dataclass
class Tree:
    """One version of the code: the installed one (shim None) or another checkout seen through a shim folder."""

    label: str
    shim: Path | None = None
    first: dict[str, float] = field(default_factory=dict)  # first start of each server: may compile .pyc files
    times: dict[str, list[float]] = field(default_factory=dict)

    def params(self, name: str, home: Path) -> StdioServerParameters:
        path = "" if self.shim is None else f"sys.path.insert(0, {str(self.shim)!r}); "
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "MEMENTO_HOME": str(home / "memento"),
            "MEMENTO_DOCUMENTS_ROOTS": str(home),
            "MEMENTO_LOG_LEVEL": "WARNING",
        }
        code = _LAUNCH.format(path=path, name=name)
        return StdioServerParameters(command=sys.executable, args=["-c", code], env=env, cwd=str(home))


def shim_for(checkout: Path, into: Path) -> Path:
    """A folder whose `memento/` links the checkout's package folders, as the editable install maps this one."""
    package = into / "memento"
    package.mkdir()
    for name in PACKAGES:
        (package / name).symlink_to(checkout.resolve() / name)
    return into


async def one_cold_start(params: StdioServerParameters) -> tuple[float, int]:
    """Seconds from spawn to the tools/list reply, and the number of tools listed."""
    start = time.perf_counter()
    async with Client(params, mode="legacy") as client:  # spawns the server and initializes
        tools = await client.list_tools()
        elapsed = time.perf_counter() - start
    return elapsed, len(tools.tools)  # leaving the block ends the process the client started


_SDK_IMPORT = "import time; t = time.perf_counter(); import mcp.server.mcpserver, mcp.server.stdio; print(time.perf_counter() - t)"


def sdk_import_seconds(runs: int) -> tuple[list[float], list[float], list[float]]:
    """Whole `python -c` processes (start, SDK import, exit), the import alone timed inside them, and `python -c pass`."""
    whole, inside = [], []
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", _SDK_IMPORT], check=True, capture_output=True, text=True).stdout
        whole.append(time.perf_counter() - start)
        inside.append(float(out))
    bare = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare.append(time.perf_counter() - start)
    return whole, inside, bare


def heaviest_imports(name: str, home: Path, top: int = 8) -> list[tuple[int, str]]:
    """The top-level imports of server `name` by cumulative microseconds, up to its tools/list reply."""
    params = Tree("now").params(name, home)
    messages = (
        '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18",'
        '"capabilities":{},"clientInfo":{"name":"bench","version":"0"}}}\n'
        '{"jsonrpc":"2.0","method":"notifications/initialized"}\n'
        '{"jsonrpc":"2.0","id":2,"method":"tools/list"}\n'
    )
    proc = subprocess.Popen(
        [sys.executable, "-X", "importtime", *params.args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=params.env,
        cwd=params.cwd,
        text=True,
    )
    assert proc.stdin and proc.stdout
    proc.stdin.write(messages)
    proc.stdin.flush()
    for line in proc.stdout:  # the second reply is the tools/list one
        if '"id":2' in line.replace(" ", ""):
            break
    proc.kill()  # at once: what warm-ups import after the reply is not part of the start
    err = proc.stderr.read() if proc.stderr else ""
    proc.wait(timeout=30)
    rows = []
    for line in err.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            module = parts[2]
            if len(module) - len(module.lstrip()) <= 1:  # top-level imports only: nested ones are inside them
                rows.append((int(parts[1]), module.strip()))
    return sorted(rows, reverse=True)[:top]


def measure(trees: list[Tree], servers: list[str], runs: int, home: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name in servers:
        for tree in trees:  # first starts: a checkout never started before compiles here
            tree.first[name], counts[name] = anyio.run(one_cold_start, tree.params(name, home))
            tree.times[name] = []
        for _ in range(runs):
            for tree in trees:  # interleaved, so both versions see the same load
                elapsed, _ = anyio.run(one_cold_start, tree.params(name, home))
                tree.times[name].append(elapsed)
    return counts


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def report(trees: list[Tree], servers: list[str], counts: dict[str, int], runs: int) -> None:
    print(f"spawn -> tools/list answered, stdio, official client; {runs} fresh processes per server and version")
    print(
        f"{'server':<10} {'version':<8} {'tools':>5} {'first start':>12} {'min':>10} {'p50':>10} {'max':>10}  goal p50 < {GOAL_S * 1000:.0f} ms"
    )
    for name in servers:
        for tree in trees:
            times = tree.times[name]
            p50 = percentile(times, 50)
            verdict = "MET" if p50 < GOAL_S else "NOT MET"
            print(
                f"{name:<10} {tree.label:<8} {counts[name]:>5} {ms(tree.first[name]):>12} {ms(min(times)):>10} "
                f"{ms(p50):>10} {ms(max(times)):>10}  {verdict}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed cold starts per server and version (default 7)")
    parser.add_argument("--servers", default=",".join(SERVERS), help="comma-separated servers (default: all six)")
    parser.add_argument("--tree", action="append", default=[], help="LABEL=DIR: another checkout to time beside this one")
    parser.add_argument("--imports", action="store_true", help="also list each server's heaviest imports (-X importtime)")
    args = parser.parse_args()
    servers = [s for s in args.servers.split(",") if s]

    print_header("tool servers: cold start (spawn -> tools/list answered, stdio)")
    print(f"before: {load()}")
    with tempfile.TemporaryDirectory(prefix="memento-bench-") as tmp:
        home = Path(tmp)
        trees = []
        for given in args.tree:
            label, _, folder = given.partition("=")
            trees.append(Tree(label, shim_for(Path(folder), Path(tempfile.mkdtemp(dir=home)))))
        trees.append(Tree("now"))
        counts = measure(trees, servers, args.runs, home)
        print(f"after:  {load()}")
        print()
        report(trees, servers, counts, args.runs)
        whole, inside, bare = sdk_import_seconds(5)
        print()
        print("context, p50 of 5 fresh interpreters:")
        print(f"  `python -c pass`                                          {ms(percentile(bare, 50))}")
        print(
            f"  `python -c 'import mcp.server.mcpserver, mcp.server.stdio'` {ms(percentile(whole, 50))} (the import alone {ms(percentile(inside, 50))})"
        )
        if args.imports:
            for name in servers:
                print()
                print(f"{name}: heaviest top-level imports before tools/list (cumulative, -X importtime, one start)")
                for micros, module in heaviest_imports(name, home):
                    print(f"  {micros / 1000:8.1f} ms  {module}")


if __name__ == "__main__":
    main()
