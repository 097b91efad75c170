"""The executor: one subtask, carried out in a tool-use loop over the MCP tools.

Each step asks the model; the tool calls it makes run at once (in parallel)
through the hub, and their results go back as the next turn. A tool error is
a result like any other: the model reads it and the loop goes on. The subtask
ends when the model replies without a tool call; its text is the result. The
executor sees its subtask and the record of what earlier subtasks found (the
episode keeps that record); what its tools read is added to the run's sources.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from .budget import BudgetExhausted
from .context import compact
from .events import ToolCalled, ToolStarted
from .llm import Message, Model, Reply, ToolCall, ToolChoice, ToolResultPart, ToolSpec
from .metered import Meter
from .prompting import prompt
from .sources import Sources

if TYPE_CHECKING:
    from .hub import ToolHub, ToolOutcome
    from .settings import AgentSettings

__all__ = ["Executor", "SubtaskResult"]


@dataclass(kw_only=True)
class SubtaskResult:
    """What one subtask produced: the executor's final text, and how it ended."""

    text: str
    status: str  # done | budget (its step limit ran out) | failed
    tools: list[str] = field(default_factory=list)  # hub tool names called, in order


@dataclass(kw_only=True)
class Executor:
    """Runs subtasks of one task with one model over one hub, within the run's spending (its meter's)."""

    model: Model
    hub: ToolHub
    meter: Meter
    task: str
    files: list[str] = field(default_factory=list)
    max_steps: int = 12
    max_tokens: int | None = None
    # Structured turns (small models): a subtask's first step must call a tool, its last may only reply.
    must_act: bool = False
    offered: tuple[str, ...] = ()  # the hub tools offered (server__tool); empty: all of them
    in_order: bool = False  # with must_act and offered: step i calls offered[i] alone, then the next step replies
    today: datetime.date = field(default_factory=datetime.date.today)
    sources: Sources = field(default_factory=Sources)  # the run's: every URL or file a tool read or returned

    @classmethod
    def from_settings(cls, settings: AgentSettings, **parts: Any) -> Executor:
        """An executor shaped by the run's settings (step and reply limits, structured turns, the tools offered)."""
        return cls(
            max_steps=settings.budget_steps,
            max_tokens=settings.role_max_tokens("executor"),
            must_act=settings.structured("executor"),
            offered=tuple(settings.executor_tools),
            in_order=settings.executor_tools_in_order,
            **parts,
        )

    def system_prompt(self) -> str:
        files = ""
        if self.files:
            listed = "\n".join(f"- {name}" for name in self.files)
            files = f"\nAttached files (read them with the documents tools, or at /inputs/NAME in the code tools):\n{listed}"
        # A small model (must_act) gets a short prompt: the long one's advice is lost on it and costs its prompt time.
        return prompt("executor_local" if self.must_act else "executor", task=self.task, files=files, today=self.today.isoformat())

    async def run(self, subtask: str, record: str = "") -> SubtaskResult:
        """Carry out `subtask`, knowing `record` (what earlier subtasks found); `BudgetExhausted` escapes when a run-wide budget is spent."""
        system = self.system_prompt()
        turn = f"{record}\n\nYour subtask:\n{subtask}" if record else subtask
        if self.must_act:  # a small model reads the task beside its subtask, which may be too short to search with
            turn = f"The task: {self.task}\n\n{turn}" if record else f"The task: {self.task}\n\nYour subtask:\n{subtask}"
        messages = [Message.user(turn)]
        used: list[str] = []
        last_text = ""
        spending = self.meter.spending
        failed = False  # the last step's tool calls all failed
        found: list[str] = []  # with structured turns: what the tools returned, handed on with the result
        for step in range(self.max_steps):
            spending.check()
            compact(system, messages, self.model.context_tokens)
            reply = await self._generate(system, messages, self._choice(step, failed), step=step)
            messages.append(reply.message)
            last_text = reply.text or last_text
            calls = reply.tool_calls
            if not calls:
                text = reply.text.strip() or "(the executor replied with nothing)"
                return SubtaskResult(text=text + _found(found), status="done", tools=used)
            if spending.tool_calls + len(calls) > spending.budgets.budget_tool_calls:
                raise BudgetExhausted("tool_calls")
            spending.tool_calls += len(calls)
            used += [c.name for c in calls]
            results = await self._call_tools(calls)
            failed = all(result.is_error for result in results)
            if self.must_act:  # a small model's own summary may lose the fact: the planner also reads what was found
                found += [result.text for result in results if not result.is_error]
            messages.append(Message("user", list(results)))
        note = f"(stopped after {self.max_steps} steps, the per-subtask limit)"
        return SubtaskResult(text=f"{last_text.strip()}\n{note}".strip() + _found(found), status="budget", tools=used)

    def specs(self) -> list[ToolSpec]:
        """The tools this executor offers: the hub's, or those of them `offered` names."""
        specs = self.hub.specs()
        if self.offered:  # in the order given: a small model leans to the first tool listed
            specs = sorted((spec for spec in specs if spec.name in self.offered), key=lambda spec: self.offered.index(spec.name))
        if self.must_act:  # a small model copies a description's examples and fills optional arguments with noise
            specs = [ToolSpec(spec.name, spec.description.strip().split("\n\n")[0], _required_only(spec.input_schema)) for spec in specs]
        return specs

    def _choice(self, step: int, failed: bool) -> ToolChoice:
        if not self.must_act or self.max_steps == 1:
            return "auto"
        if self._ordered():  # greedy, the 1.5B model answered from the search hit's snippet and never opened the page
            return "any" if step < min(len(self.offered), self.max_steps - 1) else "none"
        if step == 0 or (failed and step < self.max_steps - 1):
            return "any"  # a small model otherwise answers the subtask from its own weights, or gives up after an error
        return "none" if step == self.max_steps - 1 else "auto"  # the last step reports what was found

    def _ordered(self) -> bool:
        return self.in_order and self.must_act and bool(self.offered)

    async def _generate(self, system: str, messages: list[Message], choice: ToolChoice = "auto", step: int = 0) -> Reply:
        first = step == 0
        tools = self.specs()
        usable = tools
        if self._ordered():
            usable = tools[step : step + 1] if step < len(tools) else tools
        elif first and self.must_act and self.offered:  # a small model starts with the first tool named (the demo: search):
            usable = tools[:1]  # told to read first, the 0.5B model wrote an invented path until its token cap
        # A small model's steps keep every tool described and say which it may call now (`allowed`): its prompt stays
        # the same from step to step, so a local model reuses it from the cache instead of reading it all again.
        allowed = tuple(spec.name for spec in usable) if self.must_act else None
        return await self.meter.call(
            self.model,
            "executor",
            system=system,
            messages=messages,
            tools=tools,
            tool_choice=choice,
            max_tokens=self.max_tokens,
            allowed=allowed,
        )

    async def _call_tools(self, calls: list[ToolCall]) -> list[ToolResultPart]:
        results: list[ToolResultPart | None] = [None] * len(calls)

        async def one(index: int, call: ToolCall) -> None:
            if self.offered and call.name not in self.offered:
                problem = f"There is no tool {call.name!r} here; use one of: {', '.join(self.offered)}."
                results[index] = ToolResultPart(call.id, problem, is_error=True)
                return
            run_id = self.meter.run_id
            self.meter.events.emit(ToolStarted(run_id=run_id, name=call.name, arguments=call.arguments))
            outcome = await self.hub.call(call.name, call.arguments, scope=run_id)
            self.sources.add_outcome(outcome.tool, call.arguments, outcome)
            self.meter.events.emit(_called(run_id, call, outcome))
            results[index] = ToolResultPart(call.id, _result_text(outcome), tuple(outcome.images), outcome.is_error)

        async with anyio.create_task_group() as group:
            for index, call in enumerate(calls):
                group.start_soon(one, index, call)
        return [r for r in results if r is not None]


FOUND_CHARS = 600  # of each tool result handed on with a small model's subtask result


def _found(texts: list[str]) -> str:
    if not texts:
        return ""
    parts = [text if len(text) <= FOUND_CHARS else text[:FOUND_CHARS] + " …" for text in texts]
    return "\n\nWhat the tools returned:\n" + "\n---\n".join(parts)


def _required_only(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with its required properties alone: the others have defaults, which a small model does better with."""
    required = schema.get("required") or []
    properties = schema.get("properties") or {}
    return {**schema, "properties": {name: value for name, value in properties.items() if name in required}}


def _called(run_id: str, call: ToolCall, outcome: ToolOutcome) -> ToolCalled:
    return ToolCalled(
        run_id=run_id,
        name=call.name,
        server=outcome.server,
        tool=outcome.tool,
        arguments=call.arguments,
        result_chars=len(outcome.text),
        is_error=outcome.is_error,
        seconds=outcome.seconds,
        preview=outcome.text[:300],
        truncated=outcome.truncated,
        restarted=outcome.restarted,
        images=tuple((image.mime_type, _decoded(image.data)) for image in outcome.images),
    )


def _decoded(data: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return b""  # not base64: nothing worth keeping


def _result_text(outcome: ToolOutcome) -> str:
    """The text a model reads: the tool's text, or its structured output when it gave only that."""
    if outcome.text.strip():
        return outcome.text
    if outcome.structured is not None:
        return json.dumps(outcome.structured, ensure_ascii=False, indent=1)
    return "(the tool returned no text)" + (f" and {len(outcome.images)} image(s)" if outcome.images else "")
