"""The case bank's read snapshot: read latency at 1k/10k/100k cases, its cost per write, and a cold open + read.

    .venv/bin/python bench/memory_snapshot.py                 # 1k and 10k
    .venv/bin/python bench/memory_snapshot.py --sizes 1000 10000 100000

Builds banks of synthetic cases (random 384-d vectors, a one-step plan each) under a temporary folder,
then prints, per size: the snapshot's nearest-k (k=4) and Q-candidate (64, with vectors, plan vectors and
records) reads, `CaseBank.retrieve` over the snapshot and over Chroma, all as p50/p90 in ms excluding the
query embedding; `record_episode` with the time spent on the snapshot; and a fresh `python -c` that opens
the bank and retrieves, by the snapshot and by Chroma the way `retrieve` read it before the snapshot.
Figures, not a test: note the machine's load beside them.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from memento.memory import CaseBank, MemorySettings  # noqa: E402
from memento.memory.cases import Case  # noqa: E402
from memento.memory.store import Store  # noqa: E402

DIMENSION = 384


class WordEmbedder:
    """Hashed bag of words in 384 dimensions: deterministic and fast, with MiniLM's width."""

    name = "bench-words-384"
    dimension = DIMENSION

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), DIMENSION), np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                slot = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "big")
                out[row, slot % DIMENSION] += 1.0 if slot & 1 else -1.0
            out[row, 0] += 1e-3
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def _p(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    return f"p50 {statistics.median(ms):7.2f} ms  p90 {ms[int(len(ms) * 0.9)]:7.2f} ms"


def _time(fn: Callable[[], object], repeat: int) -> list[float]:
    fn()
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def build(home: Path, size: int, chunk: int = 5000) -> float:
    rng = np.random.default_rng(size)
    start = time.perf_counter()
    with CaseBank.open(MemorySettings(home=home, memory_online_steps=0), WordEmbedder()) as bank:
        for low in range(0, size, chunk):
            count = min(chunk, size - low)
            vectors = rng.normal(size=(count, DIMENSION)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            cases = [
                Case(f"synthetic task {n} about topic {n % 97}", [f"search topic {n % 97}"], f"answer {n}", float(n % 2), source="bench")
                for n in range(low, low + count)
            ]
            bank.put_cases(cases, embeddings=vectors)
    return time.perf_counter() - start


def reads(home: Path, repeat: int) -> None:
    queries = np.random.default_rng(0).normal(size=(repeat + 1, DIMENSION)).astype(np.float32)
    bank = CaseBank.open(MemorySettings(home=home, memory_online_steps=0), WordEmbedder())
    store = bank.store
    assert store.snapshot is not None
    turn = iter(range(10**9))

    def nearest(n: int, whole: bool) -> None:
        with store.reading() as view:
            assert view is not None
            if whole:
                view.query(queries[next(turn) % len(queries)], n)
            else:
                view.nearest(queries[next(turn) % len(queries)], n)

    print(f"    snapshot top-4 scan         {_p(_time(lambda: nearest(4, False), repeat))}")
    print(f"    snapshot 64 candidates whole {_p(_time(lambda: nearest(64, True), repeat))}  (vectors, plans, records: the Q read)")
    similar = _time(lambda: bank.retrieve("x", k=4, policy="similarity", task_embedding=queries[next(turn) % len(queries)]), repeat)
    print(f"    retrieve, snapshot           {_p(similar)}")
    store.reading = _no_snapshot  # this bank's reads go to Chroma from here on
    chroma = _time(lambda: bank.retrieve("x", k=4, policy="similarity", task_embedding=queries[next(turn) % len(queries)]), repeat)
    print(f"    retrieve, Chroma             {_p(chroma)}")
    bank.close()


@contextlib.contextmanager
def _no_snapshot() -> Iterator[None]:
    yield None


def writes(home: Path, repeat: int) -> None:
    spent: list[float] = []
    commit = Store._commit

    def timed(self: Store, journal: object) -> None:
        start = time.perf_counter()
        commit(self, journal)
        spent.append(time.perf_counter() - start)

    Store._commit = timed
    try:
        with CaseBank.open(MemorySettings(home=home, memory_online_steps=0), WordEmbedder()) as bank:
            shown = bank.retrieve("synthetic task about topic 3", k=4).ids
            total = _time(
                lambda: bank.record_episode(
                    f"a new bench task {time.perf_counter_ns()}", ["search", "read"], "x", 1.0, shown, followed_case_ids=shown[:1]
                ),
                repeat,
            )
    finally:
        Store._commit = commit
    print(f"    record_episode               {_p(total)}")
    print(f"    of which patching the snapshot {_p(spent[1:])}")


COLD_SNAPSHOT = """
import sys, time
start = time.perf_counter()
import numpy as np
sys.path.insert(0, {root!r})
from bench.memory_snapshot import WordEmbedder
from memento.memory import CaseBank, MemorySettings
bank = CaseBank.open(MemorySettings(home={home!r}), WordEmbedder())
found = bank.retrieve("synthetic task about topic 3", k=4, policy="similarity")
print(time.perf_counter() - start, len(found.cases), "chromadb" in sys.modules)
"""

COLD_CHROMA = """
import sys, time
start = time.perf_counter()
import numpy as np
sys.path.insert(0, {root!r})
from bench.memory_snapshot import WordEmbedder
from memento.memory.cases import Case
import chromadb
from chromadb.config import Settings
client = chromadb.PersistentClient(path={path!r}, settings=Settings(anonymized_telemetry=False))
cases = client.get_collection("memento_cases")
for name in ("memento_transitions", "memento_plans"):
    client.get_collection(name)
vector = WordEmbedder().embed(["synthetic task about topic 3"])[0]
hits = cases.query(query_embeddings=[vector.tolist()], n_results=4, include=["metadatas", "documents", "distances"])
found = [Case.from_store(i, d, m) for i, d, m in zip(hits["ids"][0], hits["documents"][0], hits["metadatas"][0])]
print(time.perf_counter() - start, len(found), "chromadb" in sys.modules)
"""


def cold(home: Path, runs: int) -> None:
    for label, code in (("snapshot", COLD_SNAPSHOT), ("Chroma (the read before)", COLD_CHROMA)):
        script = code.format(root=str(ROOT), home=str(home), path=str(home / "casebank"))
        seconds = []
        for _ in range(runs):
            done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
            seconds.append(float(done.stdout.split()[0]))
        print(
            f"    fresh process, open + retrieve, {label:26s} {_p(seconds)}  (imports included; chromadb imported: {done.stdout.split()[2]})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--cold-runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="build the banks in this folder and keep them (reused when there)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = args.keep or Path(temporary)
        for size in args.sizes:
            home = folder / f"bank-{size}"
            if (home / "casebank" / "snapshot" / "state.json").exists():
                print(f"{size} cases (reused)")
            else:
                print(f"{size} cases (built in {build(home, size):.1f} s)")
            reads(home, args.repeat)
            writes(home, max(5, args.repeat // 5))
            cold(home, args.cold_runs)


if __name__ == "__main__":
    main()
