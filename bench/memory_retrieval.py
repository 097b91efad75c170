"""Case-bank retrieval and write speed: p50/p99 of retrieve at 1k, 10k and 100k cases for
both policies, with and without embedding the query; the reference-style scorer (an
encoder pass per (query, case) pair) at 1,278 cases in the same run; write throughput
embedded and against a `chroma run` server.

Cases are real questions from the reference data; banks larger than the data hold
variants of them (the real vector plus small noise), so the index sees realistic
clusters without embedding 100k texts. Usage: python bench/memory_retrieval.py [--sizes 1000,10000,100000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import ROOT, ms, percentile, print_header

from memento.memory import Case, CaseBank, MemorySettings
from memento.memory.embeddings import LocalEmbedder
from memento.memory.interchange import parse_file

REFERENCE = ROOT / "data" / "reference"


def questions() -> list[str]:
    rows = [json.loads(line) for line in (REFERENCE / "deepresearcher.jsonl").read_text().splitlines()]
    return list(dict.fromkeys(r["question"] for r in rows))


def build_bank(home: Path, embedder: LocalEmbedder, texts: list[str], vectors: np.ndarray, size: int, rng: np.random.Generator) -> CaseBank:
    bank = CaseBank.open(MemorySettings.from_env(home=home, memory_online_steps=0), embedder)  # MEMENTO_MEMORY_* apply
    picks = np.arange(size) % len(texts)
    noisy = vectors[picks] + rng.normal(0, 0.04, size=(size, vectors.shape[1])).astype(np.float32)
    noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
    cases = []
    for n, index in enumerate(picks):
        uses = int(rng.integers(0, 20))
        reward = float(rng.random() < 0.6)
        cases.append(
            Case(
                f"{texts[index]} [variant {n}]",
                ["search", "read", "answer"],
                "x",
                reward,
                uses=uses,
                successes=int(rng.integers(0, uses + 1)),
                source="bench",
            )
        )
    bank.put_cases(cases, batch=2000, embeddings=noisy)
    return bank


def train_q(bank: CaseBank) -> float:
    """Fit Q on the reference transitions (their query and case texts embedded for real)."""
    cases, transitions, _ = parse_file(REFERENCE / "training_data.jsonl")
    by_id = {c.id: c for c in cases}
    task_vectors = bank.embedder.embed([t.task for t in transitions])
    case_vectors = bank.embedder.embed([by_id[t.case_id].task for t in transitions])
    rows = [(tv, cv, by_id[t.case_id].stats(), t.reward) for t, tv, cv in zip(transitions, task_vectors, case_vectors)]
    # Q's (task, plan) memory filled too (every transition's task with its case's plan), so that reading with Q
    # pays for its correction (the kernel estimate, the plan fit) and for the plan vectors it reads.
    plans = dict(zip(by_id, bank.embedder.embed([c.plan_text() for c in by_id.values()])))
    pairs = [(tv, plans[t.case_id], t.reward, 1.0) for t, tv in zip(transitions, task_vectors) if by_id[t.case_id].plan]
    started = time.perf_counter()
    bank.q.fit(rows, pairs)
    return time.perf_counter() - started


def time_retrieval(bank: CaseBank, queries: list[str], vectors: np.ndarray, policy: str, embed: bool, tag: str = "") -> list[float]:
    times = []
    for n, (query, vector) in enumerate(zip(queries, vectors)):
        started = time.perf_counter()
        if embed:  # a text the embedder's cache has not seen, so the embedding is really computed
            bank.retrieve(f"{query} (asked again: {tag} {policy} {n})", k=4, policy=policy)
        else:
            bank.retrieve(query, k=4, policy=policy, task_embedding=vector)
        times.append(time.perf_counter() - started)
    return times


def reference_scoring(embedder: LocalEmbedder, pool: list[Case], queries: list[str]) -> float:
    """Seconds per query for the authors' design: encode every (query, case) pair of the pool."""
    texts = [f"[CASE]\n{c.task}\n[PLAN]\n{c.plan_text()}" for c in pool]
    model = embedder._load()
    started = time.perf_counter()
    for query in queries:
        model.encode([query, *texts], batch_size=64, show_progress_bar=False)
    return (time.perf_counter() - started) / len(queries)


def write_throughput(home: Path, embedder: LocalEmbedder, texts: list[str], url: str = "") -> float:
    bank = CaseBank.open(MemorySettings(home=home, chroma_url=url, memory_online_steps=0), embedder)
    started = time.perf_counter()
    for n, text in enumerate(texts):
        bank.record_episode(f"{text} [write {n}]", ["step one", "step two"], "answer", float(n % 2))
    return len(texts) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--retrieval-only", action="store_true", help="skip the reference-style scorer and the write throughput")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print_header("case bank: retrieval and write speed")
    rng = np.random.default_rng(0)
    embedder = LocalEmbedder()
    texts = questions()
    held_out, texts = texts[: args.queries], texts[args.queries :]
    started = time.perf_counter()
    vectors = embedder.embed(texts)
    query_vectors = embedder.embed(held_out)
    print(f"embedded {len(texts) + len(held_out)} questions with {embedder.name} in {time.perf_counter() - started:.1f} s\n")

    with tempfile.TemporaryDirectory(prefix="memento-bench-") as tmp:
        print(f"{'cases':>7}  {'policy':<10} {'query embedding':<16} {'p50':>10} {'p99':>10}")
        for size in sizes:
            began = time.perf_counter()
            bank = build_bank(Path(tmp) / f"bank-{size}", embedder, texts, vectors, size, rng)
            built = time.perf_counter() - began
            fit_s = train_q(bank)
            time_retrieval(bank, held_out[:20], query_vectors[:20], "q", False)  # warm caches and the index
            for policy in ("similarity", "q"):
                for embed in (False, True):
                    times = time_retrieval(bank, held_out, query_vectors, policy, embed, tag=str(size))
                    label = "included" if embed else "excluded"
                    print(f"{size:>7}  {policy:<10} {label:<16} {ms(percentile(times, 50)):>10} {ms(percentile(times, 99)):>10}")
            print(f"         (bank filled in {built:.1f} s; Q fitted on 7,000 reference transitions in {fit_s:.2f} s)")

        if args.retrieval_only:
            return
        pool, _, _ = parse_file(REFERENCE / "memory.jsonl")
        ref_bank = CaseBank.open(MemorySettings(home=Path(tmp) / "reference", memory_online_steps=0), embedder)
        ref_bank.put_cases(pool)
        train_q(ref_bank)
        ours = time_retrieval(ref_bank, held_out[:100], query_vectors[:100], "q", embed=True, tag="reference")
        reference = reference_scoring(embedder, pool, held_out[:3])
        print(
            f"\nat {len(pool):,} cases (memory.jsonl): ours, Q policy with query embedding p50 {ms(percentile(ours, 50))}; "
            f"reference-style encoder pass per (query, case) pair {reference * 1000:,.0f} ms per query"
        )
        print(f"speed-up: {reference / percentile(ours, 50):,.0f}x   goal >= 100x")

        few = held_out[:150]
        embedded_rate = write_throughput(Path(tmp) / "write-embedded", embedder, few)
        from tests.memory_helpers import chroma_server

        with chroma_server(Path(tmp) / "chroma-server") as url:
            server_rate = write_throughput(Path(tmp) / "write-server", embedder, few, url)
        print(
            f"\nwrite throughput (record_episode, embedding included): embedded {embedded_rate:.0f} cases/s, "
            f"Chroma server {server_rate:.0f} cases/s"
        )


if __name__ == "__main__":
    main()
