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
patches. A writer marks the state "writing" before its first Chroma write and "current" after patching, so a
writer that dies in between leaves it not current: readers go to Chroma and the next writer rebuilds.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CURRENT", "SCAN_ROWS", "WRITING", "Journal", "Snapshot", "View"]

log = logging.getLogger("memento.memory")

FORMAT = 1
CURRENT, WRITING, BROKEN = "current", "writing", "broken"
_PAGE = 2000  # rows per Chroma read when rebuilding
# Rows per matrix-vector product: OpenBLAS spreads a bigger one over threads, which on a busy 2-core machine
# was measured 10x slower (10k cases: 10.7 ms at once, 1.2 ms in blocks of 1024); a block this size stays on one.
_BLOCK = 1024
# Beyond this many cases a process that has Chroma open reads its HNSW index instead of scanning (measured
# under load: at 100k cases the scan took 18 ms and Chroma 3 ms for k=4; at 10k, 2-5 ms both).
SCAN_ROWS = 25_000
_COMPACT_BYTES = 8 << 20  # a log is compacted once its dead lines pass this and outweigh the live ones twice


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
        self._offsets = _matrix(folder / "offsets.i64", np.int64, self.rows, 2)

    def nearest(self, vector: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The slots of the n cases most cosine-similar to `vector`, best first, and their similarities (exact)."""
        n = min(n, self.live)
        if n <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        scale = float(np.linalg.norm(query)) or 1.0
        matrix = _matrix(self.folder / "vectors.f32", np.float32, self.rows, self.dimension)
        scores = np.empty(self.rows, np.float32)
        for start in range(0, self.rows, _BLOCK):
            np.matmul(matrix[start : start + _BLOCK], query, out=scores[start : start + _BLOCK])
        norms = _matrix(self.folder / "norms.f32", np.float32, self.rows, 1).reshape(-1)
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
        return np.array(_matrix(self.folder / "vectors.f32", np.float32, self.rows, self.dimension)[np.asarray(slots, np.int64)])

    def plan_vectors(self, slots: Sequence[int] | np.ndarray) -> np.ndarray:
        return np.array(_matrix(self.folder / "plans.f32", np.float32, self.rows, self.dimension)[np.asarray(slots, np.int64)])

    def slots_of(self, ids: Sequence[str]) -> dict[str, int]:
        """The live slots of these ids (ids the bank does not hold are left out)."""
        every = (self._snapshot or Snapshot(self.folder))._slots(self.state)
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

    def journal(self) -> Journal:
        return Journal(self)

    def _write_state(self, state: dict[str, Any]) -> None:
        _replace(self.folder / "state.json", json.dumps(state).encode())

    def _mark(self, status: str) -> dict[str, Any] | None:
        """Set the status, keeping the rest; returns the state as it was."""
        before = self.state()
        if before is not None or status != CURRENT:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._write_state({**(before or {"format": FORMAT, "rows": 0, "live": 0, "log_bytes": 0, "generation": 0}), "status": status})
        return before

    @contextlib.contextmanager
    def _patching(self) -> Iterator[None]:
        with open(self.folder / ".read.lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _slots(self, state: dict[str, Any]) -> dict[str, int]:
        generation, rows = int(state["generation"]), int(state["rows"])
        if self._ids is None or self._ids[0] != generation:
            self._ids = (generation, {case_id: slot for slot, case_id in enumerate(_read_ids(self.folder, rows))})
        return self._ids[1]

    def start_empty(self, embedder: str, dimension: int) -> None:
        """The snapshot of a bank Chroma holds nothing of yet (the caller holds the write lock and made sure)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._patching():
            self._write_all([], [], np.zeros((0, dimension), np.float32), np.zeros((0, dimension), np.float32), embedder, dimension)

    def rebuild(self, cases: Any, plans: Any, embedder: str, dimension: int) -> None:
        """Write the whole snapshot afresh from the Chroma collections (the caller holds the write lock)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._mark(WRITING)
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
        with self._patching():
            self._write_all(ids, records, matrix, plan_matrix, embedder, width)
        self._ids = None

    def _write_all(
        self,
        ids: list[str],
        records: list[tuple[str, str, dict[str, Any]]],
        matrix: np.ndarray,
        plans: np.ndarray,
        embedder: str,
        width: int,
    ) -> None:
        lines = [_line(r) for r in records]
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
        self._write_state({
            "format": FORMAT, "status": CURRENT, "rows": len(ids), "live": len(ids), "log_bytes": int(offsets[:, 1].sum()),
            "generation": int(before.get("generation", 0)) + 1, "embedder": embedder, "dimension": int(width),
        })  # fmt: skip


class Journal:
    """The snapshot's side of one write block: stale before the first Chroma write, patched after the last."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.ops: list[tuple[str, str, dict[str, Any]]] = []  # (collection, operation, arguments), in order
        self.started = False
        self.rebuild = False

    def begin(self) -> None:
        """Before a Chroma write: mark the snapshot stale (once per block); a stale one found here is rebuilt."""
        if self.started:
            return
        self.started = True
        before = self.snapshot._mark(WRITING)
        self.rebuild = before is None or before.get("status") != CURRENT

    def request_rebuild(self) -> None:
        """Rebuild the snapshot from Chroma when the block ends (it was found stale or missing)."""
        self.rebuild = True

    def note(self, collection: str, operation: str, **arguments: Any) -> None:
        """Keep a write Chroma took; vectors as one float32 array (a big import's lists of floats are freed)."""
        if arguments.get("embeddings") is not None:
            arguments["embeddings"] = np.asarray(arguments["embeddings"], dtype=np.float32)
        self.ops.append((collection, operation, arguments))

    def abandon(self) -> None:
        """The block failed after a write began: the snapshot stays unread until a writer rebuilds it."""
        if self.started:
            self.snapshot._mark(BROKEN)

    def commit(self, cases: Any, plans: Any, embedder: str, dimension: int) -> None:
        """Bring the snapshot up to the rows this block wrote (or rebuild it from Chroma when it was stale)."""
        if not self.started and not self.rebuild:
            return
        state = self.snapshot.state()
        if self.rebuild or state is None or not self._patch(state):
            self.snapshot.rebuild(cases, plans, embedder, dimension)

    def _patch(self, state: dict[str, Any]) -> bool:
        """Apply the block's writes to the files; False when one cannot be applied from what was written."""
        folder, rows, width = self.snapshot.folder, int(state["rows"]), int(state["dimension"])
        slots = dict(self.snapshot._slots(state))
        view = View(folder, state)
        touched: dict[int, list[Any]] = {}  # slot -> [id, document, metadata, vector, plan vector, alive]
        new_ids: list[str] = []

        def row(case_id: str) -> list[Any] | None:
            slot = slots.get(case_id)
            if slot is None:
                return None
            if slot not in touched:
                alive = slot < rows and view._offsets[slot, 1] > 0
                old = view.rows_of([slot])[0] if alive else (case_id, "", {})
                touched[slot] = [case_id, old[1], old[2], view.vectors([slot])[0], view.plan_vectors([slot])[0], alive]
            return touched[slot]

        for collection, operation, args in self.ops:
            ids = list(args.get("ids") or [])
            if args.get("where") is not None or (operation == "delete" and not ids):
                return False  # a write by filter: which rows it hit is Chroma's to say
            for index, case_id in enumerate(ids):
                current = row(case_id)
                if collection == "plans":
                    if current is None:
                        return False
                    embedding = _item(args.get("embeddings"), index)
                    if operation == "delete":
                        current[4] = np.zeros(width, np.float32)
                    elif embedding is not None:
                        current[4] = np.asarray(embedding, np.float32)
                    continue
                if operation == "delete":
                    if current is not None:
                        current[5] = False
                    continue
                if operation == "add" and current is not None and current[5]:
                    continue  # Chroma's add leaves an id it holds as it was
                if current is None or not current[5]:
                    if operation == "update":
                        continue  # Chroma ignores an update of an id it does not hold
                    if current is None:
                        slot = rows + len(new_ids)
                        slots[case_id] = slot
                        new_ids.append(case_id)
                        touched[slot] = current = [case_id, "", {}, np.zeros(width, np.float32), np.zeros(width, np.float32), False]
                    current[1], current[2] = None, {}  # a deleted case comes back bare (its plan row is the plans collection's)
                    if _item(args.get("embeddings"), index) is None:
                        return False
                    current[5] = True
                embedding, document, metadata = (_item(args.get(k), index) for k in ("embeddings", "documents", "metadatas"))
                if embedding is not None:
                    current[3] = np.asarray(embedding, np.float32).reshape(-1)
                    if current[3].shape[0] != width:
                        return False
                if document is not None:
                    current[1] = document
                if metadata is not None:  # Chroma merges metadata keys; None removes one
                    merged = {**current[2], **metadata}
                    current[2] = {k: v for k, v in merged.items() if v is not None}
        with self.snapshot._patching():
            self._write(state, touched, new_ids, slots)
        return True

    def _write(self, state: dict[str, Any], touched: dict[int, list[Any]], new_ids: list[str], slots: dict[str, int]) -> None:
        folder, rows, width = self.snapshot.folder, int(state["rows"]), int(state["dimension"])
        log_bytes = int(state["log_bytes"])
        live = int(state["live"])
        old_offsets = _matrix(folder / "offsets.i64", np.int64, rows, 2)
        was_alive = {slot: slot < rows and bool(old_offsets[slot, 1] > 0) for slot in touched}
        del old_offsets
        lines: list[bytes] = []
        entries: dict[int, tuple[int, int]] = {}
        with open(folder / "records.jsonl", "ab") as handle:
            position = handle.tell()
            for slot in sorted(touched):
                case_id, document, metadata, _, _, alive = touched[slot]
                if alive:
                    line = _line((case_id, document, metadata))
                    entries[slot] = (position, len(line))
                    position += len(line)
                    lines.append(line)
                else:
                    entries[slot] = (0, 0)
                live += int(alive) - int(was_alive[slot])
            handle.write(b"".join(lines))
        total = rows + len(new_ids)
        for name, dtype, columns, value in (
            ("vectors.f32", np.float32, width, lambda t: t[3]),
            ("plans.f32", np.float32, width, lambda t: t[4]),
            ("norms.f32", np.float32, 1, lambda t: np.linalg.norm(t[3])),
        ):
            _put_rows(folder / name, dtype, columns, rows, {s: value(t) for s, t in touched.items()}, total)
        _put_rows(folder / "offsets.i64", np.int64, 2, rows, {s: np.asarray(e, np.int64) for s, e in entries.items()}, total)
        if new_ids:
            with open(folder / "ids.txt", "ab") as handle:
                handle.write("".join(i + "\n" for i in new_ids).encode())
        log_bytes += sum(len(x) for x in lines)
        generation = int(state["generation"]) + 1
        self.snapshot._write_state(
            {**state, "status": CURRENT, "rows": total, "live": live, "log_bytes": log_bytes, "generation": generation}
        )
        self.snapshot._ids = (generation, slots)
        if log_bytes > _COMPACT_BYTES:
            self._compact()

    def _compact(self) -> None:
        """Rewrite the records without their superseded lines and the slots without deleted cases (under the read lock)."""
        state = self.snapshot.state()
        if state is None:
            return
        view = View(self.snapshot.folder, state)
        alive = np.flatnonzero(view._offsets[:, 1] > 0)
        if int(view._offsets[alive, 1].sum()) * 3 > int(state["log_bytes"]):
            return
        records = view.rows_of(alive)
        self.snapshot._write_all(
            [r[0] for r in records], records, view.vectors(alive), view.plan_vectors(alive), str(state.get("embedder", "")), view.dimension
        )
        self.snapshot._ids = None


def _item(values: Any, index: int) -> Any:
    return None if values is None else values[index]


def _line(record: tuple[str, str, dict[str, Any]]) -> bytes:
    return json.dumps(list(record), ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def _matrix(path: Path, dtype: Any, rows: int, columns: int) -> np.ndarray:
    if rows == 0:
        return np.zeros((0, columns), dtype)
    return np.memmap(path, dtype=dtype, mode="r", shape=(rows, columns))


def _read_ids(folder: Path, rows: int) -> list[str]:
    return (folder / "ids.txt").read_text().split("\n")[:rows] if rows else []


def _put_rows(path: Path, dtype: Any, columns: int, rows: int, values: dict[int, Any], total: int) -> None:
    """Patch existing rows in place and append new ones (slots rows..total-1, all present in `values`)."""
    itemsize = np.dtype(dtype).itemsize * columns
    with open(path, "r+b" if path.exists() else "w+b") as handle:
        for slot in sorted(s for s in values if s < rows):
            handle.seek(slot * itemsize)
            handle.write(np.asarray(values[slot], dtype).reshape(columns).tobytes())
        if total > rows:
            handle.seek(rows * itemsize)
            handle.write(np.stack([np.asarray(values[s], dtype).reshape(columns) for s in range(rows, total)]).tobytes())


def _replace(path: Path, data: bytes) -> None:
    """Write a whole file so that a reader sees the old one or the new one, never half of either."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
