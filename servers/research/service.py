"""Running one research episode for a host: models checked, tool servers started, progress forwarded as lines.

No MCP here: the caller gets the episode's result, and `report(step, line)` is
called with short progress lines taken from the run's events. The research
server itself is never started as one of the agent's tool servers (that would
let an episode start episodes).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from memento.agent.settings import AgentSettings
from memento.core.errors import InvalidInput

if TYPE_CHECKING:  # the agent's run path is imported by the first call: tools/list must not wait for it
    from memento.agent.episode import EpisodeResult
    from memento.agent.events import Event

__all__ = ["OWN_NAME", "ProgressLines", "Report", "ResearchService"]

OWN_NAME = "research"  # this server's name in mcp.json, left out of the agent's tools
QUEUED_LINES = 100  # progress lines waiting to be sent; beyond that they are dropped, never waited for

Report = Callable[[int, str], Awaitable[None]]  # (step, line): step counts up from 1


class ProgressLines:
    """A listener that turns a run's events into short lines on a stream, for a host's progress notifications."""

    def __init__(self, send: MemoryObjectSendStream[str]) -> None:
        self.send = send

    def handle(self, event: Event) -> None:
        from memento.agent.events import Note, PlanMade, Reported, SubtaskStarted, ToolStarted  # loaded by the run already

        match event:
            case PlanMade():
                self._say(f"plan {event.cycle}: " + "; ".join(event.subtasks))
            case SubtaskStarted():
                self._say(f"subtask {event.index}/{event.total}: {event.subtask}")
            case ToolStarted():
                self._say(f"calling {event.name}")
            case Reported():
                dropped = f"; {len(event.dropped)} citation(s) without a source removed" if event.dropped else ""
                self._say(f"report: cites {len(event.sources)} of the run's {event.collected} source(s){dropped}")
            case Note():
                self._say(event.text)

    def _say(self, text: str) -> None:
        try:
            self.send.send_nowait(text)
        except (anyio.WouldBlock, anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass  # progress is best effort; the episode never waits for it


@dataclass
class ResearchService:
    """Runs `deep_research` calls with the agent's settings and the memory policy read at start."""

    settings: AgentSettings
    policy: str

    def check(self) -> None:
        """Fail early, with the variable to set, when no model is configured."""
        from memento.agent.session import check_models

        check_models(self.settings)

    async def research(self, question: str, report: Report | None = None, *, learn: bool = True) -> EpisodeResult:
        """One episode over the other servers of the MCP config, its progress sent to `report` as it goes.

        The case memory is read and (once the run is rewarded) written. Errors are raised as
        they are, never wrapped in a group, so the caller's error mapping sees them whole.
        """
        if not question.strip():
            raise InvalidInput("The question is empty; pass the whole research question.")
        self.check()
        send, receive = anyio.create_memory_object_stream[str](QUEUED_LINES)
        outcome: list[EpisodeResult] = []
        failure: list[BaseException] = []

        async def forward() -> None:
            async with receive:
                step = 0
                async for line in receive:
                    step += 1
                    if report is not None:
                        await report(step, line)

        async def work() -> None:
            async with send:
                try:
                    outcome.append(await self._run(question, ProgressLines(send), learn))
                except Exception as exc:  # re-raised below, outside the task group
                    failure.append(exc)

        async with anyio.create_task_group() as group:
            group.start_soon(forward)
            await work()
        if failure:
            raise failure[0]
        return outcome[0]

    async def _run(self, question: str, progress: ProgressLines, learn: bool) -> EpisodeResult:
        from memento.agent.session import RunOptions, open_episode

        options = RunOptions(self.settings, self.policy, None, self.settings.learn and learn)
        async with open_episode(options, progress=progress, exclude=(OWN_NAME,)) as episode:
            # A host's user asked: a short answer, then a report whose citations are the run's own sources.
            return await episode.run(question, policy=options.policy, learn=options.learn, source="mcp", answer_mode="report")
