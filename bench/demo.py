"""The offline demo end to end: `memento demo` with a local model and no key, as `make run` runs it, timed from the
command to its exit; then where the time went, from the run's trace: the model's own latency (each call as the
provider measured it), the tools', and the rest (start-up, servers, index, memory, the agent's own work).

Each round uses a fresh MEMENTO_HOME (so the demo index is built and the model server started: cold) and runs the
demo twice: the second run shows the first one's case recalled. The weights are assembled once into --models-dir
(an install step, not part of the demo's time). Usage:
python bench/demo.py [--model local:qwen2.5-1.5b] [--rounds 1] [--models-dir build/models]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import ROOT, print_header


def demo_once(home: Path, models_dir: Path, model: str) -> tuple[float, int, str]:
    env = {"PATH": os.environ.get("PATH", ""), "MEMENTO_HOME": str(home), "MEMENTO_LOCAL_MODELS_DIR": str(models_dir)}
    started = time.perf_counter()
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "memento"), "demo", "--model", model, "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
    )
    return time.perf_counter() - started, done.returncode, (done.stdout + done.stderr).strip()


def last_run(home: Path) -> dict[str, Any]:
    with sqlite3.connect(home / "runs.sqlite") as db:
        db.row_factory = sqlite3.Row
        run = dict(db.execute("SELECT * FROM runs ORDER BY started DESC LIMIT 1").fetchone())
        calls = db.execute(
            "SELECT role, input_tokens, output_tokens, cache_read_tokens, latency_s FROM model_calls WHERE run_id = ?", (run["id"],)
        )
        run["model_calls"] = [dict(c) for c in calls]
        tools = db.execute("SELECT server, tool, seconds, is_error FROM tool_calls WHERE run_id = ?", (run["id"],))
        run["tool_calls"] = [dict(t) for t in tools]
        run["cases_shown"] = db.execute("SELECT COUNT(*) FROM cases_shown WHERE run_id = ?", (run["id"],)).fetchone()[0]
    return run


def describe(label: str, wall: float, code: int, run: dict[str, Any]) -> None:
    model_s = sum(c["latency_s"] for c in run["model_calls"])
    tool_s = sum(t["seconds"] or 0.0 for t in run["tool_calls"])
    episode_s = (run["finished"] or run["started"]) - run["started"] if isinstance(run["started"], float) else None
    out_tokens = sum(c["output_tokens"] for c in run["model_calls"])
    in_tokens = sum(c["input_tokens"] + c["cache_read_tokens"] for c in run["model_calls"])
    print(f"{label}: exit {code}, {wall:.1f} s command to exit; status {run['status']}, answer {run['answer']!r}, reward {run['reward']}")
    print(f"  model: {len(run['model_calls'])} calls, {model_s:.1f} s ({in_tokens} prompt tokens incl. cached, {out_tokens} generated)")
    for c in run["model_calls"]:  # the prompt tokens llama.cpp took from its cache are what the prompt order saves
        print(
            f"    {c['role']:<9} {c['input_tokens'] + c['cache_read_tokens']:>5} prompt ({c['cache_read_tokens']:>5} cached),"
            f" {c['output_tokens']:>4} generated, {c['latency_s']:6.1f} s"
        )
    print(
        f"  tools: {len(run['tool_calls'])} calls, {tool_s:.2f} s: " + ", ".join(f"{t['server']}__{t['tool']}" for t in run["tool_calls"])
    )
    rest = wall - model_s - tool_s
    print(f"  rest (start-up, servers, index, memory, agent): {rest:.1f} s = {100 * rest / max(model_s, 1e-9):.1f}% of the model's time")
    if episode_s is not None:
        agent = episode_s - model_s - tool_s
        print(f"  inside the episode, besides model and tools: {agent:.2f} s = {100 * agent / max(model_s, 1e-9):.2f}% of the model's time")
    print(f"  cases shown: {run['cases_shown']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="local:qwen2.5-1.5b")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--models-dir", type=Path, default=ROOT / "build" / "models")
    args = parser.parse_args()
    print_header(f"memento demo, offline, {args.model}")
    print(f"load average before: {os.getloadavg()[0]:.2f} (other jobs on the machine slow the model)\n")
    args.models_dir.mkdir(parents=True, exist_ok=True)
    for round_ in range(1, args.rounds + 1):
        with tempfile.TemporaryDirectory(prefix="memento-bench-demo-") as folder:
            home = Path(folder)
            for which in ("first (cold: index built, model loaded)", "second (recalls the first)"):
                wall, code, output = demo_once(home, args.models_dir, args.model)
                if not (home / "runs.sqlite").is_file():
                    print(f"round {round_}, {which}: no run recorded (exit {code}):\n{output[-2000:]}")
                    sys.exit(1)
                describe(f"round {round_}, {which}", wall, code, last_run(home))
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
