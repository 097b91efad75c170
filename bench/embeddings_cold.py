"""Embedding a query with the packaged all-MiniLM-L6-v2: the numpy engine against sentence-transformers.
Cold: a fresh interpreter per run that imports, loads the model and embeds one query. Warm: per-query
latency and batches of 32 and 1000 texts once the model is loaded. Every run is its own subprocess."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

from _common import ms, percentile, print_header

COLD_RUNS = 5
WARM_QUERIES = 20
ENGINES = ("numpy", "sentence-transformers")
# Warm figures also with one BLAS / OpenMP thread: on a busy machine a second thread that waits for
# its turn on a core slows every product down, and that shows here.
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}

# Timed inside the child from before the first project import, so it is import + load + embed.
_COLD = """
import time
start = time.perf_counter()
from memento.memory.embeddings import LocalEmbedder
vector = LocalEmbedder(engine={engine!r}).embed_one("Which river flows through the capital of Hungary?")
assert vector.shape == (384,)
print(time.perf_counter() - start)
"""

_WARM = """
import json, random, time
from memento.memory.embeddings import LocalEmbedder
embedder = LocalEmbedder(engine={engine!r}, cache_size=0)
embedder.embed(["warm-up: load the model and touch every weight once"])
random.seed(7)
words = "the of a to in which who when was river city paper model agent memory plan answer data 2019 revenue".split()
def texts(n, low=4, high=40):
    return [" ".join(random.choice(words) for _ in range(random.randint(low, high))) + f" #{{i}}" for i in range(n)]
queries = []
for text in texts({queries}, 8, 24):
    start = time.perf_counter()
    embedder.embed([text])
    queries.append(time.perf_counter() - start)
batches = {{}}
for size in (32, 1000):
    start = time.perf_counter()
    embedder.embed(texts(size))
    batches[size] = time.perf_counter() - start
print(json.dumps({{"queries": queries, "batches": batches}}))
"""


def child(code: str, env: dict[str, str] | None = None) -> tuple[float, str]:
    """Wall seconds of a fresh `python -c code` process and what it printed."""
    start = time.perf_counter()
    environ = {**os.environ, **(env or {})}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, env=environ)
    elapsed = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"child failed:\n{done.stderr[-2000:]}")
    return elapsed, done.stdout.strip().splitlines()[-1]


def spread(values: list[float]) -> str:
    return f"median {ms(statistics.median(values))}   min {ms(min(values))}   max {ms(max(values))}"


def main() -> None:
    print_header("case memory: embedding a query, numpy MiniLM vs sentence-transformers (cold and warm)")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for engine in ENGINES:  # untimed: warms the OS file cache and .pyc files for both
        child(_COLD.format(engine=engine))
    cold: dict[str, tuple[list[float], list[float]]] = {engine: ([], []) for engine in ENGINES}
    for _ in range(COLD_RUNS):
        for engine in ENGINES:  # interleaved, so a change of load touches both alike
            whole, inside = child(_COLD.format(engine=engine))
            cold[engine][0].append(whole)
            cold[engine][1].append(float(inside))
    print(f"\ncold: fresh process, import + load + embed one query ({COLD_RUNS} runs each)")
    for engine, (whole, inside) in cold.items():
        print(f"  {engine:22} import+load+embed {spread(inside)}")
        print(f"  {'':22} whole process     {spread(whole)}")
    print(f"\nwarm: model loaded; {WARM_QUERIES} queries one at a time, then batches of new texts")
    for threads, env in (("default threads", None), ("1 thread", ONE_THREAD)):
        for engine in ENGINES:
            _, out = child(_WARM.format(engine=engine, queries=WARM_QUERIES), env)
            result = json.loads(out)
            queries = result["queries"]
            batches = {int(size): seconds for size, seconds in result["batches"].items()}
            print(
                f"  {engine:22} {threads:16} per query p50 {ms(percentile(queries, 50))}"
                f"   p90 {ms(percentile(queries, 90))}   32 texts {ms(batches[32])}   1000 texts {ms(batches[1000])}"
            )
    print(f"\nload average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
