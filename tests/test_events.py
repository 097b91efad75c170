"""The event stream of an episode: each fact stated once, seen alike by every listener, and no listener able to break a run.

The episode is the real loop with scripted models and the stub hub of
test_episode.py; the trace is the real RunStore, written by its listener.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from memento.agent.episode import Episode
from memento.agent.events import (
    Answered,
    CasesShown,
    Event,
    EventStream,
    Judged,
    ModelCalled,
    Note,
    PlanMade,
    RunFinished,
    RunStarted,
    SubtaskDone,
    SubtaskStarted,
    ToolCalled,
    ToolStarted,
)
from memento.agent.llm import Usage
from memento.agent.progress import TerminalProgress
from memento.agent.session import run_events
from memento.agent.settings import AgentSettings
from memento.agent.traces import RunStore
from tests.test_episode import ScriptedModel, StubHub, answer, call, plan, text_reply, tool_reply, usage

pytestmark = pytest.mark.anyio


class Recorder:
    """A listener that keeps every event it is given."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def handle(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type[Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


class Broken:
    """A listener that fails on every event."""

    def handle(self, event: Event) -> None:
        raise RuntimeError("this listener is broken")


@pytest.fixture
def store(memento_home: Path) -> Iterator[RunStore]:
    with RunStore.open(memento_home) as opened:
        yield opened


def wired(planner: ScriptedModel, executor: ScriptedModel, hub: StubHub, store: RunStore, *listeners: Any) -> Episode:
    settings = AgentSettings()
    return Episode(
        planner=planner,
        executor=executor,
        hub=hub,  # type: ignore[arg-type]
        events=run_events(store, settings, listeners),
        settings=settings,
        judge=planner,
    )


def two_subtasks() -> tuple[ScriptedModel, ScriptedModel, StubHub]:
    hub = StubHub({"code__run_python": lambda a: "4", "search__web_search": lambda a: "Paris"})
    planner = ScriptedModel([plan("Add the numbers", "Name the capital"), answer("4, Paris")])
    executor = ScriptedModel(
        [
            tool_reply(call("code__run_python", q="2+2"), usage=usage(30)),
            text_reply("It is 4", usage=usage(20)),
            tool_reply(call("search__web_search", q="capital of France"), usage=usage(40)),
            text_reply("Paris", usage=usage(10)),
        ]
    )
    return planner, executor, hub


async def test_every_model_call_is_one_event_and_the_trace_holds_exactly_those(store: RunStore) -> None:
    planner, executor, hub = two_subtasks()
    seen = Recorder()
    result = await wired(planner, executor, hub, store, seen).run("What is 2 + 2, and the capital of France?", policy="none")
    assert result.status == "answered" and result.answer == "4, Paris"

    calls = seen.of(ModelCalled)
    assert len(calls) == len(planner.calls) + len(executor.calls) == 6
    assert [c.role for c in calls] == ["planner", "executor", "executor", "executor", "executor", "planner"]
    traced = store.get_run(result.run_id).model_calls
    assert [(c.role, c.usage.input_tokens) for c in traced] == [(c.role, c.usage.input_tokens) for c in calls]
    assert calls[-1].run_usage == result.usage  # the running total a terminal shows ends at the run's usage

    tools = seen.of(ToolCalled)
    assert [t.name for t in tools] == [t.name for t in seen.of(ToolStarted)] == ["code__run_python", "search__web_search"]
    assert [f"{t.server}__{t.tool}" for t in store.get_run(result.run_id).tool_calls] == [t.name for t in tools]


async def test_a_run_states_its_facts_once_each_from_start_to_finish(store: RunStore) -> None:
    planner, executor, hub = two_subtasks()
    seen = Recorder()
    result = await wired(planner, executor, hub, store, seen).run("What is 2 + 2, and the capital of France?", policy="none")
    assert isinstance(seen.events[0], RunStarted) and isinstance(seen.events[-1], RunFinished)
    assert {e.run_id for e in seen.events} == {result.run_id}
    assert len(seen.of(RunStarted)) == len(seen.of(RunFinished)) == len(seen.of(PlanMade)) == len(seen.of(Answered)) == 1
    assert [(s.index, s.total) for s in seen.of(SubtaskStarted)] == [(1, 2), (2, 2)]
    assert [(s.index, s.status) for s in seen.of(SubtaskDone)] == [(1, "done"), (2, "done")]
    assert seen.of(CasesShown)[0].policy == "none" and not seen.of(Judged)  # no truth: nothing judged
    finished = seen.of(RunFinished)[0]
    assert finished.status == "answered" and finished.answer == "4, Paris" and finished.usage == result.usage
    record = store.get_run(result.run_id)
    assert len(record.plans) == 1 and len(record.subtasks) == 2 and record.status == "answered"


async def test_the_terminal_shows_what_the_events_say_once_each(store: RunStore) -> None:
    planner, executor, hub = two_subtasks()
    screen = io.StringIO()
    terminal = TerminalProgress(Console(file=screen, force_terminal=False, width=200))
    result = await wired(planner, executor, hub, store, terminal).run("What is 2 + 2, and the capital of France?", policy="none")
    shown = screen.getvalue()
    assert shown.count(result.run_id) == 1 and shown.count("plan 1") == 1
    assert shown.count("→ code__run_python") == 1 and shown.count("→ search__web_search") == 1
    assert f"answered  {result.usage.total_tokens:,} tokens" in shown


async def test_a_failing_listener_is_logged_and_the_run_and_its_trace_go_on(store: RunStore, caplog: pytest.LogCaptureFixture) -> None:
    planner, executor, hub = two_subtasks()
    seen = Recorder()
    with caplog.at_level(logging.ERROR, logger="memento.agent.events"):
        result = await wired(planner, executor, hub, store, Broken(), seen).run("What is 2 + 2?", policy="none")
    assert result.status == "answered" and result.answer == "4, Paris"
    assert isinstance(seen.events[-1], RunFinished)  # the listeners after the broken one still saw everything
    record = store.get_run(result.run_id)
    assert record.status == "answered" and len(record.model_calls) == 6
    assert "Broken failed on RunStarted" in caplog.text


async def test_the_judges_call_is_metered_like_any_other(store: RunStore) -> None:
    judge_usage = Usage(input_tokens=70, output_tokens=5, cost_usd=0.002)
    planner = ScriptedModel(
        [answer("The Big Apple"), tool_reply(call("submit_verdict", verdict="correct", reason="its nickname"), usage=judge_usage)]
    )
    seen = Recorder()
    result = await wired(planner, ScriptedModel(), StubHub({}), store, seen).run("Which city?", truth="New York City", policy="none")
    assert result.reward == 1.0

    [judged] = [c for c in seen.of(ModelCalled) if c.role == "judge"]
    assert judged.usage == judge_usage and judged.latency_s > 0
    [traced] = [c for c in store.get_run(result.run_id).model_calls if c.role == "judge"]
    assert traced.latency_s > 0 and traced.usage.input_tokens == 70 and traced.usage.output_tokens == 5
    assert result.usage == usage() + judge_usage  # the planner's one call and the judge's
    assert seen.of(Judged)[0].judgement.llm == "correct"


def test_an_event_stream_gives_each_event_to_its_listeners_in_the_order_they_were_added() -> None:
    order: list[str] = []

    class Named:
        def __init__(self, name: str) -> None:
            self.name = name

        def handle(self, event: Event) -> None:
            order.append(self.name)

    stream = EventStream([Named("trace")])
    stream.add(Named("terminal"))
    stream.emit(Note(run_id="", text="server code did not start"))
    assert order == ["trace", "terminal"]


def test_events_are_frozen_and_take_keywords_only() -> None:
    note = Note(run_id="run-1", text="hello")
    with pytest.raises(AttributeError):
        note.text = "changed"  # type: ignore[misc]
    with pytest.raises(TypeError):
        Note("run-1", "hello")  # type: ignore[misc]


def test_the_run_json_keeps_its_agreed_keys_with_keyword_records() -> None:
    from memento.agent.episode import EpisodeResult

    result = EpisodeResult(run_id="r", answer="a", status="answered", reward=None, cases_shown=[], case_id=None, usage=Usage(), plan=[])
    assert list(result.to_json()) == [
        "run_id",
        "answer",
        "status",
        "reward",
        "cases_shown",
        "case_id",
        "usage",
        "plan",
        "report",
        "sources",
        "reward_kind",
        "temperature",
        "q_version",
    ]
    with pytest.raises(TypeError):
        EpisodeResult("r", "a", "answered", None, [], None, Usage(), [])  # type: ignore[misc]


def test_the_research_servers_progress_lines_come_from_the_events_and_never_wait() -> None:
    import anyio

    from memento.servers.research.service import ProgressLines

    send, receive = anyio.create_memory_object_stream[str](3)
    lines = ProgressLines(send)
    lines.handle(PlanMade(run_id="r", cycle=1, subtasks=("Find it", "Check it")))
    lines.handle(SubtaskStarted(run_id="r", cycle=1, index=1, total=2, subtask="Find it"))
    lines.handle(ModelCalled(run_id="r", role="executor", model="m", usage=Usage(), latency_s=0.1, run_usage=Usage()))  # not a line
    lines.handle(ToolStarted(run_id="r", name="search__web_search", arguments={}))
    lines.handle(Note(run_id="r", text="budget spent: tokens"))  # the queue is full: dropped, not waited for
    send.close()
    with receive:
        assert [receive.receive_nowait() for _ in range(3)] == [
            "plan 1: Find it; Check it",
            "subtask 1/2: Find it",
            "calling search__web_search",
        ]


async def test_an_interrupted_run_is_not_exported_and_a_finished_one_is_sent_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from memento.agent import otel

    sent: list[str] = []
    monkeypatch.setattr(otel, "export_run", lambda run, endpoint, headers: sent.append(run["id"]) or True)
    export = otel.OtelExport("http://127.0.0.1:4318")
    for run_id, status in (("run-a", "interrupted"), ("run-b", "answered")):
        export.handle(RunStarted(run_id=run_id, task="t", planner="p", executor="e", settings={}))
        export.handle(RunFinished(run_id=run_id, answer="", status=status, reward=None, judgement=None, case_id=None, usage=Usage()))
    await export.flush()
    await export.flush()
    assert sent == ["run-b"]


async def test_a_reply_that_streams_for_a_while_is_stated_as_it_grows_then_once_as_called(monkeypatch: pytest.MonkeyPatch) -> None:
    from memento.agent import metered
    from memento.agent.budget import Spending
    from memento.agent.events import ModelStreaming
    from memento.agent.llm import Message, Reply, TextPart
    from memento.agent.llm.streaming import streamed

    clock = iter([0.0, 0.1, 0.3, 0.35, 0.7, 0.8, 0.9])
    monkeypatch.setattr(metered.time, "perf_counter", lambda: next(clock))

    class Growing:
        name, context_tokens = "local:tiny", 8192

        async def generate(self, system: str, messages: Any, tools: Any, **options: Any) -> Reply:
            for pieces in range(1, 5):
                streamed(pieces)
            return Reply(Message("assistant", [TextPart("done")]))

    seen: list[Event] = []

    class Keep:
        def handle(self, event: Event) -> None:
            seen.append(event)

    meter = metered.Meter(events=EventStream([Keep()]), run_id="run-1", spending=Spending(AgentSettings.from_env({}).budgets))
    await meter.call(Growing(), "planner", system="", messages=[], tools=[])  # type: ignore[arg-type]
    growing = [e for e in seen if isinstance(e, ModelStreaming)]
    # Pieces at t = 0.1, 0.3, 0.35, 0.7: stated when 0.25 s have passed since the last statement (0.3 and 0.7).
    assert [(e.role, e.pieces) for e in growing] == [("planner", 2), ("planner", 4)]
    assert isinstance(seen[-1], ModelCalled) and len(seen) == 3


def test_the_terminal_marks_recalled_cases_by_outcome_and_a_run_nobody_rated_as_unknown() -> None:
    screen = io.StringIO()
    terminal = TerminalProgress(Console(file=screen, force_terminal=False, width=200))
    cases = [
        {"task": "worked before", "outcome": "positive", "score": 0.9},
        {"task": "failed before", "outcome": "negative", "score": 0.8},
        {"task": "never rated", "outcome": "unverified", "score": 0.7},
    ]
    terminal.handle(CasesShown(run_id="run-1", cases=tuple(cases), policy="similarity"))
    lines = screen.getvalue().splitlines()
    assert [line.split()[1] for line in lines[:3]] == ["+", "-", "?"]
