"""The typed events of one episode, and the stream that hands each of them to the run's listeners.

The episode, executor, meter and judge state each fact once, as an event; the
trace writer, the terminal, the OTLP export and a host's progress notifications
are listeners. This module does no I/O and knows no listener: wiring is the
caller's (session, CLI, research server), so adding a listener touches no agent code.

    Event ─┬─ RunStarted      CasesShown     PlanMade       SubtaskStarted   SubtaskDone
           ├─ ModelStreaming  ModelCalled    ToolStarted    ToolCalled
           ├─ Answered        Reported       Judged         CaseWritten    CaseHeld
           └─ Note            RunFinished
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from .llm import Usage

if TYPE_CHECKING:
    from .judge import Judgement

__all__ = [
    "Answered",
    "CaseHeld",
    "CaseWritten",
    "CasesShown",
    "Event",
    "EventStream",
    "Flushing",
    "Judged",
    "Listener",
    "ModelCalled",
    "ModelStreaming",
    "Note",
    "PlanMade",
    "Reported",
    "Role",
    "RunFinished",
    "RunStarted",
    "SubtaskDone",
    "SubtaskStarted",
    "ToolCalled",
    "ToolStarted",
]

log = logging.getLogger("memento.agent.events")

Role = Literal["planner", "executor", "judge"]


@dataclass(frozen=True, kw_only=True)
class Event:
    """Something that happened in run `run_id` (empty before a run exists), at wall-clock time `at`."""

    run_id: str
    at: float = field(default_factory=time.time)


@dataclass(frozen=True, kw_only=True)
class RunStarted(Event):
    task: str
    planner: str
    executor: str
    settings: Mapping[str, Any]
    files: tuple[str, ...] = ()
    source: str = "user"


@dataclass(frozen=True, kw_only=True)
class CasesShown(Event):
    """The past cases put before the planner (each `id`, `task`, `outcome`, `score`); `policy` none: memory was not read.

    `temperature`: the softmax temperature the cases were sampled at (None: greedy, the best ones); `q_version`: the
    Q-function version that ranked them (None: no learned Q was used).
    """

    cases: tuple[Mapping[str, Any], ...]
    policy: str
    temperature: float | None = None
    q_version: int | str | None = None


@dataclass(frozen=True, kw_only=True)
class ModelStreaming(Event):
    """A model reply still arriving: `pieces` streamed so far (about a token each). Only shown, never traced."""

    role: Role
    model: str
    pieces: int


@dataclass(frozen=True, kw_only=True)
class ModelCalled(Event):
    """One model call, ended or failed (`error`); `run_usage` is the run's spending once it is counted."""

    role: Role
    model: str
    usage: Usage
    latency_s: float
    run_usage: Usage
    stop_reason: str = ""
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class ToolStarted(Event):
    name: str  # the hub's name, server__tool
    arguments: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class ToolCalled(Event):
    """One MCP tool call, ended; `images` are the (MIME type, bytes) it returned."""

    name: str
    server: str
    tool: str
    arguments: Mapping[str, Any]
    result_chars: int
    is_error: bool
    seconds: float
    preview: str = ""
    truncated: bool = False
    restarted: bool = False
    images: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True, kw_only=True)
class PlanMade(Event):
    cycle: int
    subtasks: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class SubtaskStarted(Event):
    cycle: int
    index: int
    total: int
    subtask: str


@dataclass(frozen=True, kw_only=True)
class SubtaskDone(Event):
    """How one subtask ended: `done`, `failed`, or stopped by the `budget`."""

    cycle: int
    index: int
    subtask: str
    result: str
    status: str


@dataclass(frozen=True, kw_only=True)
class Answered(Event):
    """The run's answer: the planner's (`planner`), or the best guess from its findings (`guess`)."""

    answer: str
    how: Literal["planner", "guess"] = "planner"


@dataclass(frozen=True, kw_only=True)
class Reported(Event):
    """A user-facing run's report, its citations checked: `sources` ({n, url_or_path, title?}) are the ones it cites,
    all from tool results of the run; `collected` counts every source the run had; `dropped` says what was removed."""

    report: str
    sources: tuple[Mapping[str, Any], ...]
    collected: int
    dropped: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Judged(Event):
    judgement: Judgement


@dataclass(frozen=True, kw_only=True)
class CaseWritten(Event):
    """The case memory learned the run as `case_id`."""

    case_id: str


@dataclass(frozen=True, kw_only=True)
class CaseHeld(Event):
    """The run's case waits for a reward (`memento feedback`): `record` is `CaseBank.record_episode`'s arguments less `reward`."""

    record: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class Note(Event):
    """A line worth showing a person (a budget spent, a server that did not start); not a step of the trace."""

    text: str


@dataclass(frozen=True, kw_only=True)
class RunFinished(Event):
    answer: str
    status: str  # answered | budget_exhausted | failed | interrupted
    reward: float | None
    judgement: Judgement | None
    case_id: str | None
    usage: Usage
    stopped_by: str | None = None
    error: str | None = None
    reward_kind: str | None = None  # verified | self-assessed | unrated (learning.py); None: a truth without a verdict


@runtime_checkable
class Listener(Protocol):
    """Anything with `handle(event)`; it sees every event and ignores the kinds it does not need."""

    def handle(self, event: Event) -> None: ...


@runtime_checkable
class Flushing(Protocol):
    """A listener with work to finish once a run has ended (the OTLP export sends then)."""

    async def flush(self) -> None: ...


class EventStream:
    """Delivers each event to every listener, in the order they were added.

    A listener that raises is logged and skipped: a trace that cannot be written
    or a terminal that is gone never ends the episode.
    """

    def __init__(self, listeners: Iterable[Listener] = ()) -> None:
        self.listeners: list[Listener] = list(listeners)

    def add(self, listener: Listener) -> None:
        self.listeners.append(listener)

    def emit(self, event: Event) -> None:
        for listener in self.listeners:
            try:
                listener.handle(event)
            except Exception:
                log.exception("the listener %s failed on %s", type(listener).__name__, type(event).__name__)

    async def flush(self) -> None:
        """Let listeners finish what a run's end started (an export); failures are only logged."""
        for listener in self.listeners:
            if isinstance(listener, Flushing):
                try:
                    await listener.flush()
                except Exception:
                    log.exception("the listener %s failed to flush", type(listener).__name__)
