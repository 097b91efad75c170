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
FLOOR = "sdk-only"  # a one-tool server on the SDK alone, no Memento code: what any server here starts from
PACKAGES = ("agent", "convert", "core", "memory", "servers")
GOAL_S = 0.6

# Starts a server module as `python -m` would, after putting a checkout's `memento` shim first on the path.
_LAUNCH = "import sys, runpy; {path}runpy.run_module('memento.servers.{name}', run_name='__main__', alter_sys=True)"
_FLOOR = """
from mcp.server.mcpserver import MCPServer
server = MCPServer("sdk-only")
@server.tool()
def echo(text: str) -> str:
    \"\"\"Echo the text.\"\"\"
    return text
server.run("stdio")
"""


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
        code = _FLOOR if name == FLOOR else _LAUNCH.format(path=path, name=name)
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


def heaviest_imports(name: str, home: Path, top: int = 8) -> tuple[int, int, list[tuple[int, str]]]:
    """What server `name` imports up to its tools/list reply (-X importtime, microseconds): the SDK's imports
    (mcp, mcp_types and all they pull in), Memento's own modules (self time), and the heaviest other
    imports made outside the SDK (cumulative), each counted where Memento's code or the script asked for it."""
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
    sdk = ours = 0
    others: list[tuple[int, str]] = []
    stack: list[str] = []
    # importtime prints a module after what it imported: read backwards, each parent comes before its children.
    for line in reversed(err.splitlines()):
        parts = line.split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        depth = (len(parts[2]) - len(parts[2].lstrip()) - 1) // 2
        module = parts[2].strip()
        del stack[depth:]
        stack.append(module)
        self_us, cumulative_us = int(parts[0].split(":")[1]), int(parts[1])
        if any(m.split(".")[0] in ("mcp", "mcp_types") for m in stack):
            sdk += cumulative_us if len(stack) == 1 or stack[-2].split(".")[0] not in ("mcp", "mcp_types") else 0
        elif module.startswith("memento"):
            ours += self_us
        elif len(stack) == 1 or stack[-2].startswith("memento"):
            others.append((cumulative_us, module))
    return sdk, ours, sorted(others, reverse=True)[:top]


def measure(trees: list[Tree], servers: list[str], runs: int, home: Path) -> tuple[dict[str, int], dict[str, list[float]]]:
    """Tool counts, and the floor's times taken in each server's own rounds (so 'over floor' compares like loads)."""
    counts: dict[str, int] = {}
    floors: dict[str, list[float]] = {}
    floor = Tree("floor")
    for name in servers:
        versions = trees[-1:] if name == FLOOR else trees  # the floor has no Memento code: one version
        for tree in versions:  # first starts: a checkout never started before compiles here
            tree.first[name], counts[name] = anyio.run(one_cold_start, tree.params(name, home))
            tree.times[name] = []
        floors[name] = []
        for _ in range(runs):
            for tree in versions:  # interleaved, so all versions see the same load
                elapsed, _ = anyio.run(one_cold_start, tree.params(name, home))
                tree.times[name].append(elapsed)
            if name != FLOOR:
                floors[name].append(anyio.run(one_cold_start, floor.params(FLOOR, home))[0])
    return counts, floors


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def report(trees: list[Tree], servers: list[str], counts: dict[str, int], floors: dict[str, list[float]], runs: int) -> None:
    print(f"spawn -> tools/list answered, stdio, official client; {runs} fresh processes per server and version")
    print("'over floor': this p50 minus the p50 of the sdk-only server timed in the same rounds (what Memento adds)")
    print(
        f"{'server':<10} {'version':<8} {'tools':>5} {'first start':>12} {'min':>10} {'p50':>10} {'max':>10} "
        f"{'over floor':>11}  goal p50 < {GOAL_S * 1000:.0f} ms"
    )
    for name in servers:
        floor = percentile(floors[name], 50) if floors.get(name) else None
        for tree in trees:
            if name not in tree.times:
                continue
            times = tree.times[name]
            p50 = percentile(times, 50)
            verdict = "MET" if p50 < GOAL_S else "NOT MET"
            over = "" if floor is None or name == FLOOR else f"{(p50 - floor) * 1000:+.0f} ms"
            print(
                f"{name:<10} {tree.label:<8} {counts[name]:>5} {ms(tree.first[name]):>12} {ms(min(times)):>10} "
                f"{ms(p50):>10} {ms(max(times)):>10} {over:>11}  {verdict}"
            )
        if floor is not None:
            print(f"{'':<10} {'floor':<8} {'':>5} {'':>12} {ms(min(floors[name])):>10} {ms(floor):>10} {ms(max(floors[name])):>10}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed cold starts per server and version (default 7)")
    parser.add_argument("--servers", default=",".join((FLOOR, *SERVERS)), help="comma-separated servers (default: the floor and all six)")
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
        counts, floors = measure(trees, servers, args.runs, home)
        print(f"after:  {load()}")
        print()
        report(trees, servers, counts, floors, args.runs)
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
                sdk, ours, others = heaviest_imports(name, home)
                print(f"{name}: imports before tools/list (-X importtime, one start; importtime slows them)")
                print(f"  {sdk / 1000:8.1f} ms  the MCP SDK and all it pulls in")
                print(f"  {ours / 1000:8.1f} ms  Memento's own modules (self time)")
                for micros, module in others:
                    print(f"  {micros / 1000:8.1f} ms  {module}")


if __name__ == "__main__":
    main()
