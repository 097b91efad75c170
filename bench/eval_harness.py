"""What `memento eval` itself costs when the model answers at once: the real command in a subprocess over
a sample of the reference DeepResearcher tasks, the real Anthropic SDK against the fake Messages API on
127.0.0.1 (tests/fake_llm.py, answering each planner call with submit_answer and each judge call with a
verdict), the documents server over stdio, a fresh case bank with the similarity policy (so every task
reads and writes memory), traces in a temporary MEMENTO_HOME.

Printed: wall time to the first result (start-up), throughput, each task's seconds as the result line
records them (episode + scoring + the synced append) at concurrency 1 and 4, and a --resume of the
finished folder (reads results, re-reports, runs nothing). The vendor's own latency is zero here, so a
real eval's time is these figures plus the model's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, percentile, print_header

from memento.agent.evals.datasets import load_dataset, select_tasks
from tests.eval_helpers import EvalResponder
from tests.fake_llm import FakeAnthropic

TASKS = 60
SEED = 1
REFERENCE = ROOT / "data" / "reference" / "deepresearcher.jsonl"


def run_eval(env: dict[str, str], out: Path, concurrency: int, *extra: str) -> tuple[float, float | None]:
    """Seconds of the whole command, and to its first result line."""
    args = [sys.executable, "-m", "memento.agent.cli", "eval", str(REFERENCE), "--sample", str(TASKS), "--seed", str(SEED)]
    args += ["--memory", "similarity", "--fresh-memory", "--concurrency", str(concurrency), "--out", str(out), "-q", *extra]
    began = time.perf_counter()
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    first = None
    results = out / "results.jsonl"
    while process.poll() is None:
        if first is None and results.exists() and results.stat().st_size:
            first = time.perf_counter() - began
        time.sleep(0.02)
    total = time.perf_counter() - began
    if process.returncode:
        raise RuntimeError(f"memento eval failed ({process.returncode}): {process.stderr.read() if process.stderr else ''}")
    return total, first


def main() -> None:
    print_header(f"memento eval: harness cost per task with an instant fake model ({TASKS} reference tasks, similarity memory)")
    tasks = select_tasks(load_dataset(REFERENCE).tasks, sample=TASKS, seed=SEED)
    answers = {t.question: t.truth[0] for t in tasks[::2]}  # half right, so both judge paths run
    with tempfile.TemporaryDirectory(prefix="memento-bench-eval-") as scratch, FakeAnthropic(max_requests=100_000) as fake:
        folder = Path(scratch)
        fake.responder = EvalResponder(answers)
        servers = {"documents": {"command": sys.executable, "args": ["-m", "memento.servers.documents"]}}
        (folder / "mcp.json").write_text(json.dumps({"mcpServers": servers}))
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("MEMENTO_")},
            "MEMENTO_HOME": str(folder / "home"),
            "MEMENTO_MCP_CONFIG": str(folder / "mcp.json"),
            "ANTHROPIC_API_KEY": "sk-ant-bench-not-a-real-key",
            "ANTHROPIC_BASE_URL": fake.url,
        }
        for concurrency in (1, 4):
            out = folder / f"c{concurrency}"
            total, first = run_eval(env, out, concurrency)
            rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
            seconds = [r["seconds"] for r in rows]
            accuracy = json.loads((out / "summary.json").read_text())["accuracy"]
            print(f"concurrency {concurrency}: {len(rows)} tasks in {total:.1f} s ({len(rows) / total:.2f} tasks/s), accuracy {accuracy}")
            print(f"  first result after {first:.1f} s (servers, models, embedder, leakage guard over {TASKS} questions)")
            print(
                f"  per task (episode + scoring + append): p50 {1000 * percentile(seconds, 50):.0f} ms, "
                f"p95 {1000 * percentile(seconds, 95):.0f} ms, max {1000 * max(seconds):.0f} ms"
            )
            if concurrency == 4:
                resumed, _ = run_eval(env, out, concurrency, "--resume")
                print(f"  --resume of the finished folder (nothing to run; servers start, report rewritten): {resumed:.1f} s")


if __name__ == "__main__":
    main()
