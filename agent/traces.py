"""Every agent run, logged to `MEMENTO_HOME/runs.sqlite` as it happens: plans, subtasks, model and tool calls, cases shown.

`RunStore` is the only writer and reader; the schema grows by append-only named migrations.
Secrets never reach the file: settings and tool arguments are scrubbed before they are written.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from memento.agent.llm import Usage
from memento.core.errors import AgentError, RunNotFound

__all__ = ["MIGRATIONS", "RunStore", "scrub", "scrub_text"]

SUBTASK_STATUSES = ("done", "failed", "budget")
RUN_STATUSES = ("answered", "budget_exhausted", "failed", "interrupted")
ROLES = ("planner", "executor", "judge")

# `token` alone or as a suffix/prefix (access_token, token_url) is a secret; `tokens` is a count (max_tokens).
_SECRET_KEY = re.compile(r"api[_-]?key|authorization|secret|password|token(?!s)", re.IGNORECASE)
MASK = "***"


# Values that are credentials whatever their key: vendor key formats and bearer tokens.
_SECRET_VALUE = re.compile(
    r"\b(?:sk-ant-[A-Za-z0-9_-]{8,}|sk-(?:proj-)?[A-Za-z0-9_-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}"
    r"|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{30,})"
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/-]{16,}=*"
)


def scrub_text(text: str) -> str:
    """`text` with anything shaped like an API key or a bearer token replaced by `***`."""
    return _SECRET_VALUE.sub(MASK, text)


def scrub(value: Any) -> Any:
    """A copy of `value` where every dict entry whose key names a secret, at any depth, is `"***"`,
    and every string shaped like a credential is masked."""
    if isinstance(value, dict):
        return {k: MASK if isinstance(k, str) and _SECRET_KEY.search(k) else scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value


# ---- migrations: append only; an applied one is never edited, a change is a new one --------------


def _m001_runs(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            task TEXT NOT NULL,
            source TEXT NOT NULL,
            planner TEXT NOT NULL,
            executor TEXT NOT NULL,
            settings TEXT NOT NULL,
            files TEXT NOT NULL,
            status TEXT NOT NULL,
            answer TEXT NOT NULL DEFAULT '',
            reward REAL,
            reward_source TEXT,
            judgement TEXT,
            case_id TEXT,
            stopped_by TEXT,
            error TEXT,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            cache_read_tokens INTEGER NOT NULL DEFAULT 0,
            cache_write_tokens INTEGER NOT NULL DEFAULT 0,
            cost_usd REAL NOT NULL DEFAULT 0,
            started REAL NOT NULL,
            finished REAL,
            steps INTEGER NOT NULL DEFAULT 0
        )"""
    )
    db.execute("CREATE INDEX runs_started ON runs(started)")


def _m002_steps(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE plans (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL REFERENCES runs(id),
            seq INTEGER NOT NULL,
            cycle INTEGER NOT NULL,
            subtasks TEXT NOT NULL,
            created REAL NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE subtasks (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL REFERENCES runs(id),
            seq INTEGER NOT NULL,
            cycle INTEGER NOT NULL,
            position INTEGER NOT NULL,
            subtask TEXT NOT NULL,
            result TEXT NOT NULL,
            status TEXT NOT NULL,
            created REAL NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE model_calls (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL REFERENCES runs(id),
            seq INTEGER NOT NULL,
            role TEXT NOT NULL,
            model TEXT NOT NULL,
            input_tokens INTEGER NOT NULL,
            output_tokens INTEGER NOT NULL,
            cache_read_tokens INTEGER NOT NULL,
            cache_write_tokens INTEGER NOT NULL,
            cost_usd REAL NOT NULL,
            latency_s REAL NOT NULL,
            stop_reason TEXT NOT NULL,
            error TEXT,
            created REAL NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE tool_calls (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL REFERENCES runs(id),
            seq INTEGER NOT NULL,
            server TEXT NOT NULL,
            tool TEXT NOT NULL,
            arguments TEXT NOT NULL,
            result_chars INTEGER NOT NULL,
            is_error INTEGER NOT NULL,
            seconds REAL NOT NULL,
            preview TEXT NOT NULL,
            truncated INTEGER NOT NULL,
            restarted INTEGER NOT NULL,
            created REAL NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE cases_shown (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL REFERENCES runs(id),
            seq INTEGER NOT NULL,
            position INTEGER NOT NULL,
            case_id TEXT NOT NULL,
            task TEXT NOT NULL,
            outcome TEXT NOT NULL,
            score REAL,
            created REAL NOT NULL
        )"""
    )
    for table in ("plans", "subtasks", "model_calls", "tool_calls", "cases_shown"):
        db.execute(f"CREATE INDEX {table}_run ON {table}(run_id, seq)")


def _m003_rewards(db: sqlite3.Connection) -> None:
    # Every reward a run was given, in order: the judge's at the end, then any later feedback.
    db.execute(
        """CREATE TABLE rewards (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL REFERENCES runs(id),
            seq INTEGER NOT NULL,
            reward REAL NOT NULL,
            source TEXT NOT NULL,
            created REAL NOT NULL
        )"""
    )
    db.execute("CREATE INDEX rewards_run ON rewards(run_id, seq)")


def _m004_pending_cases(db: sqlite3.Connection) -> None:
    # A run without a reward is not learned from: its case waits here (the keyword arguments of
    # CaseBank.record_episode, less the reward) until `memento feedback` gives one.
    db.execute(
        """CREATE TABLE pending_cases (
            run_id TEXT PRIMARY KEY REFERENCES runs(id),
            record TEXT NOT NULL,
            created REAL NOT NULL,
            learned REAL,
            case_id TEXT
        )"""
    )


def _m005_tool_images(db: sqlite3.Connection) -> None:
    # The images a tool returned (screenshots, plots), kept as files beside the database: their names here.
    db.execute("ALTER TABLE tool_calls ADD COLUMN images TEXT NOT NULL DEFAULT '[]'")


def _m006_run_owner(db: sqlite3.Connection) -> None:
    # The process that runs a run: a `running` run whose process is gone was cut off (SIGKILL, a crash).
    db.execute("ALTER TABLE runs ADD COLUMN host TEXT")
    db.execute("ALTER TABLE runs ADD COLUMN pid INTEGER")


MIGRATIONS: list[tuple[str, Callable[[sqlite3.Connection], None]]] = [
    ("m001_runs", _m001_runs),
    ("m002_steps", _m002_steps),
    ("m003_rewards", _m003_rewards),
    ("m004_pending_cases", _m004_pending_cases),
    ("m005_tool_images", _m005_tool_images),
    ("m006_run_owner", _m006_run_owner),
]

CUT_OFF = "the process running it ended before it finished (killed or crashed)"

IMAGE_TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}
IMAGE_NAME = re.compile(r"^[0-9a-f]{16}\.(png|jpg|gif|webp)$")


class RunStore:
    """The run traces: one row per run, one per step, in a SQLite file several processes share.

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
    def open(cls, home: Path) -> RunStore:
        """The store of a state directory: `home / "runs.sqlite"`."""
        return cls(Path(home).expanduser() / "runs.sqlite")

    def close(self) -> None:
        """Release the connection; calling it twice is harmless."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- schema ----------------------------------------------------------------------------

    def _migrate(self) -> None:
        try:
            if {name for name, _ in MIGRATIONS} <= set(self.applied_migrations()):
                return  # the usual case: nothing to do, and no write lock taken
        except AgentError:
            pass  # a new file: no migrations table yet
        with self._writing() as db:
            db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied REAL NOT NULL)")
        for name, migration in MIGRATIONS:
            # Each under the write lock, re-checked inside it: two processes opening a new file apply it once.
            with self._writing() as db:
                if db.execute("SELECT 1 FROM migrations WHERE name = ?", (name,)).fetchone():
                    continue
                migration(db)
                db.execute("INSERT INTO migrations (name, applied) VALUES (?, ?)", (name, time.time()))

    def applied_migrations(self) -> list[str]:
        """The names of the applied migrations, in the order they were applied."""
        return [r["name"] for r in self._read("SELECT name FROM migrations ORDER BY rowid")]

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

    def _log_step(self, run_id: str, table: str, rows: list[dict[str, Any]], run_update: tuple[str, tuple[Any, ...]] | None = None) -> None:
        """One step of a run in one transaction: its rows in `table`, all with the run's next step number.

        The step number (`seq`) orders a run's steps across tables exactly, where clocks are too coarse.
        Bumping it first also finds an unknown run: no row changes. `run_update` is a `SET …` of the run's own row.
        """
        now = time.time()
        assignments = "steps = steps + 1" + (", " + run_update[0] if run_update else "")
        try:
            with self._writing() as db:
                bumped = db.execute(f"UPDATE runs SET {assignments} WHERE id = ?", (*(run_update[1] if run_update else ()), run_id))
                if bumped.rowcount == 0:
                    raise RunNotFound(_not_found(run_id))
                for row in rows:
                    names = ", ".join(row)
                    marks = ", ".join("?" * len(row))
                    db.execute(
                        f"INSERT INTO {table} (run_id, seq, created, {names}) VALUES (?, (SELECT steps FROM runs WHERE id = ?), ?, {marks})",
                        (run_id, run_id, now, *row.values()),
                    )
        except sqlite3.Error as exc:
            raise AgentError(f"Could not write the trace of {run_id} to {self.path}: {exc}") from exc

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        try:
            with self._lock:
                return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise AgentError(f"Could not read the run traces at {self.path}: {exc}") from exc

    # ---- writing a run ---------------------------------------------------------------------

    def start_run(
        self,
        task: str,
        *,
        planner: str,
        executor: str,
        settings: dict[str, Any],
        files: Sequence[str] = (),
        source: str = "user",
        run_id: str | None = None,
    ) -> str:
        """Record a new run as `running`; returns its id (`run-` and 12 hex digits unless given)."""
        run_id = run_id or "run-" + uuid.uuid4().hex[:12]
        try:
            with self._writing() as db:
                db.execute(
                    "INSERT INTO runs (id, task, source, planner, executor, settings, files, status, started, host, pid)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?)",
                    (
                        run_id,
                        task,
                        source,
                        planner,
                        executor,
                        _dumps(scrub(settings)),
                        _dumps(list(files)),
                        time.time(),
                        socket.gethostname(),
                        os.getpid(),
                    ),
                )
        except sqlite3.IntegrityError as exc:
            raise AgentError(f"A run with id {run_id!r} is already stored; pick another id.") from exc
        except sqlite3.Error as exc:
            raise AgentError(f"Could not write the trace of {run_id} to {self.path}: {exc}") from exc
        return run_id

    def log_plan(self, run_id: str, cycle: int, subtasks: list[str]) -> None:
        """The planner's subtasks of one cycle."""
        self._log_step(run_id, "plans", [{"cycle": cycle, "subtasks": _dumps(subtasks)}])

    def log_subtask(self, run_id: str, cycle: int, index: int, subtask: str, result: str, status: str) -> None:
        """How one subtask ended: `done`, `failed`, or stopped by the `budget`."""
        _check(status, SUBTASK_STATUSES, "subtask status")
        row = {"cycle": cycle, "position": index, "subtask": subtask, "result": result, "status": status}
        self._log_step(run_id, "subtasks", [row])

    def log_model_call(
        self,
        run_id: str,
        *,
        role: str,
        model: str,
        usage: Usage,
        latency_s: float,
        stop_reason: str = "",
        error: str | None = None,
    ) -> None:
        """One model call; the run's running totals grow with it until `finish_run` sets the final ones."""
        _check(role, ROLES, "role")
        counts = {
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cache_read_tokens": usage.cache_read_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
            "cost_usd": usage.cost_usd,
        }
        row = {"role": role, "model": model, **counts, "latency_s": latency_s, "stop_reason": stop_reason, "error": error}
        running_totals = ", ".join(f"{name} = {name} + ?" for name in counts)
        self._log_step(run_id, "model_calls", [row], (running_totals, tuple(counts.values())))

    def log_tool_call(
        self,
        run_id: str,
        *,
        server: str,
        tool: str,
        arguments: dict[str, Any],
        result_chars: int,
        is_error: bool,
        seconds: float,
        preview: str = "",
        truncated: bool = False,
        restarted: bool = False,
        images: Sequence[tuple[str, bytes]] = (),
    ) -> None:
        """One MCP tool call: its (scrubbed) arguments, how much came back, how long it took, whether it failed.

        `images` are (MIME type, bytes) of the images it returned; they are kept as files under
        `run-images/RUN_ID/` beside the database (what `image_path` finds), their names in the row.
        """
        names = self._save_images(run_id, images)
        row = {
            "server": server,
            "tool": tool,
            "arguments": _dumps(scrub(arguments)),
            "result_chars": result_chars,
            "is_error": is_error,
            "seconds": seconds,
            "preview": scrub_text(preview),
            "truncated": truncated,
            "restarted": restarted,
            "images": _dumps(names),
        }
        self._log_step(run_id, "tool_calls", [row])

    def _save_images(self, run_id: str, images: Sequence[tuple[str, bytes]]) -> list[str]:
        names = []
        for mime_type, data in images:
            kind = IMAGE_TYPES.get(mime_type)
            if kind is None or not data:
                continue
            folder = self.path.parent / "run-images" / run_id
            folder.mkdir(parents=True, exist_ok=True)
            name = f"{uuid.uuid4().hex[:16]}.{kind}"
            (folder / name).write_bytes(data)
            names.append(name)
        return names

    def image_path(self, run_id: str, name: str) -> Path | None:
        """The file of an image a tool call of `run_id` returned, or None for a name that is not one."""
        if not IMAGE_NAME.match(name) or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", run_id):
            return None
        path = self.path.parent / "run-images" / run_id / name
        return path if path.is_file() else None

    def log_cases_shown(self, run_id: str, cases: list[dict[str, Any]]) -> None:
        """The past cases put before the planner, in the order shown: each `id`, `task`, `outcome`, `score`."""
        rows = [
            {"position": i, "case_id": str(c["id"]), "task": c.get("task", ""), "outcome": c.get("outcome", ""), "score": c.get("score")}
            for i, c in enumerate(cases)
        ]
        self._log_step(run_id, "cases_shown", rows)

    def finish_run(
        self,
        run_id: str,
        *,
        answer: str,
        status: str,
        reward: float | None,
        judgement: dict[str, Any] | None,
        case_id: str | None,
        usage: Usage,
        stopped_by: str | None = None,
        error: str | None = None,
    ) -> None:
        """How the run ended; `usage` becomes its totals, and a reward is also kept in its reward history."""
        _check(status, RUN_STATUSES, "run status")
        source = ("judge" if judgement is not None else "run") if reward is not None else None
        ending = (
            "answer = ?, status = ?, reward = ?, reward_source = ?, judgement = ?, case_id = ?, stopped_by = ?, error = ?,"
            " input_tokens = ?, output_tokens = ?, cache_read_tokens = ?, cache_write_tokens = ?, cost_usd = ?, finished = ?",
            (
                answer,
                status,
                reward,
                source,
                None if judgement is None else _dumps(scrub(judgement)),
                case_id,
                stopped_by,
                error,
                usage.input_tokens,
                usage.output_tokens,
                usage.cache_read_tokens,
                usage.cache_write_tokens,
                usage.cost_usd,
                time.time(),
            ),
        )
        self._log_step(run_id, "rewards", [] if reward is None else [{"reward": reward, "source": source}], ending)

    def set_reward(self, run_id: str, reward: float, source: str = "feedback") -> None:
        """Correct a run's reward later (a person's verdict); the earlier one stays in its reward history."""
        if not 0.0 <= reward <= 1.0:
            raise ValueError(f"reward must be between 0 and 1, got {reward}")
        run_id = self.resolve(run_id)
        self._log_step(run_id, "rewards", [{"reward": reward, "source": source}], ("reward = ?, reward_source = ?", (reward, source)))

    def save_pending_case(self, run_id: str, record: dict[str, Any]) -> None:
        """Keep a run's case for the memory until it has a reward: `record` is `CaseBank.record_episode`'s arguments less `reward`."""
        try:
            with self._writing() as db:
                db.execute(
                    "INSERT OR REPLACE INTO pending_cases (run_id, record, created) VALUES (?, ?, ?)", (run_id, _dumps(record), time.time())
                )
        except sqlite3.IntegrityError as exc:
            raise RunNotFound(_not_found(run_id)) from exc
        except sqlite3.Error as exc:
            raise AgentError(f"Could not write the trace of {run_id} to {self.path}: {exc}") from exc

    def pending_case(self, run_id: str) -> dict[str, Any] | None:
        """The case a run left waiting for a reward, or None (none kept, or already learned)."""
        rows = self._read("SELECT record FROM pending_cases WHERE run_id = ? AND learned IS NULL", (run_id,))
        return json.loads(rows[0]["record"]) if rows else None

    def pending_case_learned(self, run_id: str, case_id: str) -> None:
        """The memory has learned a pending case (as `case_id`): it waits no more, and the run names its case."""
        try:
            with self._writing() as db:
                if db.execute("UPDATE runs SET case_id = ? WHERE id = ?", (case_id, run_id)).rowcount == 0:
                    raise RunNotFound(_not_found(run_id))
                db.execute("UPDATE pending_cases SET learned = ?, case_id = ? WHERE run_id = ?", (time.time(), case_id, run_id))
        except sqlite3.Error as exc:
            raise AgentError(f"Could not write the trace of {run_id} to {self.path}: {exc}") from exc

    # ---- reading ---------------------------------------------------------------------------

    def resolve(self, run_id: str) -> str:
        """The full id of the one run whose id is `run_id` or starts with it (`run-` may be left off)."""
        prefixes = [run_id] if run_id.startswith("run-") else [run_id, "run-" + run_id]
        for prefix in prefixes:
            if self._read("SELECT 1 FROM runs WHERE id = ?", (prefix,)):
                return prefix
        found: list[str] = []
        for prefix in prefixes:
            pattern = _escape_like(prefix) + "%"
            found += [
                r["id"] for r in self._read("SELECT id FROM runs WHERE id LIKE ? ESCAPE '\\' ORDER BY started DESC LIMIT 3", (pattern,))
            ]
        found = list(dict.fromkeys(found))
        if not run_id or not found:
            raise RunNotFound(_not_found(run_id))
        if len(found) > 1:
            raise RunNotFound(f"{run_id!r} matches several runs ({', '.join(found[:3])}…); give more of the id.")
        return found[0]

    def list_runs(self, limit: int = 50, status: str | None = None, search: str | None = None) -> list[dict[str, Any]]:
        """The latest runs, newest first; `status` keeps one status, `search` runs whose task or answer contains it."""
        self.settle_cut_off()
        where, params = [], []
        if status:
            where.append("status = ?")
            params.append(status)
        if search:
            where.append("(task LIKE ? ESCAPE '\\' OR answer LIKE ? ESCAPE '\\')")
            params += ["%" + _escape_like(search) + "%"] * 2
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        rows = self._read(f"SELECT * FROM runs {clause} ORDER BY started DESC, rowid DESC LIMIT ?", (*params, max(0, limit)))
        return [
            {
                "id": r["id"],
                "task": r["task"],
                "status": r["status"],
                "answer": r["answer"],
                "reward": r["reward"],
                "planner": r["planner"],
                "executor": r["executor"],
                "tokens": _usage(r).total_tokens,
                "cost_usd": round(r["cost_usd"], 6),
                "seconds": _seconds(r),
                "started": _iso(r["started"]),
            }
            for r in rows
        ]

    def settle_cut_off(self, run_id: str | None = None) -> int:
        """Mark `interrupted` the running runs (of this machine) whose process is gone; how many.

        A run's own process ends it cleanly on errors, Ctrl-C and SIGTERM; only a kill or a crash
        leaves it `running`, and readers call this so such a run does not look alive forever.
        """
        clause, params = ("AND id = ?", (run_id,)) if run_id else ("", ())
        rows = self._read(f"SELECT id, pid FROM runs WHERE status = 'running' AND host = ? {clause}", (socket.gethostname(), *params))
        gone = [r["id"] for r in rows if r["pid"] and not _alive(r["pid"])]
        for dead in gone:
            with self._writing() as db:
                db.execute(
                    "UPDATE runs SET status = 'interrupted', error = ?, finished = ? WHERE id = ? AND status = 'running'",
                    (CUT_OFF, time.time(), dead),
                )
        return len(gone)

    def runs_showing(self, case_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """The runs a case was shown in, newest first, with their status and reward."""
        rows = self._read(
            "SELECT r.id, r.task, r.status, r.reward, r.started, c.score FROM cases_shown c JOIN runs r ON r.id = c.run_id "
            "WHERE c.case_id = ? ORDER BY r.started DESC LIMIT ?",
            (case_id, max(0, limit)),
        )
        return [
            {
                "id": r["id"],
                "task": r["task"],
                "status": r["status"],
                "reward": r["reward"],
                "score": r["score"],
                "started": _iso(r["started"]),
            }
            for r in rows
        ]

    def changes(self, run_id: str) -> tuple[str, int]:
        """(status, steps) of a run: what a live view polls to know whether anything happened."""
        self.settle_cut_off(run_id)
        rows = self._read("SELECT status, steps FROM runs WHERE id = ?", (run_id,))
        if not rows:
            raise RunNotFound(_not_found(run_id))
        return rows[0]["status"], rows[0]["steps"]

    def get_run(self, run_id: str) -> dict[str, Any]:
        """The run and every step of it, each list in time order: `step` numbers a run's steps across lists, `offset_s` is from its start."""
        run_id = self.resolve(run_id)
        self.settle_cut_off(run_id)
        run = self._read("SELECT * FROM runs WHERE id = ?", (run_id,))[0]
        start = run["started"]

        def steps(table: str) -> list[sqlite3.Row]:
            return self._read(f"SELECT * FROM {table} WHERE run_id = ? ORDER BY seq, id", (run_id,))

        def at(row: sqlite3.Row) -> dict[str, Any]:
            return {"step": row["seq"], "offset_s": round(row["created"] - start, 3)}

        plans = [{"cycle": r["cycle"], "subtasks": json.loads(r["subtasks"]), **at(r)} for r in steps("plans")]
        subtasks = [
            {
                "cycle": r["cycle"],
                "index": r["position"],
                "subtask": r["subtask"],
                "result": r["result"],
                "status": r["status"],
                **at(r),
            }
            for r in steps("subtasks")
        ]
        model_calls = [
            {
                "role": r["role"],
                "model": r["model"],
                "usage": _usage(r).to_json(),
                "latency_s": r["latency_s"],
                "stop_reason": r["stop_reason"],
                "error": r["error"],
                **at(r),
            }
            for r in steps("model_calls")
        ]
        tool_calls = [
            {
                "server": r["server"],
                "tool": r["tool"],
                "arguments": json.loads(r["arguments"]),
                "result_chars": r["result_chars"],
                "is_error": bool(r["is_error"]),
                "seconds": r["seconds"],
                "preview": r["preview"],
                "truncated": bool(r["truncated"]),
                "restarted": bool(r["restarted"]),
                "images": json.loads(r["images"]),
                **at(r),
            }
            for r in steps("tool_calls")
        ]
        cases = [
            {"id": r["case_id"], "task": r["task"], "outcome": r["outcome"], "score": r["score"], **at(r)} for r in steps("cases_shown")
        ]
        rewards = [{"reward": r["reward"], "source": r["source"], **at(r)} for r in steps("rewards")]
        called = sum((_usage(r) for r in steps("model_calls")), Usage())
        usage = _usage(run)
        return {
            "id": run["id"],
            "task": run["task"],
            "source": run["source"],
            "status": run["status"],
            "planner": run["planner"],
            "executor": run["executor"],
            "settings": json.loads(run["settings"]),
            "files": json.loads(run["files"]),
            "answer": run["answer"],
            "reward": run["reward"],
            "reward_source": run["reward_source"],
            "judgement": None if run["judgement"] is None else json.loads(run["judgement"]),
            "case_id": run["case_id"],
            "case_pending": bool(self._read("SELECT 1 FROM pending_cases WHERE run_id = ? AND learned IS NULL", (run_id,))),
            "stopped_by": run["stopped_by"],
            "error": run["error"],
            "usage": usage.to_json(),
            "tokens": usage.total_tokens,
            "cost_usd": round(usage.cost_usd, 6),
            "started": _iso(start),
            "finished": None if run["finished"] is None else _iso(run["finished"]),
            "seconds": _seconds(run),
            "started_ts": start,  # seconds since the epoch, unrounded: what timings are measured from
            "finished_ts": run["finished"],
            "cases_shown": cases,
            "plans": plans,
            "subtasks": subtasks,
            "model_calls": model_calls,
            "tool_calls": tool_calls,
            "rewards": rewards,
            "totals": {
                "cycles": len({p["cycle"] for p in plans}),
                "subtasks": len(subtasks),
                "model_calls": len(model_calls),
                "model_tokens": called.total_tokens,
                "model_cost_usd": round(called.cost_usd, 6),
                "model_seconds": round(sum(c["latency_s"] for c in model_calls), 3),
                "tool_calls": len(tool_calls),
                "tool_errors": sum(c["is_error"] for c in tool_calls),
                "tool_seconds": round(sum(c["seconds"] for c in tool_calls), 3),
            },
        }


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _check(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}; got {value!r}")


def _not_found(run_id: str) -> str:
    return f"No run with id {run_id!r}; memento runs list shows the runs."


def _dumps(value: Any) -> str:
    # default=str: settings snapshots hold Paths and the like; a trace must not fail over them.
    return json.dumps(value, ensure_ascii=False, default=str)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _usage(row: sqlite3.Row) -> Usage:
    return Usage(row["input_tokens"], row["output_tokens"], row["cache_read_tokens"], row["cache_write_tokens"], row["cost_usd"])


def _seconds(row: sqlite3.Row) -> float | None:
    return None if row["finished"] is None else round(row["finished"] - row["started"], 3)


def _iso(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, UTC).isoformat(timespec="seconds")
