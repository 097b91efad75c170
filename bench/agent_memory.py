"""The memory read at the start of an episode: `CaseBank.retrieve(task, k=4)` then the planner's prompts
(`first_turn` with the cases shown, `system_prompt`), per task, with the similarity policy and with Q, and
the query embedding alone for comparison, in the same run.

The bank lives in a temporary MEMENTO_HOME, filled from the reference data (memory.jsonl, then
training_data.jsonl, whose 7,000 transitions Q is trained on) by a child process; this process then opens
it as a new `memento run` would, with an empty embedder cache, so every task is embedded for real. The three
measurements take turns, each on its own distinct questions from deepresearcher.jsonl.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from _common import ROOT, ms, percentile, print_header

from memento.agent.planner import first_turn, system_prompt
from memento.memory import CaseBank, MemorySettings
from memento.memory.interchange import import_jsonl

REFERENCE = ROOT / "data" / "reference"
TASKS = 200
WARMUP = 5
GOAL_EPISODE_P50_S = 0.050
MAX_CYCLES = 3  # the default budget_cycles


def questions() -> list[str]:
    rows = [json.loads(line) for line in (REFERENCE / "deepresearcher.jsonl").read_text().splitlines()]
    return list(dict.fromkeys(r["question"] for r in rows))


def fill(settings: MemorySettings) -> None:
    with CaseBank.open(settings) as bank:
        for name in ("memory.jsonl", "training_data.jsonl"):
            began = time.perf_counter()
            got = import_jsonl(bank, REFERENCE / name)
            print(f"  import {name:20} {got['cases']:5} cases, {got['transitions']:5} transitions in {time.perf_counter() - began:.1f} s")
        began = time.perf_counter()
        report = bank.train()
        print(f"  bank.train()  Q fitted in {time.perf_counter() - began:.2f} s: {report}")
        print(f"  bank: {bank.count()} cases, {bank.store.transitions.count()} transitions")


def episode_read(bank: CaseBank, task: str, policy: str) -> tuple[float, float, int]:
    """Seconds of the retrieval and of the prompt assembly, and how many cases were shown."""
    began = time.perf_counter()
    retrieval = bank.retrieve(task, k=4, policy=policy)
    middle = time.perf_counter()
    system, turn = system_prompt(MAX_CYCLES), first_turn(task, [], retrieval)
    ended = time.perf_counter()
    if not system or task not in turn:
        raise RuntimeError("the planner's prompts came out wrong")
    return middle - began, ended - middle, len(retrieval.cases)


def measure(bank: CaseBank, tasks: Iterator[str], count: int) -> dict[str, list[float]]:
    """`count` rounds after WARMUP: the embedding alone, then an episode read per policy, each on a new task."""
    times: dict[str, list[float]] = {
        "embedding alone": [],
        "similarity: retrieve": [],
        "similarity: prompts": [],
        "similarity: episode read": [],
        "q: retrieve": [],
        "q: prompts": [],
        "q: episode read": [],
    }
    for n in range(WARMUP + count):
        keep = n >= WARMUP
        task = next(tasks)
        started = time.perf_counter()
        bank.embedder.embed([task])
        if keep:
            times["embedding alone"].append(time.perf_counter() - started)
        for policy in ("similarity", "q"):
            retrieve, prompts, shown = episode_read(bank, next(tasks), policy)
            if shown != 4:
                raise RuntimeError(f"{policy} showed {shown} cases, not 4")
            if keep:
                times[f"{policy}: retrieve"].append(retrieve)
                times[f"{policy}: prompts"].append(prompts)
                times[f"{policy}: episode read"].append(retrieve + prompts)
    return times


def cpu_ticks() -> tuple[int, int]:
    """(all, stolen) CPU ticks of the machine so far: a shared VM's neighbours show as steal."""
    try:
        fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    return sum(fields), fields[7] if len(fields) > 7 else 0


def show(title: str, times: dict[str, list[float]]) -> None:
    print(title)
    for label, values in times.items():
        print(f"  {label:26} p50 {ms(percentile(values, 50))}   p95 {ms(percentile(values, 95))}   (max {ms(max(values))})")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--fill":  # the child process that fills the bank
        fill(MemorySettings(home=Path(sys.argv[2]), memory_online_steps=0))
        return
    print_header("agent memory read per episode: retrieve k=4 + planner prompts, similarity and Q, vs the embedding alone")
    tasks = questions()
    needed = 3 * (WARMUP + TASKS)
    if len(tasks) < needed:
        raise SystemExit(f"need {needed} distinct questions, the reference file has {len(tasks)}")
    fresh = iter(tasks)
    with tempfile.TemporaryDirectory(prefix="memento-bench-") as home:
        print("bank (embedded Chroma, all-MiniLM-L6-v2 on the CPU), filled in a child process:")
        sys.stdout.flush()
        subprocess.run([sys.executable, __file__, "--fill", home], check=True)
        settings = MemorySettings(home=Path(home), memory_online_steps=0)
        began = time.perf_counter()
        with CaseBank.open(settings) as bank:
            bank.retrieve("What is the tallest mountain in the Alps?", k=4, policy="q")  # loads the embedder, Chroma and Q
            print(f"  opened here; first retrieve (embedder, Chroma and Q loaded): {time.perf_counter() - began:.2f} s")
            if not bank.q.ready():
                raise RuntimeError("Q is not trained")
            print()
            total, stolen = cpu_ticks()
            times = measure(bank, fresh, TASKS)
            total, stolen = cpu_ticks()[0] - total, cpu_ticks()[1] - stolen
            show(f"a process that only opened the bank (as `memento run`), {TASKS} tasks per row, after {WARMUP} warm-up rounds:", times)
    if total:
        print(f"  CPU time stolen by the host meanwhile: {100 * stolen / total:.1f}%  (load average {os.getloadavg()[0]:.2f})")
    print()
    for policy in ("similarity", "q"):
        p50 = percentile(times[f"{policy}: episode read"], 50)
        verdict = "MET" if p50 < GOAL_EPISODE_P50_S else "NOT MET"
        print(f"goal: {policy} episode read p50 < {ms(GOAL_EPISODE_P50_S)} incl. embedding -> {verdict} ({ms(p50)})")


if __name__ == "__main__":
    main()
