"""One model call of a run, metered: its usage added to the run's spending, written to the trace, shown.

Planner, executor and judge calls all go through `metered_call`, so no call is
ever missing from the trace or the budget — including a call that failed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .budget import Spending
from .llm import Message, Model, Reply, ToolSpec, Usage
from .progress import Progress

if TYPE_CHECKING:
    from .traces import RunStore

__all__ = ["metered_call"]


async def metered_call(
    model: Model,
    role: str,
    *,
    store: RunStore,
    run_id: str,
    spending: Spending,
    progress: Progress,
    system: str,
    messages: list[Message],
    tools: list[ToolSpec],
    **options: Any,
) -> Reply:
    """`model.generate(...)`, with its cost counted and logged as `role` (planner, executor, judge)."""
    try:
        reply = await model.generate(system, messages, tools, **options)
    except Exception as exc:
        store.log_model_call(run_id, role=role, model=model.name, usage=Usage(), latency_s=0.0, error=str(exc))
        raise
    spending.add(reply.usage)
    store.log_model_call(
        run_id, role=role, model=reply.model or model.name, usage=reply.usage, latency_s=reply.latency_s, stop_reason=reply.stop_reason
    )
    progress.usage(spending.usage)
    return reply
