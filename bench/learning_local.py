"""A learning curve with a real local model: `memento eval` over questions whose answers only the demo corpus holds
(data/demo-corpus, invented), several iterations with memory none / similarity / q, then one report of the three.

Each policy runs in its own folder with a fresh case bank (--fresh-memory) on the demo's MCP config (search on the
corpus index only; the executor offered search_local and read_document). The eval is sealed, so the documents
server reads no corpus page: answers come from the search hits' snippets (the pages are short). `none` runs one iteration only:
at temperature 0 with no memory a second pass repeats the first. The run's home (case banks aside: traces in
runs.sqlite, `MEMENTO_HOME=OUT/home memento runs show RUN_ID`) stays under --out. About an hour of idle CPU with the
1.5B model for 15 tasks x 3 iterations x 3 policies; the figures are only meaningful on an idle machine. On a busy
one, --threads 1, and one process per policy (--policies q --out OUT-q, …) then `memento eval report` of the folders.
Usage:
python bench/learning_local.py [--model local:qwen2.5-1.5b] [--iterations 3] [--limit 15] [--threads 0] [--out build/learning-local]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from _common import ROOT, print_header

from memento.agent.cli.demo_setup import DEMO_TOOLS, prepare
from memento.agent.settings import AgentSettings

# (question, answer): each answer is in one page of data/demo-corpus/pages, and nowhere in a model's training.
TASKS = [
    ("Who was the first keeper of the Skarra Head lighthouse on Vellmark?", "Ilse Marrow"),
    ("In what year was the Skarra Head lighthouse on Vellmark first lit?", "1871"),
    ("What is the name of the hard sheep's-milk cheese made on Vellmark?", "Graumel"),
    ("For how many months is Vellmark's Graumel cheese ripened?", "nine<|answer_split|>9"),
    ("How many lanterns were floated at the largest Lantern Tide festival on Vellmark?", "2,316<|answer_split|>2316"),
    ("What is the highest point of the island of Vellmark called?", "Corran Fell"),
    ("What is the name of the ferry between Vellmark and the mainland?", "MV Tarnwick<|answer_split|>Tarnwick"),
    ("Who is the head teacher of Hollin School on Vellmark?", "Oskar Vennholt"),
    ("How many pairs of puffins were counted at Skarra Head on Vellmark in 2024?", "412"),
    ("How many turbines does the Hollin wind farm on Vellmark have?", "seven<|answer_split|>7"),
    ("What is the name of the bell of St Brenna's chapel on Vellmark?", "Old Tamsin"),
    ("On what rocks did the cargo ship Aldous Grey run aground off Vellmark?", "Selkie Rocks<|answer_split|>the Selkie Rocks"),
    ("Who compiled the Vellmark dialect dictionary of 1932?", "Hedda Lowrie"),
    ("What was the strongest gust ever recorded on Vellmark, in kilometres per hour?", "181"),
    ("What is the oldest working boat in Hollin harbour on Vellmark called?", "Maren Sol"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="local:qwen2.5-1.5b")
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--limit", type=int, default=len(TASKS))
    parser.add_argument("--policies", default="none,similarity,q")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "learning-local")
    parser.add_argument("--models-dir", type=Path, default=ROOT / "build" / "models")
    parser.add_argument("--threads", type=int, default=0, help="llama.cpp threads (0: the cores; 1 is faster on a loaded machine)")
    args = parser.parse_args()
    print_header(f"learning curve over the demo corpus, {args.model}")
    print(f"load average before: {os.getloadavg()[0]:.2f}\n")
    args.out.mkdir(parents=True, exist_ok=True)
    dataset = args.out / "vellmark.jsonl"
    dataset.write_text("".join(json.dumps({"question": q, "ground_truth": a}) + "\n" for q, a in TASKS[: args.limit]))
    home = args.out / "home"  # kept: its runs.sqlite holds every episode's trace
    ground = prepare(AgentSettings.from_env({"MEMENTO_HOME": str(home)}), print)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "MEMENTO_HOME": str(home),
        "MEMENTO_LOCAL_MODELS_DIR": str(args.models_dir),
        "MEMENTO_EXECUTOR_TOOLS": ",".join(DEMO_TOOLS),
        "MEMENTO_LOCAL_THREADS": str(args.threads),
    }
    folders = []
    for policy in args.policies.split(","):
        out = args.out / policy
        iterations = 1 if policy == "none" else args.iterations  # greedy and memoryless: another pass is the same
        models = ["--planner", args.model, "--executor", args.model, "--judge", args.model]
        command = [sys.executable, "-m", "memento.agent.cli", "eval", "run", str(dataset), "--memory", policy, "--fresh-memory"]
        command += ["--iterations", str(iterations), "--concurrency", "1", "--config", str(ground.config), *models]
        command += ["--max-cycles", "1", "--max-steps", "3", "--out", str(out), "--quiet"]
        started = time.perf_counter()
        done = subprocess.run(command, env=env, cwd=ROOT, stdin=subprocess.DEVNULL, check=False)
        print(
            f"{policy}: exit {done.returncode}, {time.perf_counter() - started:.0f} s wall, load average {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        folders.append(str(out))
    report = [sys.executable, "-m", "memento.agent.cli", "eval", "report", *folders, "--out", str(args.out / "report")]
    subprocess.run(report, env=env, check=False)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}; report in {args.out / 'report'}")


if __name__ == "__main__":
    main()
