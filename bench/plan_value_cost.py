"""What the per-plan model (`PairMemory.plan_value`) adds to a read with Q at its worst: Q's pair memory full
(4,096 episodes of the reference transitions, their tasks and their cases' plans embedded for real), and every
read bringing 16 plans it has never modelled (the cache of per-plan models emptied before each read).

Usage: python bench/plan_value_cost.py [--reads 200]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _common import ROOT, ms, percentile, print_header
from threadpoolctl import threadpool_limits

from memento.memory.embeddings import LocalEmbedder
from memento.memory.interchange import parse_file
from memento.memory.qfunction import QFunction
from memento.memory.ranking import VALUED

REFERENCE = ROOT / "data" / "reference" / "training_data.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=200)
    args = parser.parse_args()
    print_header("per-plan model cost of a read with Q")
    embedder = LocalEmbedder()
    cases, transitions, _ = parse_file(REFERENCE)
    by_id = {c.id: c for c in cases}
    with_plan = [c for c in by_id.values() if c.plan]
    plans = dict(zip((c.id for c in with_plan), embedder.embed([c.plan_text() for c in with_plan])))
    kept = [t for t in transitions if t.case_id in plans]
    tasks = embedder.embed([t.task for t in kept])
    model = QFunction()
    model.remember_pairs([(tv, plans[t.case_id], t.reward, 1.0) for t, tv in zip(kept, tasks)])
    rng = np.random.default_rng(0)
    plan_matrix = np.stack(list(plans.values()))
    print(f"pair memory: {len(model.pairs)} episodes; {len(plans)} distinct plans; {VALUED} new plans valued per read")
    cold, warm = [], []
    with threadpool_limits(limits=1, user_api="blas"):  # as QPolicy.score runs it
        for _ in range(args.reads):
            task = tasks[int(rng.integers(len(tasks)))]
            candidates = plan_matrix[rng.choice(len(plan_matrix), size=VALUED, replace=False)]
            model.pairs._plan_models = {}
            started = time.perf_counter()
            model.pairs.plan_value(task, candidates, model.base_rate, 0.1, 0.3)
            cold.append(time.perf_counter() - started)
            started = time.perf_counter()
            model.pairs.plan_value(task, candidates, model.base_rate, 0.1, 0.3)
            warm.append(time.perf_counter() - started)
    print(f"every plan new:       p50 {ms(percentile(cold, 50))}  p99 {ms(percentile(cold, 99))}")
    print(f"plans modelled before: p50 {ms(percentile(warm, 50))}  p99 {ms(percentile(warm, 99))}")


if __name__ == "__main__":
    main()
