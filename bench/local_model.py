"""Speed of the bundled local models (local:qwen2.5-0.5b, local:qwen2.5-1.5b) on this machine's CPU, through the
llama.cpp server the agent starts in-process (agent/llm/local_server.py), with 1 and 2 threads.

For each model and thread count: a fresh server, then streamed chat requests (a ~400-token prompt, 48 tokens
out, temperature 0, a different prompt each so nothing is reused from the prompt cache). Printed: time to first
token (request sent → first streamed token, as the agent sees it), and llama.cpp's own prompt and generation
tokens/s. The load of the machine is printed too: figures on a shared machine are under load.
Usage: python bench/local_model.py [--models qwen2.5-0.5b,qwen2.5-1.5b] [--threads 1,2] [--runs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import httpx
from _common import print_header

from memento.agent.llm import local_server
from memento.agent.llm.weights import BUNDLED, ensure_weights
from memento.agent.settings import AgentSettings

PASSAGE = (
    "The Memento agent keeps a case bank of past research tasks: for each, the plan it followed, the answer it gave "
    "and the reward it earned. Before planning, it retrieves similar cases and shows the successes to imitate and "
    "the failures to avoid. Tools live in separate MCP servers for search, browsing, code and documents. "
)


def prompt(n: int) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": f"You are a careful research assistant (session {n})."},
        {"role": "user", "content": PASSAGE * 6 + f"\nQuestion {n}: in two sentences, what does the agent keep and why?"},
    ]


def one_request(base: str, n: int, max_tokens: int) -> dict[str, Any]:
    body = {"model": "bench", "messages": prompt(n), "max_tokens": max_tokens, "temperature": 0, "stream": True}
    started = time.perf_counter()
    first: float | None = None
    timings: dict[str, Any] = {}
    with httpx.stream("POST", f"{base}/chat/completions", json=body, timeout=900) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if first is None and any((c.get("delta") or {}).get("content") for c in chunk.get("choices", [])):
                first = time.perf_counter() - started
            timings = chunk.get("timings") or timings
    return {
        "ttft_s": first if first is not None else float("nan"),
        "prompt_n": timings.get("prompt_n", 0),
        "prompt_tps": timings.get("prompt_per_second", float("nan")),
        "gen_n": timings.get("predicted_n", 0),
        "gen_tps": timings.get("predicted_per_second", float("nan")),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="qwen2.5-0.5b,qwen2.5-1.5b")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=48)
    args = parser.parse_args()
    print_header("local models: llama.cpp in-process through xllamacpp")
    settings = AgentSettings.from_env()
    folder = settings.local_models_dir or settings.home / "models"
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (figures under this load)\n")
    print(f"{'model':<14} {'threads':>7} {'load s':>7} {'TTFT s (median)':>16} {'prompt tok/s':>13} {'gen tok/s':>10} {'prompt n':>9}")
    for name in args.models.split(","):
        path = ensure_weights(BUNDLED[name], folder)
        for threads in (int(t) for t in args.threads.split(",")):
            started = time.perf_counter()
            base = local_server.serve(local_server.ServerKey(path.resolve(), threads, 4096))
            load_s = time.perf_counter() - started
            results = [one_request(base, n, args.max_tokens) for n in range(args.runs)]
            local_server.shutdown()
            med = {k: statistics.median(r[k] for r in results) for k in results[0]}
            print(
                f"{name:<14} {threads:>7} {load_s:>7.1f} {med['ttft_s']:>16.2f} {med['prompt_tps']:>13.1f} "
                f"{med['gen_tps']:>10.1f} {int(med['prompt_n']):>9}",
                flush=True,
            )
    print(f"\nload average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"model files: {folder} ({', '.join(f'{p.name} {p.stat().st_size:,} B' for p in sorted(Path(folder).glob('*.gguf')))})")


if __name__ == "__main__":
    main()
