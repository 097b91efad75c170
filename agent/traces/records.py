"""The typed records the run traces are read back as: a run, its steps (plans, subtasks, cases shown, rewards) and its calls.

Plain frozen dataclasses, built from rows by the queries; `to_json()` gives the shape `memento runs … --json`
prints, which is a public interface: its keys never change. They hold no connection and do no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from memento.agent.llm import Usage

__all__ = [
    "CaseShown",
    "ModelCallRecord",
    "PlanRecord",
    "ReportRecord",
    "RewardRecord",
    "RunRecord",
    "RunShowing",
    "RunSummary",
    "RunTotals",
    "Step",
    "SubtaskRecord",
    "ToolCallRecord",
]


@dataclass(frozen=True, kw_only=True)
class Step:
    """Where a step sits in its run: `step` numbers a run's steps across kinds, `offset_s` is from the run's start."""

    step: int
    offset_s: float

    def _at(self) -> dict[str, Any]:
        return {"step": self.step, "offset_s": self.offset_s}


@dataclass(frozen=True, kw_only=True)
class CaseShown(Step):
    """A past case put before the planner."""

    id: str
    task: str
    outcome: str
    score: float | None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "task": self.task, "outcome": self.outcome, "score": self.score, **self._at()}


@dataclass(frozen=True, kw_only=True)
class PlanRecord(Step):
    """The planner's subtasks of one cycle."""

    cycle: int
    subtasks: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"cycle": self.cycle, "subtasks": list(self.subtasks), **self._at()}


@dataclass(frozen=True, kw_only=True)
class SubtaskRecord(Step):
    """How one subtask ended: `done`, `failed`, or stopped by the `budget`."""

    cycle: int
    index: int
    subtask: str
    result: str
    status: str

    def to_json(self) -> dict[str, Any]:
        return {
            "cycle": self.cycle,
            "index": self.index,
            "subtask": self.subtask,
            "result": self.result,
            "status": self.status,
            **self._at(),
        }


@dataclass(frozen=True, kw_only=True)
class ModelCallRecord(Step):
    """One model call: who made it (planner, executor, judge), with which model, what it used and how long it took."""

    role: str
    model: str
    usage: Usage
    latency_s: float
    stop_reason: str
    error: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "model": self.model,
            "usage": self.usage.to_json(),
            "latency_s": self.latency_s,
            "stop_reason": self.stop_reason,
            "error": self.error,
            **self._at(),
        }


@dataclass(frozen=True, kw_only=True)
class ToolCallRecord(Step):
    """One MCP tool call: its scrubbed arguments, how much came back, whether it failed, the images it returned."""

    server: str
    tool: str
    arguments: dict[str, Any]
    result_chars: int
    is_error: bool
    seconds: float
    preview: str
    truncated: bool
    restarted: bool
    images: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "tool": self.tool,
            "arguments": self.arguments,
            "result_chars": self.result_chars,
            "is_error": self.is_error,
            "seconds": self.seconds,
            "preview": self.preview,
            "truncated": self.truncated,
            "restarted": self.restarted,
            "images": list(self.images),
            **self._at(),
        }


@dataclass(frozen=True, kw_only=True)
class RewardRecord(Step):
    """A reward the run was given: the judge's at the end, or a person's later."""

    reward: float
    source: str

    def to_json(self) -> dict[str, Any]:
        return {"reward": self.reward, "source": self.source, **self._at()}


@dataclass(frozen=True, kw_only=True)
class ReportRecord(Step):
    """A user-facing run's report, its citations checked against the sources the run's tools gave.

    `sources` are the ones it cites, each `{n, url_or_path, title?}` as `memento run --json` prints them;
    `sources_collected` counts every source the run had; `citations_removed` those that named none of them.
    """

    text: str
    sources: list[dict[str, Any]]
    sources_collected: int
    citations_removed: int

    def to_json(self) -> dict[str, Any]:
        return {
            "report": self.text,
            "sources": [dict(s) for s in self.sources],
            "sources_collected": self.sources_collected,
            "citations_removed": self.citations_removed,
            **self._at(),
        }


@dataclass(frozen=True, kw_only=True)
class RunTotals:
    """What a run's steps add up to."""

    cycles: int
    subtasks: int
    model_calls: int
    model_tokens: int
    model_cost_usd: float
    model_seconds: float
    tool_calls: int
    tool_errors: int
    tool_seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "cycles": self.cycles,
            "subtasks": self.subtasks,
            "model_calls": self.model_calls,
            "model_tokens": self.model_tokens,
            "model_cost_usd": self.model_cost_usd,
            "model_seconds": self.model_seconds,
            "tool_calls": self.tool_calls,
            "tool_errors": self.tool_errors,
            "tool_seconds": self.tool_seconds,
        }


@dataclass(frozen=True, kw_only=True)
class RunSummary:
    """One line of the run list."""

    id: str
    task: str
    status: str
    answer: str
    reward: float | None
    planner: str
    executor: str
    tokens: int
    cost_usd: float
    seconds: float | None
    started: str  # ISO 8601, UTC, to the second

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "task": self.task,
            "status": self.status,
            "answer": self.answer,
            "reward": self.reward,
            "planner": self.planner,
            "executor": self.executor,
            "tokens": self.tokens,
            "cost_usd": self.cost_usd,
            "seconds": self.seconds,
            "started": self.started,
        }


@dataclass(frozen=True, kw_only=True)
class RunShowing:
    """A run a case was shown in, with how that run went."""

    id: str
    task: str
    status: str
    reward: float | None
    score: float | None
    started: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "task": self.task,
            "status": self.status,
            "reward": self.reward,
            "score": self.score,
            "started": self.started,
        }


@dataclass(frozen=True, kw_only=True)
class RunRecord:
    """A run and every step of it, each list in the order the steps happened."""

    id: str
    task: str
    source: str
    status: str
    planner: str
    executor: str
    settings: dict[str, Any]
    files: list[str]
    answer: str
    reward: float | None
    reward_source: str | None
    judgement: dict[str, Any] | None
    case_id: str | None
    case_pending: bool
    stopped_by: str | None
    error: str | None
    usage: Usage
    started: str  # ISO 8601, UTC, to the second
    finished: str | None
    seconds: float | None
    started_ts: float  # seconds since the epoch, unrounded: what timings are measured from
    finished_ts: float | None
    cases_shown: list[CaseShown] = field(default_factory=list)
    plans: list[PlanRecord] = field(default_factory=list)
    subtasks: list[SubtaskRecord] = field(default_factory=list)
    model_calls: list[ModelCallRecord] = field(default_factory=list)
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    rewards: list[RewardRecord] = field(default_factory=list)
    report: ReportRecord | None = None  # answer mode `report` only: the last report the run gave
    reward_kind: str | None = None  # verified | self-assessed | unrated; None: not known (older runs, a held case)
    temperature: float | None = None  # the memory read's sampling temperature; None: greedy, or memory not read
    q_version: int | str | None = None  # the Q-function version that ranked the cases shown; None: none used

    @property
    def tokens(self) -> int:
        return self.usage.total_tokens

    @property
    def cost_usd(self) -> float:
        return round(self.usage.cost_usd, 6)

    @property
    def totals(self) -> RunTotals:
        called = sum((c.usage for c in self.model_calls), Usage())
        return RunTotals(
            cycles=len({p.cycle for p in self.plans}),
            subtasks=len(self.subtasks),
            model_calls=len(self.model_calls),
            model_tokens=called.total_tokens,
            model_cost_usd=round(called.cost_usd, 6),
            model_seconds=round(sum(c.latency_s for c in self.model_calls), 3),
            tool_calls=len(self.tool_calls),
            tool_errors=sum(c.is_error for c in self.tool_calls),
            tool_seconds=round(sum(c.seconds for c in self.tool_calls), 3),
        )

    def to_json(self) -> dict[str, Any]:
        """The run as `memento runs show --json` prints it."""
        return {
            "id": self.id,
            "task": self.task,
            "source": self.source,
            "status": self.status,
            "planner": self.planner,
            "executor": self.executor,
            "settings": self.settings,
            "files": list(self.files),
            "answer": self.answer,
            "reward": self.reward,
            "reward_source": self.reward_source,
            "judgement": self.judgement,
            "case_id": self.case_id,
            "case_pending": self.case_pending,
            "stopped_by": self.stopped_by,
            "error": self.error,
            "usage": self.usage.to_json(),
            "tokens": self.tokens,
            "cost_usd": self.cost_usd,
            "started": self.started,
            "finished": self.finished,
            "seconds": self.seconds,
            "started_ts": self.started_ts,
            "finished_ts": self.finished_ts,
            "cases_shown": [c.to_json() for c in self.cases_shown],
            "plans": [p.to_json() for p in self.plans],
            "subtasks": [s.to_json() for s in self.subtasks],
            "model_calls": [c.to_json() for c in self.model_calls],
            "tool_calls": [c.to_json() for c in self.tool_calls],
            "rewards": [r.to_json() for r in self.rewards],
            "totals": self.totals.to_json(),
            # Added with the report answer mode; a run without one (an eval's, an older one) has them empty.
            "report": self.report.text if self.report else "",
            "sources": [dict(s) for s in self.report.sources] if self.report else [],
            "sources_collected": self.report.sources_collected if self.report else 0,
            "citations_removed": self.report.citations_removed if self.report else 0,
            # Added with exploration and unrated cases (issue 24): how the memory was read, how sure the reward is.
            "reward_kind": self.reward_kind,
            "temperature": self.temperature,
            "q_version": self.q_version,
        }
