"""Logging a run to the traces as it happens: its start, every step and call, its end, later rewards.

`RunStore` is the one writer; the queries it inherits (queries.py) read the runs back as typed records.
Secrets never reach the file: settings, tool arguments and previews, subtask results, judgements and errors
are scrubbed (memento.core.secrets) before they are written.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Sequence
from typing import Any

from memento.agent.llm import Usage
from memento.core.errors import AgentError, RunNotFound
from memento.core.secrets import scrub, scrub_text

from .connection import not_found
from .queries import RunReader

__all__ = ["IMAGE_TYPES", "ROLES", "RUN_STATUSES", "SUBTASK_STATUSES", "RunStore"]

SUBTASK_STATUSES = ("done", "failed", "budget")
RUN_STATUSES = ("answered", "budget_exhausted", "failed", "interrupted")
ROLES = ("planner", "executor", "judge")

IMAGE_TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}


class RunStore(RunReader):
    """The run traces: one row per run, one per step, in a SQLite file several processes share.

    Writers take the write lock up front (`BEGIN IMMEDIATE`) and wait up to `timeout_s` for it,
    so two `memento run`s at once queue rather than fail. Close it, or use it as a context manager.
    """

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
            raise self._write_failed(run_id, exc) from exc
        return run_id

    def log_plan(self, run_id: str, cycle: int, subtasks: list[str]) -> None:
        """The planner's subtasks of one cycle."""
        self._log_step(run_id, "plans", [{"cycle": cycle, "subtasks": _dumps(subtasks)}])

    def log_subtask(self, run_id: str, cycle: int, index: int, subtask: str, result: str, status: str) -> None:
        """How one subtask ended: `done`, `failed`, or stopped by the `budget`."""
        _check(status, SUBTASK_STATUSES, "subtask status")
        row = {"cycle": cycle, "position": index, "subtask": subtask, "result": scrub_text(result), "status": status}
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
        row = {"role": role, "model": model, **counts, "latency_s": latency_s, "stop_reason": stop_reason, "error": _scrubbed(error)}
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

    def log_cases_shown(
        self, run_id: str, cases: list[dict[str, Any]], *, temperature: float | None = None, q_version: int | str | None = None
    ) -> None:
        """The past cases put before the planner, in the order shown: each `id`, `task`, `outcome`, `score`;
        the run keeps the temperature they were sampled at (None: greedy) and the Q version that ranked them."""
        rows = [
            {"position": i, "case_id": str(c["id"]), "task": c.get("task", ""), "outcome": c.get("outcome", ""), "score": c.get("score")}
            for i, c in enumerate(cases)
        ]
        self._log_step(run_id, "cases_shown", rows, ("memory_temperature = ?, q_version = ?", (temperature, q_version)))

    def log_report(
        self, run_id: str, *, report: str, sources: Sequence[dict[str, Any]], collected: int = 0, citations_removed: int = 0
    ) -> None:
        """A user-facing run's report, its citations checked: the numbered `sources` it cites ({n, url_or_path, title?}),
        how many sources the run's tools gave (`collected`), how many citations were removed for naming none of them.

        The report is model output that may quote a tool result, and a URL may carry a key in its query: both are scrubbed.
        """
        row = {
            "report": scrub_text(report),
            "sources": _dumps([scrub(dict(source)) for source in sources]),
            "sources_collected": collected,
            "citations_removed": citations_removed,
        }
        self._log_step(run_id, "reports", [row])

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
        reward_kind: str | None = None,
    ) -> None:
        """How the run ended; `usage` becomes its totals, and a reward is also kept in its reward history.

        `reward_kind`: verified, self-assessed (the judge against the run's sources: its source is `self-assessed`)
        or unrated."""
        _check(status, RUN_STATUSES, "run status")
        source = ("judge" if judgement is not None else "run") if reward is not None else None
        if source is not None and reward_kind == "self-assessed":
            source = "self-assessed"
        ending = (
            "answer = ?, status = ?, reward = ?, reward_source = ?, reward_kind = ?, judgement = ?, case_id = ?, stopped_by = ?,"
            " error = ?, input_tokens = ?, output_tokens = ?, cache_read_tokens = ?, cache_write_tokens = ?, cost_usd = ?, finished = ?",
            (
                answer,
                status,
                reward,
                source,
                reward_kind,
                None if judgement is None else _dumps(scrub(judgement)),
                case_id,
                stopped_by,
                _scrubbed(error),
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
        """Correct a run's reward later (a person's verdict, so a verified one); the earlier one stays in its reward history."""
        if not 0.0 <= reward <= 1.0:
            raise ValueError(f"reward must be between 0 and 1, got {reward}")
        run_id = self.resolve(run_id)
        update = ("reward = ?, reward_source = ?, reward_kind = 'verified'", (reward, source))
        self._log_step(run_id, "rewards", [{"reward": reward, "source": source}], update)

    def save_pending_case(self, run_id: str, record: dict[str, Any]) -> None:
        """Keep a run's case for the memory until it has a reward: `record` is `CaseBank.record_episode`'s arguments less `reward`."""
        try:
            with self._writing() as db:
                db.execute(
                    "INSERT OR REPLACE INTO pending_cases (run_id, record, created) VALUES (?, ?, ?)", (run_id, _dumps(record), time.time())
                )
        except sqlite3.IntegrityError as exc:
            raise RunNotFound(not_found(run_id)) from exc
        except sqlite3.Error as exc:
            raise self._write_failed(run_id, exc) from exc

    def pending_case_learned(self, run_id: str, case_id: str) -> None:
        """The memory has learned a pending case (as `case_id`): it waits no more, and the run names its case."""
        try:
            with self._writing() as db:
                if db.execute("UPDATE runs SET case_id = ? WHERE id = ?", (case_id, run_id)).rowcount == 0:
                    raise RunNotFound(not_found(run_id))
                db.execute("UPDATE pending_cases SET learned = ?, case_id = ? WHERE run_id = ?", (time.time(), case_id, run_id))
        except sqlite3.Error as exc:
            raise self._write_failed(run_id, exc) from exc

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
                    raise RunNotFound(not_found(run_id))
                for row in rows:
                    names = ", ".join(row)
                    marks = ", ".join("?" * len(row))
                    db.execute(
                        f"INSERT INTO {table} (run_id, seq, created, {names}) VALUES (?, (SELECT steps FROM runs WHERE id = ?), ?, {marks})",
                        (run_id, run_id, now, *row.values()),
                    )
        except sqlite3.Error as exc:
            raise self._write_failed(run_id, exc) from exc


def _check(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}; got {value!r}")


def _scrubbed(text: str | None) -> str | None:
    # An error message may quote what a vendor or a tool echoed back, keys included.
    return None if text is None else scrub_text(text)


def _dumps(value: Any) -> str:
    # default=str: settings snapshots hold Paths and the like; a trace must not fail over them.
    return json.dumps(value, ensure_ascii=False, default=str)
