"""A read copy of an embedded case bank kept beside its Chroma store, so that reading needs no Chroma import.

Chroma stays the store of record. The snapshot holds what a read needs (case ids, task and plan vectors,
documents, metadata) in plain files; writers patch it, under the store's write lock, from the rows they
just wrote. It decides nothing and repairs nothing on its own: a snapshot not marked current is not read.

Files under `<casebank>/snapshot/`:
    state.json    status ("current", "writing", "broken"), slots, log size, generation, embedder, dimension
    vectors.f32   one float32 row per slot (the case's task embedding), appended or patched in place
    norms.f32     each row's norm, for cosine similarity
    plans.f32     the case's plan embedding (zeros: none)
    offsets.i64   (offset, length) of the slot's record in records.jsonl; length 0: a deleted case
    records.jsonl append-only `[id, document, metadata]` lines; a slot's newest line is the one it points at
    ids.txt       slot order, one id a line (writers map ids to slots from it)

Readers hold a shared lock on `.read.lock` while they read; a writer holds it exclusively only while it
patches (journal.py keeps a write block's side of it). A writer marks the state "writing" before its first
Chroma write and "current" after patching, so a writer that dies in between leaves it not current: readers
go to Chroma and the next writer rebuilds.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["BROKEN", "CURRENT", "SCAN_ROWS", "WRITING", "Snapshot", "View"]

FORMAT = 1
CURRENT, WRITING, BROKEN = "current", "writing", "broken"
_PAGE = 2000  # rows per Chroma read when rebuilding
# Rows per matrix-vector product: OpenBLAS spreads a bigger one over threads, which on a busy 2-core machine
# was measured 10x slower (10k cases: 10.7 ms at once, 1.2 ms in blocks of 1024); a block this size stays on one.
_BLOCK = 1024
# Beyond this many cases a process that has Chroma open reads its HNSW index instead of scanning (measured
# under load: at 100k cases the scan took 18 ms and Chroma 3 ms for k=4; at 10k, 2-5 ms both).
SCAN_ROWS = 25_000


class View:
    """A current snapshot, valid only inside `Snapshot.reading()` (the files may change once it ends)."""

    def __init__(self, folder: Path, state: dict[str, Any], snapshot: Snapshot | None = None) -> None:
        self.folder = folder
        self.state = state
        self._snapshot = snapshot
        self.rows = int(state["rows"])
        self.live = int(state["live"])
        self.dimension = int(state["dimension"])
        self.generation = int(state["generation"])
        self._offsets = open_matrix(folder / "offsets.i64", np.int64, self.rows, 2)

    def nearest(self, vector: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The slots of the n cases most cosine-similar to `vector`, best first, and their similarities (exact)."""
        n = min(n, self.live)
        if n <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        scale = float(np.linalg.norm(query)) or 1.0
        matrix = open_matrix(self.folder / "vectors.f32", np.float32, self.rows, self.dimension)
        scores = np.empty(self.rows, np.float32)
        for start in range(0, self.rows, _BLOCK):
            np.matmul(matrix[start : start + _BLOCK], query, out=scores[start : start + _BLOCK])
        norms = open_matrix(self.folder / "norms.f32", np.float32, self.rows, 1).reshape(-1)
        scores /= np.where(norms > 0, norms, 1.0) * scale
        scores[self._offsets[:, 1] == 0] = -np.inf  # deleted cases keep their slot until a compaction
        top = np.argpartition(-scores, n - 1)[:n] if n < self.rows else np.arange(self.rows)
        top = top[np.argsort(-scores[top], kind="stable")]
        return top, scores[top]

    def rows_of(self, slots: Sequence[int] | np.ndarray) -> list[tuple[str, str, dict[str, Any]]]:
        """(id, document, metadata) of these slots, in order."""
        out = []
        with open(self.folder / "records.jsonl", "rb") as handle:
            fd = handle.fileno()
            for slot in slots:
                offset, length = (int(x) for x in self._offsets[int(slot)])
                case_id, document, metadata = json.loads(os.pread(fd, length, offset))
                out.append((case_id, document, metadata))
        return out

    def vectors(self, slots: Sequence[int] | np.ndarray) -> np.ndarray:
        return np.array(open_matrix(self.folder / "vectors.f32", np.float32, self.rows, self.dimension)[np.asarray(slots, np.int64)])

    def plan_vectors(self, slots: Sequence[int] | np.ndarray) -> np.ndarray:
        return np.array(open_matrix(self.folder / "plans.f32", np.float32, self.rows, self.dimension)[np.asarray(slots, np.int64)])

    def slots_of(self, ids: Sequence[str]) -> dict[str, int]:
        """The live slots of these ids (ids the bank does not hold are left out)."""
        every = (self._snapshot or Snapshot(self.folder)).slots_by_id(self.state)
        return {i: every[i] for i in ids if i in every and self._offsets[every[i], 1] > 0}

    def query(self, vector: np.ndarray, n: int, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
        """The n nearest cases not in `exclude`, as Chroma's query gives one query's fields (cosine distances), plus plan vectors."""
        slots, similarity = self.nearest(vector, n + len(exclude))
        rows = self.rows_of(slots)
        kept = [index for index, row in enumerate(rows) if row[0] not in exclude][:n]
        chosen = slots[kept]
        return {
            "ids": [rows[i][0] for i in kept],
            "documents": [rows[i][1] for i in kept],
            "metadatas": [rows[i][2] for i in kept],
            "distances": 1.0 - similarity[kept],
            "embeddings": self.vectors(chosen),
            "plans": self.plan_vectors(chosen),
        }


class Snapshot:
    """The snapshot folder of one embedded bank: readers open views, writers open journals."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._ids: tuple[int, dict[str, int]] | None = None  # (generation, id -> slot), a writer's cache

    def state(self) -> dict[str, Any] | None:
        try:
            state = json.loads((self.folder / "state.json").read_text())
        except (OSError, ValueError):
            return None
        return state if isinstance(state, dict) and state.get("format") == FORMAT else None

    def embedder(self) -> str | None:
        """The embedding model the snapshot's bank was built with (None: no snapshot, or it does not say)."""
        state = self.state()
        return str(state.get("embedder") or "unknown") if state else None

    @contextlib.contextmanager
    def reading(self) -> Iterator[View | None]:
        """A view of the snapshot while it is current, else None (read Chroma instead)."""
        if not (self.folder / "state.json").exists():
            yield None
            return
        with open(self.folder / ".read.lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_SH)
            try:
                state = self.state()
                yield View(self.folder, state, self) if state and state.get("status") == CURRENT else None
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def write_state(self, state: dict[str, Any]) -> None:
        _replace(self.folder / "state.json", json.dumps(state).encode())

    def mark(self, status: str) -> dict[str, Any] | None:
        """Set the status, keeping the rest; returns the state as it was."""
        before = self.state()
        if before is not None or status != CURRENT:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.write_state({**(before or {"format": FORMAT, "rows": 0, "live": 0, "log_bytes": 0, "generation": 0}), "status": status})
        return before

    @contextlib.contextmanager
    def patching(self) -> Iterator[None]:
        with open(self.folder / ".read.lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def remember_slots(self, generation: int, slots: dict[str, int] | None) -> None:
        """A writer's id -> slot map for this generation (None: read it again from ids.txt when next needed)."""
        self._ids = (generation, slots) if slots is not None else None

    def slots_by_id(self, state: dict[str, Any]) -> dict[str, int]:
        generation, rows = int(state["generation"]), int(state["rows"])
        if self._ids is None or self._ids[0] != generation:
            self._ids = (generation, {case_id: slot for slot, case_id in enumerate(_read_ids(self.folder, rows))})
        return self._ids[1]

    def start_empty(self, embedder: str, dimension: int) -> None:
        """The snapshot of a bank Chroma holds nothing of yet (the caller holds the write lock and made sure)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with self.patching():
            self.write_all([], [], np.zeros((0, dimension), np.float32), np.zeros((0, dimension), np.float32), embedder, dimension)

    def rebuild(self, cases: Any, plans: Any, embedder: str, dimension: int) -> None:
        """Write the whole snapshot afresh from the Chroma collections (the caller holds the write lock)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.mark(WRITING)
        ids: list[str] = []
        records: list[tuple[str, str, dict[str, Any]]] = []
        vectors: list[np.ndarray] = []
        offset = 0
        while True:
            got = cases.get(limit=_PAGE, offset=offset, include=["metadatas", "documents", "embeddings"])
            if not got["ids"]:
                break
            ids += got["ids"]
            records += [(i, d, m or {}) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"])]
            vectors.append(np.asarray(got["embeddings"], dtype=np.float32).reshape(len(got["ids"]), -1))
            offset += len(got["ids"])
        width = vectors[0].shape[1] if vectors else dimension
        matrix = np.concatenate(vectors) if vectors else np.zeros((0, width), np.float32)
        plan_matrix = np.zeros_like(matrix)
        slot_of = {case_id: slot for slot, case_id in enumerate(ids)}
        offset = 0
        while True:
            got = plans.get(limit=_PAGE, offset=offset, include=["embeddings"])
            if not got["ids"]:
                break
            for case_id, vector in zip(got["ids"], got["embeddings"]):
                if case_id in slot_of:
                    plan_matrix[slot_of[case_id]] = np.asarray(vector, dtype=np.float32)
            offset += len(got["ids"])
        with self.patching():
            self.write_all(ids, records, matrix, plan_matrix, embedder, width)
        self._ids = None

    def write_all(
        self,
        ids: list[str],
        records: list[tuple[str, str, dict[str, Any]]],
        matrix: np.ndarray,
        plans: np.ndarray,
        embedder: str,
        width: int,
    ) -> None:
        lines = [record_line(r) for r in records]
        offsets = np.zeros((len(lines), 2), np.int64)
        offsets[:, 1] = [len(line) for line in lines]
        offsets[1:, 0] = np.cumsum(offsets[:-1, 1])
        _replace(self.folder / "records.jsonl", b"".join(lines))
        _replace(self.folder / "vectors.f32", matrix.astype(np.float32).tobytes())
        _replace(self.folder / "norms.f32", np.linalg.norm(matrix, axis=1).astype(np.float32).tobytes())
        _replace(self.folder / "plans.f32", plans.astype(np.float32).tobytes())
        _replace(self.folder / "offsets.i64", offsets.tobytes())
        _replace(self.folder / "ids.txt", "".join(i + "\n" for i in ids).encode())
        before = self.state() or {}
        self.write_state({
            "format": FORMAT, "status": CURRENT, "rows": len(ids), "live": len(ids), "log_bytes": int(offsets[:, 1].sum()),
            "generation": int(before.get("generation", 0)) + 1, "embedder": embedder, "dimension": int(width),
        })  # fmt: skip


def record_line(record: tuple[str, str, dict[str, Any]]) -> bytes:
    return json.dumps(list(record), ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def open_matrix(path: Path, dtype: Any, rows: int, columns: int) -> np.ndarray:
    if rows == 0:
        return np.zeros((0, columns), dtype)
    return np.memmap(path, dtype=dtype, mode="r", shape=(rows, columns))


def _read_ids(folder: Path, rows: int) -> list[str]:
    return (folder / "ids.txt").read_text().split("\n")[:rows] if rows else []


def _replace(path: Path, data: bytes) -> None:
    """Write a whole file so that a reader sees the old one or the new one, never half of either."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
