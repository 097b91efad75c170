"""A write block's side of the read snapshot (snapshot.py): stale before Chroma is written, patched after.

The store journals each write to the cases and plans collections here as Chroma accepts it; when the block
ends the journal patches the snapshot from exactly those rows (or, when it found the snapshot stale or meets
a write it cannot replay, rebuilds it from Chroma). It never reads Chroma except to rebuild.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .snapshot import BROKEN, CURRENT, WRITING, Snapshot, View, open_matrix, record_line

__all__ = ["Journal"]

_COMPACT_BYTES = 8 << 20  # a log is compacted once its dead lines pass this and outweigh the live ones twice


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
        before = self.snapshot.mark(WRITING)
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
            self.snapshot.mark(BROKEN)

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
        slots = dict(self.snapshot.slots_by_id(state))
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
        with self.snapshot.patching():
            self._write(state, touched, new_ids, slots)
        return True

    def _write(self, state: dict[str, Any], touched: dict[int, list[Any]], new_ids: list[str], slots: dict[str, int]) -> None:
        folder, rows, width = self.snapshot.folder, int(state["rows"]), int(state["dimension"])
        log_bytes = int(state["log_bytes"])
        live = int(state["live"])
        old_offsets = open_matrix(folder / "offsets.i64", np.int64, rows, 2)
        was_alive = {slot: slot < rows and bool(old_offsets[slot, 1] > 0) for slot in touched}
        del old_offsets
        lines: list[bytes] = []
        entries: dict[int, tuple[int, int]] = {}
        with open(folder / "records.jsonl", "ab") as handle:
            position = handle.tell()
            for slot in sorted(touched):
                case_id, document, metadata, _, _, alive = touched[slot]
                if alive:
                    line = record_line((case_id, document, metadata))
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
        self.snapshot.write_state(
            {**state, "status": CURRENT, "rows": total, "live": live, "log_bytes": log_bytes, "generation": generation}
        )
        self.snapshot.remember_slots(generation, slots)
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
        self.snapshot.write_all(
            [r[0] for r in records], records, view.vectors(alive), view.plan_vectors(alive), str(state.get("embedder", "")), view.dimension
        )
        self.snapshot.remember_slots(-1, None)


def _item(values: Any, index: int) -> Any:
    return None if values is None else values[index]


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
