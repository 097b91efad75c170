"""Reading the run traces back as typed records: one run with every step, the run list, the runs a case was shown in.

The one write here is `settle_cut_off`, which marks a run whose process died as interrupted so that readers
do not see it running forever. Logging a run is the store's work (store.py), never the queries'.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from memento.agent.llm import Usage
from memento.core.errors import RunNotFound

from .connection import TraceDB, not_found
from .records import (
    CaseShown,
    ModelCallRecord,
    PlanRecord,
    ReportRecord,
    RewardRecord,
    RunRecord,
    RunShowing,
    RunSummary,
    SubtaskRecord,
    ToolCallRecord,
)

__all__ = ["CUT_OFF", "IMAGE_NAME", "RunReader"]

CUT_OFF = "the process running it ended before it finished (killed or crashed)"

IMAGE_NAME = re.compile(r"^[0-9a-f]{16}\.(png|jpg|gif|webp)$")


class RunReader(TraceDB):
    """The queries over the traces file; `RunStore` adds the writing to them."""

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
            raise RunNotFound(not_found(run_id))
        if len(found) > 1:
            raise RunNotFound(f"{run_id!r} matches several runs ({', '.join(found[:3])}…); give more of the id.")
        return found[0]

    def list_runs(self, limit: int = 50, status: str | None = None, search: str | None = None) -> list[RunSummary]:
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
            RunSummary(
                id=r["id"],
                task=r["task"],
                status=r["status"],
                answer=r["answer"],
                reward=r["reward"],
                planner=r["planner"],
                executor=r["executor"],
                tokens=_usage(r).total_tokens,
                cost_usd=round(r["cost_usd"], 6),
                seconds=_seconds(r),
                started=_iso(r["started"]),
            )
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

    def runs_showing(self, case_id: str, limit: int = 50) -> list[RunShowing]:
        """The runs a case was shown in, newest first, with their status and reward."""
        rows = self._read(
            "SELECT r.id, r.task, r.status, r.reward, r.started, c.score FROM cases_shown c JOIN runs r ON r.id = c.run_id "
            "WHERE c.case_id = ? ORDER BY r.started DESC LIMIT ?",
            (case_id, max(0, limit)),
        )
        return [
            RunShowing(id=r["id"], task=r["task"], status=r["status"], reward=r["reward"], score=r["score"], started=_iso(r["started"]))
            for r in rows
        ]

    def changes(self, run_id: str) -> tuple[str, int]:
        """(status, steps) of a run: what a live view polls to know whether anything happened."""
        self.settle_cut_off(run_id)
        rows = self._read("SELECT status, steps FROM runs WHERE id = ?", (run_id,))
        if not rows:
            raise RunNotFound(not_found(run_id))
        return rows[0]["status"], rows[0]["steps"]

    def pending_case(self, run_id: str) -> dict[str, Any] | None:
        """The case a run left waiting for a reward (`CaseBank.record_episode`'s arguments less `reward`), or None."""
        rows = self._read("SELECT record FROM pending_cases WHERE run_id = ? AND learned IS NULL", (run_id,))
        return json.loads(rows[0]["record"]) if rows else None

    def image_path(self, run_id: str, name: str) -> Path | None:
        """The file of an image a tool call of `run_id` returned, or None for a name that is not one."""
        if not IMAGE_NAME.match(name) or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", run_id):
            return None
        path = self.path.parent / "run-images" / run_id / name
        return path if path.is_file() else None

    def get_run(self, run_id: str) -> RunRecord:
        """The run and every step of it, each list in time order (`run_id` may be a unique prefix)."""
        run_id = self.resolve(run_id)
        self.settle_cut_off(run_id)
        run = self._read("SELECT * FROM runs WHERE id = ?", (run_id,))[0]
        start = run["started"]

        def steps(table: str) -> list[sqlite3.Row]:
            return self._read(f"SELECT * FROM {table} WHERE run_id = ? ORDER BY seq, id", (run_id,))

        def at(row: sqlite3.Row) -> dict[str, Any]:
            return {"step": row["seq"], "offset_s": round(row["created"] - start, 3)}

        return RunRecord(
            id=run["id"],
            task=run["task"],
            source=run["source"],
            status=run["status"],
            planner=run["planner"],
            executor=run["executor"],
            settings=json.loads(run["settings"]),
            files=json.loads(run["files"]),
            answer=run["answer"],
            reward=run["reward"],
            reward_source=run["reward_source"],
            judgement=None if run["judgement"] is None else json.loads(run["judgement"]),
            case_id=run["case_id"],
            case_pending=bool(self._read("SELECT 1 FROM pending_cases WHERE run_id = ? AND learned IS NULL", (run_id,))),
            stopped_by=run["stopped_by"],
            error=run["error"],
            usage=_usage(run),
            started=_iso(start),
            finished=None if run["finished"] is None else _iso(run["finished"]),
            seconds=_seconds(run),
            started_ts=start,
            finished_ts=run["finished"],
            cases_shown=[
                CaseShown(id=r["case_id"], task=r["task"], outcome=r["outcome"], score=r["score"], **at(r)) for r in steps("cases_shown")
            ],
            plans=[PlanRecord(cycle=r["cycle"], subtasks=json.loads(r["subtasks"]), **at(r)) for r in steps("plans")],
            subtasks=[
                SubtaskRecord(cycle=r["cycle"], index=r["position"], subtask=r["subtask"], result=r["result"], status=r["status"], **at(r))
                for r in steps("subtasks")
            ],
            model_calls=[
                ModelCallRecord(
                    role=r["role"],
                    model=r["model"],
                    usage=_usage(r),
                    latency_s=r["latency_s"],
                    stop_reason=r["stop_reason"],
                    error=r["error"],
                    **at(r),
                )
                for r in steps("model_calls")
            ],
            tool_calls=[
                ToolCallRecord(
                    server=r["server"],
                    tool=r["tool"],
                    arguments=json.loads(r["arguments"]),
                    result_chars=r["result_chars"],
                    is_error=bool(r["is_error"]),
                    seconds=r["seconds"],
                    preview=r["preview"],
                    truncated=bool(r["truncated"]),
                    restarted=bool(r["restarted"]),
                    images=json.loads(r["images"]),
                    **at(r),
                )
                for r in steps("tool_calls")
            ],
            rewards=[RewardRecord(reward=r["reward"], source=r["source"], **at(r)) for r in steps("rewards")],
            report=next(
                (
                    ReportRecord(
                        text=r["report"],
                        sources=json.loads(r["sources"]),
                        sources_collected=r["sources_collected"],
                        citations_removed=r["citations_removed"],
                        **at(r),
                    )
                    for r in reversed(steps("reports"))
                ),
                None,
            ),
            reward_kind=run["reward_kind"],
            temperature=run["memory_temperature"],
            q_version=run["q_version"],
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _usage(row: sqlite3.Row) -> Usage:
    return Usage(row["input_tokens"], row["output_tokens"], row["cache_read_tokens"], row["cache_write_tokens"], row["cost_usd"])


def _seconds(row: sqlite3.Row) -> float | None:
    return None if row["finished"] is None else round(row["finished"] - row["started"], 3)


def _iso(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, UTC).isoformat(timespec="seconds")
