"""The connection to `runs.sqlite` that the reader and the writer share: opening, WAL, the write lock, errors.

It brings the schema up to date when it opens the file and turns `sqlite3` errors into `AgentError`s;
it knows no table but the migrations' own.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from memento.core.errors import AgentError

from .schema import apply_migrations

__all__ = ["TraceDB", "not_found"]


class TraceDB:
    """One connection to the traces file, several processes sharing the file.

    Writers take the write lock up front (`BEGIN IMMEDIATE`) and wait up to `timeout_s` for it,
    so two `memento run`s at once queue rather than fail. Close it, or use it as a context manager.
    """

    def __init__(self, path: Path, *, timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()  # one connection, possibly used from worker threads
        try:
            # isolation_level=None: no implicit transactions; every write says BEGIN IMMEDIATE itself.
            self._db = sqlite3.connect(self.path, timeout=timeout_s, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise AgentError(f"Could not open the run traces at {self.path}: {exc}") from exc
        try:
            self._db.row_factory = sqlite3.Row
            self._db.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")
            self._use_wal(timeout_s)
            self._db.execute("PRAGMA synchronous = NORMAL")  # durable enough under WAL, and much faster
            self._db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except sqlite3.Error as exc:
            self._db.close()
            raise AgentError(f"Could not open the run traces at {self.path}: {exc}") from exc
        except BaseException:
            self._db.close()
            raise

    def _use_wal(self, timeout_s: float) -> None:
        """Switch the file to WAL, where readers never block the writer nor it them.

        The switch needs the file to itself, and SQLite answers "locked" at once rather than waiting when
        another process is opening a new file too; so it is retried, within the same time limit as writes.
        """
        deadline = time.monotonic() + timeout_s
        pause = 0.005
        while True:
            try:
                if self._db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    self._db.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, 0.1)

    @classmethod
    def open(cls, home: Path) -> Self:
        """The traces of a state directory: `home / "runs.sqlite"`."""
        return cls(Path(home).expanduser() / "runs.sqlite")

    def close(self) -> None:
        """Release the connection; calling it twice is harmless."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- schema ----------------------------------------------------------------------------

    def _migrate(self) -> None:
        try:
            applied = self.applied_migrations()
        except AgentError:
            applied = []  # a new file: no migrations table yet
        apply_migrations(self._writing, applied)

    def applied_migrations(self) -> list[str]:
        """The names of the applied migrations, in the order they were applied."""
        return [r["name"] for r in self._read("SELECT name FROM migrations ORDER BY rowid")]

    # ---- transactions ----------------------------------------------------------------------

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        try:
            with self._lock:
                return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise AgentError(f"Could not read the run traces at {self.path}: {exc}") from exc

    def _write_failed(self, run_id: str, exc: sqlite3.Error) -> AgentError:
        return AgentError(f"Could not write the trace of {run_id} to {self.path}: {exc}")


def not_found(run_id: str) -> str:
    """What an unknown run id is told."""
    return f"No run with id {run_id!r}; memento runs list shows the runs."
