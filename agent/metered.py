"""One model call of a run, metered: timed, its usage added to the run's spending, stated as one `ModelCalled` event.

Planner, executor and judge calls all go through `Meter.call`, so no call is
ever missing from the trace, the costs or the budget — including a call that
failed or was cancelled. `MeteredModel` is the same for code that takes a plain
`Model` (the judge). It writes nothing itself: listeners do.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Unpack

from .budget import Spending
from .events import EventStream, ModelCalled, ModelStreaming, Role
from .llm import CallOptions, Message, Model, Reply, ToolSpec, Usage
from .llm.streaming import watching

STREAM_EVERY_S = 0.25  # how often a growing reply is stated: often enough to look live, rarely enough to cost nothing

__all__ = ["Meter", "MeteredModel"]


@dataclass(kw_only=True)
class Meter:
    """What a metered call needs of its run: where events go, the run's id and its spending."""

    events: EventStream
    run_id: str
    spending: Spending

    async def call(self, model: Model, role: Role, *, system: str, messages: list[Message], tools: list[ToolSpec], **options: Any) -> Reply:
        """`model.generate(...)`, with its cost counted and stated as `role`'s call."""
        started = time.perf_counter()
        stated = started

        def grown(pieces: int) -> None:
            nonlocal stated
            now = time.perf_counter()
            if now - stated >= STREAM_EVERY_S:
                stated = now
                self.events.emit(ModelStreaming(run_id=self.run_id, role=role, model=model.name, pieces=pieces))

        try:
            with watching(grown):
                reply = await model.generate(system, messages, tools, **options)
        except BaseException as exc:  # a cancelled call (a timeout, Ctrl-C) still happened and may have cost
            self._emit(role, model.name, Usage(), time.perf_counter() - started, error=str(exc) or type(exc).__name__)
            raise
        self.spending.add(reply.usage)
        # The provider's own latency when it measured one; the wall time around the call otherwise (a stand-in model).
        latency = reply.latency_s or (time.perf_counter() - started)
        self._emit(role, reply.model or model.name, reply.usage, latency, stop_reason=reply.stop_reason)
        return reply

    def _emit(self, role: Role, model: str, usage: Usage, latency_s: float, *, stop_reason: str = "", error: str | None = None) -> None:
        self.events.emit(
            ModelCalled(
                run_id=self.run_id,
                role=role,
                model=model,
                usage=usage,
                latency_s=latency_s,
                run_usage=self.spending.usage,
                stop_reason=stop_reason,
                error=error,
            )
        )


@dataclass(kw_only=True)
class MeteredModel:
    """A `Model` whose every call is metered as `role`'s: what the episode hands the judge, which knows no meter."""

    model: Model
    role: Role
    meter: Meter
    name: str = field(init=False)  # plain attributes, as the Model protocol has them
    context_tokens: int = field(init=False)

    def __post_init__(self) -> None:
        self.name, self.context_tokens = self.model.name, self.model.context_tokens

    async def generate(self, system: str, messages: list[Message], tools: list[ToolSpec], **options: Unpack[CallOptions]) -> Reply:
        return await self.meter.call(self.model, self.role, system=system, messages=messages, tools=tools, **options)

    async def aclose(self) -> None:
        """Nothing: the wrapped model belongs to whoever opened it."""
