"""`results.jsonl`: one line per finished task, appended so that a crash loses nothing finished.

Each line is written with one `write` on a file opened for appending and then
synced, so a line is either whole or, when the process dies inside the write,
a tail without its newline; reading drops such a tail (and `repair` cuts it
off), and `--resume` runs that task again. When a task has several lines (a
failed run retried), the last one counts.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["RESULT_FIELDS", "ResultLog", "key_of", "latest"]

# The keys every line carries, in this order (scripts read them: keep them stable).
RESULT_FIELDS = (
    "id",
    "question",
    "truth",
    "answer",
    "score",
    "correct",
    "run_id",
    "iteration",
    "attempt",
    "tokens",
    "cost_usd",
    "seconds",
    "status",
)

Key = tuple[str, int, int]


def key_of(row: dict[str, Any]) -> Key:
    """(task id, iteration, attempt): what identifies one unit of work."""
    return str(row["id"]), int(row["iteration"]), int(row["attempt"])


def latest(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per key, the last written, in the order the keys first appeared."""
    by_key: dict[Key, dict[str, Any]] = {}
    for row in rows:
        by_key[key_of(row)] = row
    return list(by_key.values())


@dataclass
class ResultLog:
    """The append-only result file of one eval folder."""

    path: Path

    def read(self) -> list[dict[str, Any]]:
        """Every whole line (a torn last line is left out)."""
        if not self.path.exists():
            return []
        data = self.path.read_bytes()
        whole = data[: data.rfind(b"\n") + 1]
        rows = []
        for number, line in enumerate(whole.splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{self.path}:{number} is not JSON ({exc.msg}); the file was edited by hand?") from None
        return rows

    def repair(self) -> int:
        """Cut a torn last line off (from a process killed mid-write); the bytes removed."""
        if not self.path.exists():
            return 0
        size = self.path.stat().st_size
        if not size:
            return 0
        with self.path.open("rb+") as handle:
            data = handle.read()
            keep = data.rfind(b"\n") + 1
            if keep < size:
                handle.truncate(keep)
                os.fsync(handle.fileno())
        return size - keep

    def append(self, row: dict[str, Any]) -> None:
        """Write `row` as one line, whole, and sync it to disk before returning."""
        missing = [name for name in RESULT_FIELDS if name not in row]
        if missing:
            raise ValueError(f"a result line needs {', '.join(missing)}")
        line = (json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            written = os.write(fd, line)
            while written < len(line):  # only on a full disk or a signal mid-way; finish the line
                written += os.write(fd, line[written:])
            os.fsync(fd)
        finally:
            os.close(fd)
