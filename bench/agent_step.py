"""The agent's own cost per executor step when the model answers at once: the real `Executor` with a real
`RunStore` (traces in a temporary MEMENTO_HOME) over a real `ToolHub` on the documents server (stdio),
each step one model call, one `document_info` call on a tiny cached file and the trace writes. In the same
run: the bare `hub.call` round trip (so the difference is the agent's overhead), and the same steps with the
Anthropic model (its Messages API client over httpx) against the fake Messages API on 127.0.0.1 (tests/fake_llm.py), for the client + HTTP cost.

Subtasks are as long as real ones (STEPS_PER_SUBTASK tool steps, then a text answer); a step is timed from
one model call to the next, so it holds everything the executor does between them.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from _common import ROOT, doc_dir, ms, percentile, print_header
from agent_hub import SOURCE, settings

from memento.agent.budget import Spending
from memento.agent.events import EventStream, RunStarted
from memento.agent.executor import Executor
from memento.agent.hosts import load_config
from memento.agent.hub import ToolHub
from memento.agent.llm import Message, Model, Reply, ToolSpec, make_model
from memento.agent.metered import Meter
from memento.agent.settings import AgentSettings
from memento.agent.trace_writer import TraceWriter
from memento.agent.traces import RunStore
from tests.fake_llm import FakeAnthropic, ToolUse, answer
from tests.scripted_model import ScriptedModel, call, text_reply, tool_reply

SUBTASKS = 30
STEPS_PER_SUBTASK = 10  # the default per-subtask limit is 12 model calls
BARE_PER_SUBTASK = 10
WARMUP_SUBTASKS = 2
GOAL_STEP_P50_S = 0.020
TOOL = "documents__document_info"


def traced_meter(store: RunStore, executor: str, agent: AgentSettings) -> Meter:
    """A run of its own in `store`, its events written by the trace listener as an episode's are."""
    events = EventStream([TraceWriter(store)])
    run_id = "run-" + uuid.uuid4().hex[:12]
    events.emit(RunStarted(run_id=run_id, task="bench: read notes.txt", planner="bench", executor=executor, settings={}))
    return Meter(events=events, run_id=run_id, spending=Spending(agent.budgets))


@dataclass(eq=False)
class Clocked:
    """A model that notes when each call began, then lets the wrapped model answer."""

    model: Model
    starts: list[float] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def context_tokens(self) -> int:
        return self.model.context_tokens

    async def generate(self, system: str, messages: list[Message], tools: list[ToolSpec], **options: Any) -> Reply:
        self.starts.append(time.perf_counter())
        return await self.model.generate(system, messages, tools, **options)

    async def aclose(self) -> None:
        await self.model.aclose()


def scripted_subtask(model: ScriptedModel) -> None:
    for _ in range(STEPS_PER_SUBTASK):
        model.enqueue(tool_reply(call(TOOL, source=SOURCE)))
    model.enqueue(text_reply("The file is a small text file."))


def fake_subtask(fake: FakeAnthropic) -> None:
    for _ in range(STEPS_PER_SUBTASK):
        fake.enqueue(answer(ToolUse(TOOL, {"source": SOURCE})))
    fake.enqueue(answer("The file is a small text file."))


async def measure(folder: Path, agent: AgentSettings, fake: FakeAnthropic) -> dict[str, list[float]]:
    """Scripted subtask, Anthropic-model subtask and bare hub calls, alternating, all over one hub and one store."""
    [documents] = [entry for entry in load_config(ROOT / "mcp.json") if entry.name == "documents"]
    instant = ScriptedModel(name="scripted:instant")
    scripted = Clocked(instant)
    anthropic = Clocked(make_model("anthropic:claude-sonnet-4-5", agent))
    times: dict[str, list[float]] = {
        "bare hub.call": [],
        "executor step, scripted model": [],
        "executor step, Anthropic client + fake API": [],
    }
    with RunStore.open(agent.home) as store:
        async with ToolHub.start([documents], environ=os.environ, env=settings(folder), cwd=folder) as hub:
            runs = [
                (
                    label,
                    clocked,
                    script,
                    Executor(
                        model=clocked,
                        hub=hub,
                        meter=traced_meter(store, clocked.name, agent),
                        task="Describe notes.txt",
                        max_steps=STEPS_PER_SUBTASK + 1,
                    ),
                )
                for label, clocked, script in (
                    ("executor step, scripted model", scripted, lambda: scripted_subtask(instant)),
                    ("executor step, Anthropic client + fake API", anthropic, lambda: fake_subtask(fake)),
                )
            ]
            for round_ in range(WARMUP_SUBTASKS + SUBTASKS):
                keep = round_ >= WARMUP_SUBTASKS
                for label, clocked, script, executor in runs:
                    script()
                    clocked.starts.clear()
                    result = await executor.run("Tell what kind of file notes.txt is.")
                    if result.status != "done" or len(result.tools) != STEPS_PER_SUBTASK:
                        raise RuntimeError(f"{label}: the subtask ended {result.status} after {result.tools}: {result.text}")
                    if keep:  # the gaps between model calls; the last call (the text answer) starts no step
                        times[label] += [b - a for a, b in zip(clocked.starts, clocked.starts[1:])]
                for _ in range(BARE_PER_SUBTASK):
                    began = time.perf_counter()
                    outcome = await hub.call(TOOL, {"source": SOURCE})
                    if outcome.is_error:
                        raise RuntimeError(f"{TOOL} failed: {outcome.text}")
                    if keep:
                        times["bare hub.call"].append(time.perf_counter() - began)
        await anthropic.aclose()
    return times


def main() -> None:
    print_header("agent executor step: model call + MCP tool call + trace writes, vs the bare hub round trip")
    with doc_dir("make_text") as folder, FakeAnthropic(max_requests=100_000) as fake:
        agent = AgentSettings(
            home=folder / "home",
            anthropic_base_url=fake.url,
            anthropic_api_key="test",
            budget_tool_calls=10_000,
            budget_seconds=3600,
        )
        times = anyio.run(measure, folder, agent, fake)
    steps = SUBTASKS * STEPS_PER_SUBTASK
    print(f"{SUBTASKS} subtasks of {STEPS_PER_SUBTASK} tool steps each per model ({steps} steps), alternating with")
    print(f"{BARE_PER_SUBTASK} bare calls per subtask, after {WARMUP_SUBTASKS} warm-up rounds; one documents server, one trace file:")
    for label, values in times.items():
        print(
            f"  {label:40} p50 {ms(percentile(values, 50))}   p95 {ms(percentile(values, 95))}"
            f"   (min {ms(min(values))}, max {ms(max(values))}, n {len(values)})"
        )
    bare = percentile(times["bare hub.call"], 50)
    scripted = percentile(times["executor step, scripted model"], 50)
    sdk = percentile(times["executor step, Anthropic client + fake API"], 50)
    print(f"  agent overhead per step at p50 (scripted step - bare call):        {ms(scripted - bare)}")
    print(f"  client + HTTP per step at p50 (Anthropic step - scripted step):       {ms(sdk - scripted)}")
    verdict = "MET" if scripted < GOAL_STEP_P50_S else "NOT MET"
    print(f"  goal: executor step with an instant model p50 < {ms(GOAL_STEP_P50_S)} -> {verdict}")


if __name__ == "__main__":
    main()
