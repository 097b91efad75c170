"""The schema of `runs.sqlite`: its append-only named migrations, and applying the missing ones.

An applied migration is never edited; a change to the schema is a new one at the end of `MIGRATIONS`.
Nothing here reads or writes a run: that is the store's and the queries' work.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

__all__ = ["MIGRATIONS", "apply_migrations"]


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


def _m007_reports(db: sqlite3.Connection) -> None:
    # A user-facing run's report (answer mode `report`) with the numbered sources it cites ({n, url_or_path, title?}),
    # how many sources the run's tools gave in all, and how many citations were removed for naming none of them.
    db.execute(
        """CREATE TABLE reports (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL REFERENCES runs(id),
            seq INTEGER NOT NULL,
            report TEXT NOT NULL,
            sources TEXT NOT NULL,
            sources_collected INTEGER NOT NULL,
            citations_removed INTEGER NOT NULL,
            created REAL NOT NULL
        )"""
    )
    db.execute("CREATE INDEX reports_run ON reports(run_id, seq)")


def _m008_memory_read(db: sqlite3.Connection) -> None:
    # How the memory was read and how sure the reward is: the temperature the cases were sampled at (NULL: greedy),
    # the Q-function version that ranked them (NULL: none), and the reward's kind (verified | self-assessed | unrated).
    db.execute("ALTER TABLE runs ADD COLUMN memory_temperature REAL")
    db.execute("ALTER TABLE runs ADD COLUMN q_version")  # no type: a version number or name is kept as given
    db.execute("ALTER TABLE runs ADD COLUMN reward_kind TEXT")


MIGRATIONS: list[tuple[str, Callable[[sqlite3.Connection], None]]] = [
    ("m001_runs", _m001_runs),
    ("m002_steps", _m002_steps),
    ("m003_rewards", _m003_rewards),
    ("m004_pending_cases", _m004_pending_cases),
    ("m005_tool_images", _m005_tool_images),
    ("m006_run_owner", _m006_run_owner),
    ("m007_reports", _m007_reports),
    ("m008_memory_read", _m008_memory_read),
]


def apply_migrations(writing: Callable[[], AbstractContextManager[sqlite3.Connection]], applied: list[str]) -> None:
    """Apply the migrations not yet in `applied`, each in its own write transaction that `writing()` opens.

    Each is re-checked under the write lock: two processes opening a new file at once apply it once.
    """
    if {name for name, _ in MIGRATIONS} <= set(applied):
        return  # the usual case: nothing to do, and no write lock taken
    with writing() as db:
        db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied REAL NOT NULL)")
    for name, migration in MIGRATIONS:
        with writing() as db:
            if db.execute("SELECT 1 FROM migrations WHERE name = ?", (name,)).fetchone():
                continue
            migration(db)
            db.execute("INSERT INTO migrations (name, applied) VALUES (?, ?)", (name, time.time()))
