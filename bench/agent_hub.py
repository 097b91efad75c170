"""The agent's tool hub: start-up of the bundled servers an episode starts from the project's mcp.json (all but
`research`, the agent itself), at once (three rounds, each server's own time from the hub's events; the same
servers one after another for comparison), then the round trip of a cheap tool call
(`document_info` on a tiny cached text file) through the hub against a bare `mcp.Client` on the same
documents server launch, measured in the same run."""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import Any

import anyio
from _common import ROOT, doc_dir, ms, percentile, print_header
from mcp import Client

from memento.agent.hosts import load_config, stdio_parameters
from memento.agent.hub import ToolHub

ROUNDS = 3
CALLS = 300
WARMUP = 20
GOAL_START_S = 2.0
SOURCE = "notes.txt"  # written by docgen.make_text
EXCLUDED = ("research",)  # as `open_episode` leaves it out: the agent never starts itself


def settings(folder: Path) -> dict[str, str]:
    """State in the bench folder, never ~/.memento; the documents server reads only that folder."""
    return {"MEMENTO_HOME": str(folder / "home"), "MEMENTO_DOCUMENTS_ROOTS": str(folder), "MEMENTO_LOG_LEVEL": "WARNING"}


async def start_up(folder: Path) -> tuple[list[float], float, dict[str, list[float]], dict[str, str]]:
    entries = [entry for entry in load_config(ROOT / "mcp.json") if entry.name not in EXCLUDED]
    totals: list[float] = []
    per_server: dict[str, list[float]] = {entry.name: [] for entry in entries}
    failed: dict[str, str] = {}

    def on_event(kind: str, data: dict[str, Any]) -> None:
        if kind == "server_started":
            per_server[data["server"]].append(data["seconds"])

    sequential = 0.0
    for entry in entries:  # the comparison: one after another, as `memento servers check` starts them
        began = time.perf_counter()
        async with ToolHub.start([entry], environ=os.environ, env=settings(folder), cwd=folder):
            sequential += time.perf_counter() - began
    per_server = {entry.name: [] for entry in entries}  # only the parallel rounds count below
    for _ in range(ROUNDS):
        began = time.perf_counter()
        async with ToolHub.start(entries, environ=os.environ, env=settings(folder), cwd=folder, on_event=on_event) as hub:
            totals.append(time.perf_counter() - began)
            failed.update(hub.failed)
    return totals, sequential, per_server, failed


async def round_trips(folder: Path) -> dict[str, list[float]]:
    """Both launches open side by side and called alternately, so drift on the machine hits both alike."""
    [documents] = [entry for entry in load_config(ROOT / "mcp.json") if entry.name == "documents"]
    arguments = {"source": SOURCE}
    params = stdio_parameters(documents, os.environ, cwd=folder, quiet=True)
    params = params.model_copy(update={"env": {**(params.env or {}), **settings(folder)}})
    times: dict[str, list[float]] = {"through the hub": [], "bare mcp.Client": []}
    async with (
        ToolHub.start([documents], environ=os.environ, env=settings(folder), cwd=folder) as hub,
        Client(params, mode="legacy") as client,
    ):
        for i in range(WARMUP + CALLS):
            began = time.perf_counter()
            outcome = await hub.call("documents__document_info", arguments)
            middle = time.perf_counter()
            result = await client.call_tool("document_info", arguments)
            ended = time.perf_counter()
            if outcome.is_error or result.is_error:
                raise RuntimeError(f"document_info failed: {outcome.text} / {result.content}")
            if i >= WARMUP:
                times["through the hub"].append(middle - began)
                times["bare mcp.Client"].append(ended - middle)
    return times


def main() -> None:
    print_header("agent tool hub: start-up of the servers an episode starts, and call round trip vs a bare client")
    with doc_dir("make_text") as folder:
        totals, sequential, per_server, failed = anyio.run(start_up, folder)
        trips = anyio.run(round_trips, folder)
    best = min(totals)
    verdict = "MET" if statistics.median(totals) < GOAL_START_S else "NOT MET"
    print(f"start-up, {len(per_server)} servers at once from mcp.json (all but {', '.join(EXCLUDED)}), {ROUNDS} rounds:")
    print(f"  all ready in   {', '.join(f'{t:.2f} s' for t in totals)}   (median {statistics.median(totals):.2f} s, best {best:.2f} s)")
    print(f"  goal median < {GOAL_START_S:g} s -> {verdict}")
    for name, seconds in per_server.items():
        shown = ", ".join(f"{s:.2f}" for s in seconds) or "never started"
        print(f"  {name:10} {shown} s")
    if failed:
        print(f"  failed: {failed}")
    print(f"  the same servers one after another (one hub each, same run): {sequential:.2f} s")
    print()
    print(f"round trip of documents/document_info on a tiny cached file, {CALLS} calls each, alternating, after {WARMUP} warm-up:")
    for label, times in trips.items():
        print(
            f"  {label:16} p50 {ms(percentile(times, 50))}   p95 {ms(percentile(times, 95))}   (min {ms(min(times))}, max {ms(max(times))})"
        )
    overhead = percentile(trips["through the hub"], 50) - percentile(trips["bare mcp.Client"], 50)
    print(f"  hub overhead at p50: {ms(overhead)}")


if __name__ == "__main__":
    main()
