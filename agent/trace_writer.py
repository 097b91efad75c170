"""The trace of a run in runs.sqlite, written from the run's events by one listener.

It maps each event onto the `RunStore` method that keeps it, and nothing else:
no event is made here, and what a trace holds (scrubbing, step numbers,
migrations) stays the store's business.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .events import (
    CaseHeld,
    CasesShown,
    Event,
    ModelCalled,
    PlanMade,
    Reported,
    RunFinished,
    RunStarted,
    SubtaskDone,
    ToolCalled,
)

if TYPE_CHECKING:
    from .traces import RunStore

__all__ = ["TraceWriter"]


class TraceWriter:
    """A listener that writes every step of a run to `store` as it happens."""

    def __init__(self, store: RunStore) -> None:
        self.store = store

    def handle(self, event: Event) -> None:
        store, run_id = self.store, event.run_id
        match event:
            case RunStarted():
                store.start_run(
                    event.task,
                    planner=event.planner,
                    executor=event.executor,
                    settings=dict(event.settings),
                    files=list(event.files),
                    source=event.source,
                    run_id=run_id,
                )
            case CasesShown(policy=policy) if policy != "none":  # a memory that was not read is no step
                store.log_cases_shown(
                    run_id, [dict(case) for case in event.cases], temperature=event.temperature, q_version=event.q_version
                )
            case ModelCalled():
                store.log_model_call(
                    run_id,
                    role=event.role,
                    model=event.model,
                    usage=event.usage,
                    latency_s=event.latency_s,
                    stop_reason=event.stop_reason,
                    error=event.error,
                )
            case ToolCalled():
                store.log_tool_call(
                    run_id,
                    server=event.server,
                    tool=event.tool,
                    arguments=dict(event.arguments),
                    result_chars=event.result_chars,
                    is_error=event.is_error,
                    seconds=event.seconds,
                    preview=event.preview,
                    truncated=event.truncated,
                    restarted=event.restarted,
                    images=list(event.images),
                )
            case PlanMade():
                store.log_plan(run_id, event.cycle, list(event.subtasks))
            case SubtaskDone():
                store.log_subtask(run_id, event.cycle, event.index, event.subtask, event.result, event.status)
            case Reported():
                store.log_report(
                    run_id,
                    report=event.report,
                    sources=[dict(source) for source in event.sources],
                    collected=event.collected,
                    citations_removed=len(event.dropped),
                )
            case CaseHeld():
                store.save_pending_case(run_id, dict(event.record))
            case RunFinished():
                store.finish_run(
                    run_id,
                    answer=event.answer,
                    status=event.status,
                    reward=event.reward,
                    judgement=event.judgement.to_json() if event.judgement else None,
                    case_id=event.case_id,
                    usage=event.usage,
                    stopped_by=event.stopped_by,
                    error=event.error,
                    reward_kind=event.reward_kind,
                )
