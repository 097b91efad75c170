"""A deterministic stand-in for a model, for the tests: replies from a script, every call recorded.

Tests of the planner, executor and episode loop run on it without a vendor or a
fake server. A script entry is a `Reply`, a function of the call returning one,
or an exception to raise; running out of script is an error, never a silent reply.
It lives with the tests: nothing installed imports it.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Unpack

from memento.agent.llm import CallOptions, Message, Reply, TextPart, ToolCall, ToolSpec, Usage, callable_tools
from memento.core.errors import AgentError

__all__ = ["ScriptExhausted", "ScriptedCall", "ScriptedModel", "Step", "call", "text_reply", "tool_reply"]

Responder = Callable[[str, list[Message], list[ToolSpec]], Reply]
Step = Reply | Responder | BaseException


class ScriptExhausted(AgentError):
    """The code under test called the model more often than the test scripted.

    An `AgentError` like any model failure, so an episode records it as the run's error (a test
    then sees a failed run naming the extra call) instead of a crash from inside its task group.
    """


@dataclass
class ScriptedCall:
    """What one `generate` call got; `messages` is a copy, so later edits of the history do not show."""

    system: str
    messages: list[Message]
    tools: list[ToolSpec]  # those the reply may call (`allowed` of `described`), as a hosted model is sent them
    tool_choice: str
    max_tokens: int | None
    described: list[ToolSpec] = field(default_factory=list)  # every tool the call gave, allowed or not

    @property
    def last_user_text(self) -> str:
        return next((m.text for m in reversed(self.messages) if m.role == "user"), "")


@dataclass
class ScriptedModel:
    """A `Model` that answers from `script` in order and keeps each call in `calls`."""

    script: list[Step] = field(default_factory=list)
    name: str = "scripted:model"
    context_tokens: int = 200_000
    calls: list[ScriptedCall] = field(default_factory=list)
    closed: bool = False

    def __post_init__(self) -> None:
        self._queue: deque[Step] = deque(self.script)

    def enqueue(self, *steps: Step) -> None:
        """Add replies (or responders, or exceptions) to the end of the script."""
        self._queue.extend(steps)

    @property
    def remaining(self) -> int:
        return len(self._queue)

    async def generate(self, system: str, messages: list[Message], tools: list[ToolSpec], **options: Unpack[CallOptions]) -> Reply:
        history = [Message(m.role, list(m.parts)) for m in messages]
        choice = options.get("tool_choice", "auto")
        usable = callable_tools(tools, tool_choice=choice, allowed=options.get("allowed"))
        seen = ScriptedCall(system, history, usable, choice, options.get("max_tokens"), list(tools))
        self.calls.append(seen)
        if not self._queue:
            raise ScriptExhausted(
                f"{self.name} got call {len(self.calls)} but only {len(self.calls) - 1} replies were scripted; "
                f"the last user turn was {seen.last_user_text[:200]!r}"
            )
        step = self._queue.popleft()
        if isinstance(step, BaseException):
            raise step
        reply = step if isinstance(step, Reply) else step(system, seen.messages, seen.tools)
        if not reply.model:
            reply.model = self.name
        return reply

    async def aclose(self) -> None:
        self.closed = True


_ids = itertools.count(1)


def call(name: str, /, **arguments: Any) -> ToolCall:
    """A tool call with a fresh id: `call("search", query="rivers")`."""
    return ToolCall(f"call_{next(_ids)}", name, arguments)


def text_reply(text: str, *, usage: Usage | None = None, stop_reason: str = "end_turn") -> Reply:
    """A reply that only says `text`."""
    return Reply(Message("assistant", [TextPart(text)]), usage or Usage(), stop_reason)


def tool_reply(*calls: ToolCall, text: str = "", usage: Usage | None = None) -> Reply:
    """A reply that calls tools (optionally saying `text` first)."""
    parts: Iterable[TextPart | ToolCall] = [*([TextPart(text)] if text else []), *calls]
    return Reply(Message("assistant", list(parts)), usage or Usage(), "tool_use")
