"""Start-up of `memento run`, cold: each run a fresh process of the real `memento` console script against the
local fake Anthropic API (tests/fake_llm.py) on loopback, which answers at once. Four series, each with a fresh
MEMENTO_HOME and N runs (median and spread): (1) command to its first model request with similarity memory over a
bank of 10,000 cases, (2) the same with --memory none, (3) a trivial question, command to exit, (4) `memento --help`.

`--old PATH` runs every series a second time with the tree at PATH (a `git worktree` of an older commit) first on
PYTHONPATH, so today's and the old path's figures come from the same run. "Cold" means a fresh interpreter; the page
cache is warm (each series runs once unmeasured first, which also writes the servers' tool-listing cache).
`--imports` adds the import profile (-X importtime, own time per package) to the first model request and of a whole run.
Usage: python bench/startup.py [--runs 5] [--old /tmp/memento-old] [--imports]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import ROOT, print_header

from tests.fake_llm import FakeAnthropic, ToolUse, answer

MEMENTO = Path(sys.executable).parent / "memento"
TASK = "What is 2+2?"
BANK_SIZE = 10_000
GOALS = {"first request, memory over 10,000 cases": 1.5, "first request, --memory none": 0.8, "trivial question, to exit": 2.5}
HELP_GOAL = 0.5


class Clock:
    """The fake API's responder: answers at once and notes when the first request of the current run arrived."""

    def __init__(self) -> None:
        self.first: float | None = None
        self._lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> Any:
        with self._lock:
            if self.first is None:
                self.first = time.perf_counter()
        return answer(ToolUse("submit_answer", {"answer": "4", "report": "2 + 2 = 4."}))


def build_bank(home: Path) -> None:
    """10,000 synthetic cases, embedded with the bank's own (light) embedder: 200 distinct tasks and noisy variants."""
    import numpy as np

    from memento.memory import Case, CaseBank, MemorySettings

    rng = np.random.default_rng(7)
    topics = ["melting point", "population", "boiling point", "GDP", "river length", "tallest building", "first flight", "atomic mass"]
    places = ["France", "Peru", "Japan", "Kenya", "Canada", "Norway", "Chile", "India", "Egypt", "Spain", "Laos", "Fiji", "Oman"]
    texts = [f"What is the {topic} of the largest city in {place}?" for topic in topics for place in places][:200]
    with CaseBank.open(MemorySettings(home=home, memory_online_steps=0)) as bank:
        base = bank.embedder.embed(texts)
        picks = np.arange(BANK_SIZE) % len(texts)
        vectors = base[picks] + rng.normal(0, 0.04, size=(BANK_SIZE, base.shape[1])).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        cases = [
            Case(f"{texts[i]} [variant {n}]", ["search", "read", "answer"], "x", float(rng.random() < 0.6), source="bench")
            for n, i in enumerate(picks)
        ]
        bank.put_cases(cases, batch=2000, embeddings=vectors)


def one_run(args: list[str], env: dict[str, str], clock: Clock) -> dict[str, float]:
    """Seconds from the command to its first model request, to its answer on stdout, and to its exit."""
    clock.first = None
    began = time.perf_counter()
    process = subprocess.Popen([str(MEMENTO), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    assert process.stdout is not None
    line = process.stdout.readline()
    printed = time.perf_counter()
    process.stdout.read()
    code = process.wait(300)
    ended = time.perf_counter()
    if code != 0 or not line:
        raise RuntimeError(f"memento {' '.join(args)} failed (exit status {code})")
    first = (clock.first - began) if clock.first is not None else float("nan")
    return {"first": first, "printed": printed - began, "exit": ended - began}


def series(label: str, runs: int, run: Callable[[], dict[str, float]]) -> dict[str, list[float]]:
    run()  # unmeasured: warms the page cache and writes the tool-listing cache of a fresh home
    found: dict[str, list[float]] = {"first": [], "printed": [], "exit": []}
    for _ in range(runs):
        for key, value in run().items():
            found[key].append(value)
    return found


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):6.2f} s (min {min(values):.2f}, max {max(values):.2f})"


def measure(
    tree: str, old: Path | None, runs: int, fake: FakeAnthropic, clock: Clock, bank_home: Path, work: Path
) -> dict[str, dict[str, list[float]]]:
    base = {
        **os.environ,
        "ANTHROPIC_API_KEY": "sk-ant-bench-not-a-real-key",
        "ANTHROPIC_BASE_URL": fake.url,
        "MEMENTO_MODEL_RETRIES": "1",
        "MEMENTO_MCP_CONFIG": str(ROOT / "mcp.json"),
    }
    if old is not None:
        shim = work / "oldpath"
        shim.mkdir(exist_ok=True)
        link = shim / "memento"
        if not link.exists():
            link.symlink_to(old)
        base["PYTHONPATH"] = os.pathsep.join([str(shim), base.get("PYTHONPATH", "")]).strip(os.pathsep)
    results: dict[str, dict[str, list[float]]] = {}

    def home(name: str, seed: Path | None = None) -> dict[str, str]:
        folder = work / f"{tree}-{name}"
        shutil.rmtree(folder, ignore_errors=True)
        if seed is not None:
            shutil.copytree(seed, folder)
        return {**base, "MEMENTO_HOME": str(folder)}

    env = home("bank", bank_home)
    results["first request, memory over 10,000 cases"] = series(tree, runs, lambda: one_run(["run", TASK, "-q"], env, clock))
    env_none = home("none")
    results["first request, --memory none"] = series(tree, runs, lambda: one_run(["run", TASK, "-q", "--memory", "none"], env_none, clock))
    env_plain = home("plain")
    results["trivial question, to exit"] = series(tree, runs, lambda: one_run(["run", TASK, "-q"], env_plain, clock))
    env_help = home("help")
    results["memento --help"] = series(tree, runs, lambda: one_run(["--help"], env_help, clock))
    return results


def report(tree: str, results: dict[str, dict[str, list[float]]]) -> None:
    print(f"-- {tree}")
    for label, found in results.items():
        key = "exit" if "exit" in label or "help" in label else "first"
        goal = GOALS.get(label, HELP_GOAL)
        extra = (
            f"   (answer printed {statistics.median(found['printed']):.2f} s, exit {statistics.median(found['exit']):.2f} s)"
            if key == "first"
            else ""
        )
        print(f"{label:42} {spread(found[key])}  goal < {goal:g} s{extra}")
    print()


def import_profile(fake: FakeAnthropic, clock: Clock, work: Path) -> None:
    """Runs over the 10,000-case bank under `-X importtime`: each package's own import time, summed, (1) up to the
    first model request (the process is killed as it arrives) and (2) for the whole run. Threads import at once, so
    the profile's nesting interleaves: sums per package only."""
    env = {
        **os.environ,
        "ANTHROPIC_API_KEY": "sk-ant-bench-not-a-real-key",
        "ANTHROPIC_BASE_URL": fake.url,
        "MEMENTO_MODEL_RETRIES": "0",
        "MEMENTO_MCP_CONFIG": str(ROOT / "mcp.json"),
        "MEMENTO_HOME": str(work / "new-bank"),
    }
    command = [sys.executable, "-X", "importtime", "-m", "memento.agent.cli", "run", TASK, "-q"]
    profiles = {}
    for label, stop_at_request in (("to the first model request", True), ("whole run", False)):
        with tempfile.TemporaryFile("w+") as errors:
            process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=errors, stdin=subprocess.DEVNULL)
            if stop_at_request:
                fake.responder = lambda body, process=process: process.kill() or answer(ToolUse("submit_answer", {"answer": "4"}))
            process.wait(300)
            fake.responder = clock
            errors.seek(0)
            profiles[label] = _own_times(errors.read())
    for label, totals in profiles.items():
        print(f"-- imports {label}, similarity memory over 10,000 cases (-X importtime, own time summed per package, ms)")
        for package, ms in sorted(totals.items(), key=lambda item: -item[1])[:12]:
            print(f"{package:32} {ms:8.0f}")
        print(f"{'(all)':32} {sum(totals.values()):8.0f}")
        heavy = [p for p in ("torch", "sentence_transformers", "anthropic", "chromadb", "mcp") if p in totals]
        print(f"of torch, sentence_transformers, anthropic, chromadb, mcp imported: {', '.join(heavy) or 'none'}\n")


def _own_times(profile: str) -> dict[str, float]:
    totals: dict[str, float] = {}
    for line in profile.splitlines():
        if not line.startswith("import time:") or line.count("|") != 2:
            continue
        own, _, name = line.removeprefix("import time:").split("|")
        if own.strip().isdigit():
            package = name.strip().split(".")[0]
            totals[package] = totals.get(package, 0.0) + int(own) / 1000
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--old", type=Path, help="a checkout of an older commit, to time the old path in the same run")
    parser.add_argument("--imports", action="store_true", help="also profile one run's imports (-X importtime), per package")
    options = parser.parse_args()
    print_header("memento run start-up, cold (fresh processes, warm page cache)")
    print(f"load:    {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1, 5, 15 min) at the start")
    with tempfile.TemporaryDirectory(prefix="memento-bench-startup-") as tmp, FakeAnthropic(max_requests=10**6) as fake:
        work = Path(tmp)
        clock = Clock()
        fake.responder = clock
        began = time.perf_counter()
        build_bank(work / "bank-home")
        print(f"bank:    {BANK_SIZE:,} cases built in {time.perf_counter() - began:.1f} s (not timed below)\n")
        report("this tree", measure("new", None, options.runs, fake, clock, work / "bank-home", work))
        if options.old is not None:
            report(f"old path ({options.old})", measure("old", options.old, options.runs, fake, clock, work / "bank-home", work))
        if options.imports:
            import_profile(fake, clock, work)
    print(f"load:    {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1, 5, 15 min) at the end")


if __name__ == "__main__":
    main()
