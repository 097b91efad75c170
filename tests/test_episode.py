"""The episode loop with scripted models: planning, executing, budgets, failures, rewards and memory.

The models are `ScriptedModel`s and the tools a small in-process hub with the
real hub's interface; the trace store and (where memory matters) the case bank
are the real ones. The same loop over real servers and the fake vendor APIs is
in test_agent_e2e.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from memento.agent.episode import Episode
from memento.agent.hub import ToolOutcome
from memento.agent.llm import Message, ToolResultPart, ToolSpec, Usage
from memento.agent.session import run_events
from memento.agent.settings import AgentSettings
from memento.agent.traces import RunStore
from memento.core.errors import ModelFailed
from tests.scripted_model import ScriptedModel, call, text_reply, tool_reply

pytestmark = pytest.mark.anyio


@dataclass
class StubHub:
    """The hub's interface over plain functions: `tools` maps a hub tool name to fn(arguments) -> text."""

    tools: dict[str, Any]
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def specs(self) -> list[ToolSpec]:
        schema = {"type": "object", "properties": {"q": {"type": "string"}}}
        return [ToolSpec(name, f"The {name} tool.", schema) for name in self.tools]

    async def call(self, name: str, arguments: dict[str, Any], timeout_s: float | None = None, scope: str | None = None) -> ToolOutcome:
        self.calls.append((name, arguments))
        if name not in self.tools:
            return ToolOutcome(f"No tool named {name}; available: {', '.join(self.tools)}", is_error=True)
        server, _, tool = name.partition("__")
        try:
            return ToolOutcome(str(self.tools[name](arguments)), server=server, tool=tool, seconds=0.001)
        except ValueError as exc:
            return ToolOutcome(str(exc), is_error=True, server=server, tool=tool)


def usage(tokens: int = 100, cost: float = 0.001) -> Usage:
    return Usage(input_tokens=tokens, output_tokens=0, cost_usd=cost)


def plan(*subtasks: str) -> Any:
    return tool_reply(call("submit_plan", subtasks=list(subtasks)), usage=usage())


def answer(text: str) -> Any:
    return tool_reply(call("submit_answer", answer=text), usage=usage())


@pytest.fixture
def store(memento_home: Path):
    with RunStore.open(memento_home) as opened:
        yield opened


def episode(planner: ScriptedModel, executor: ScriptedModel, hub: StubHub, store: RunStore, bank: Any = None, **settings: Any) -> Episode:
    agent_settings = AgentSettings(**settings)
    return Episode(
        planner=planner,
        executor=executor,
        hub=hub,  # type: ignore[arg-type]
        events=run_events(store, agent_settings),
        settings=agent_settings,
        bank=bank,
        judge=planner,
    )


async def test_a_planner_may_answer_at_once_without_a_plan(store: RunStore) -> None:
    planner, executor = ScriptedModel([answer("4")]), ScriptedModel()
    result = await episode(planner, executor, StubHub({}), store).run("What is 2 + 2?", policy="none")
    assert result.status == "answered" and result.answer == "4" and result.plan == []
    assert planner.calls[0].tool_choice == "any" and {t.name for t in planner.calls[0].tools} == {"submit_plan", "submit_answer"}
    run = store.get_run(result.run_id)
    assert run.status == "answered" and run.answer == "4"


async def test_subtasks_run_through_the_tools_and_their_results_reach_the_planner(store: RunStore) -> None:
    hub = StubHub(
        {
            "search__web_search": lambda a: f"results for {a['q']}: Tungsten melts at 3422 C",
            "code__run_python": lambda a: "3422 - 3290 = 132",
        }
    )
    planner = ScriptedModel(
        [plan("Find the element with the highest melting point", "Compute the gap to the runner-up"), answer("Tungsten, 132")]
    )
    executor = ScriptedModel(
        [
            tool_reply(call("search__web_search", q="highest melting point element"), usage=usage()),
            text_reply("Tungsten (3422 C); runner-up rhenium (3186 C)", usage=usage()),
            tool_reply(call("code__run_python", q="3422-3290"), call("search__web_search", q="rhenium melting point"), usage=usage()),
            text_reply("The gap is 132 degrees", usage=usage()),
        ]
    )
    result = await episode(planner, executor, hub, store).run("Which element melts hottest, and by how much?", policy="none")
    assert result.status == "answered" and result.answer == "Tungsten, 132"
    assert result.plan == ["Find the element with the highest melting point", "Compute the gap to the runner-up"]
    assert [name for name, _ in hub.calls] == ["search__web_search", "code__run_python", "search__web_search"]
    # the parallel calls' results came back in one turn, paired with their calls
    turn = executor.calls[3].messages[-1]
    assert [type(p) for p in turn.parts] == [ToolResultPart, ToolResultPart] and "3422 - 3290" in turn.parts[0].text
    # the planner's second turn holds both subtasks' results as the result of its submit_plan call
    report = planner.calls[1].messages[-1].parts[0]
    assert isinstance(report, ToolResultPart) and "Tungsten (3422 C)" in report.text and "The gap is 132 degrees" in report.text
    assert result.usage.total_tokens == 600 and result.usage.cost_usd == pytest.approx(0.006)
    run = store.get_run(result.run_id)
    assert len(run.tool_calls) == 3 and len(run.model_calls) == 6 and len(run.subtasks) == 2


async def test_a_tool_error_goes_back_to_the_model_and_the_loop_goes_on(store: RunStore) -> None:
    def refuse(arguments: dict[str, Any]) -> str:
        raise ValueError("page is 40 MB, over the 10 MB limit")

    hub = StubHub({"browse__fetch_page": refuse})
    planner = ScriptedModel([plan("Read the page"), answer("unknown")])
    executor = ScriptedModel(
        [
            tool_reply(call("browse__fetch_page", q="x"), call("no_such__tool", q="y")),
            text_reply("The page was too large and the other tool does not exist"),
        ]
    )
    result = await episode(planner, executor, hub, store).run("Read a huge page", policy="none")
    assert result.status == "answered"
    errors = executor.calls[1].messages[-1].parts
    assert all(isinstance(p, ToolResultPart) and p.is_error for p in errors)
    assert "40 MB" in errors[0].text and "No tool named no_such__tool" in errors[1].text


async def test_a_malformed_planner_call_is_answered_with_what_is_wrong(store: RunStore) -> None:
    planner = ScriptedModel([tool_reply(call("submit_plan", subtasks=[])), tool_reply(call("search", q="x")), answer("42")])
    result = await episode(planner, ScriptedModel(), StubHub({}), store).run("The answer?", policy="none")
    assert result.status == "answered" and result.answer == "42"
    first_problem = planner.calls[1].messages[-1].parts[0]
    assert isinstance(first_problem, ToolResultPart) and first_problem.is_error and "non-empty strings" in first_problem.text
    assert "There is no tool 'search'" in planner.calls[2].messages[-1].parts[0].text


async def test_a_planner_that_never_uses_its_tools_fails_the_run_cleanly(store: RunStore) -> None:
    planner = ScriptedModel([text_reply("I think it is 42")] * 3)
    result = await episode(planner, ScriptedModel(), StubHub({}), store).run("The answer?", policy="none")
    assert result.status == "failed" and "did not call submit_plan" in (result.error or "")
    assert store.get_run(result.run_id).status == "failed"


async def test_after_the_last_cycle_only_submit_answer_is_offered(store: RunStore) -> None:
    hub = StubHub({"search__web_search": lambda a: "nothing"})
    planner = ScriptedModel([plan("look"), plan("look again"), answer("best guess")])
    executor = ScriptedModel([text_reply("found nothing"), text_reply("still nothing")])
    result = await episode(planner, executor, hub, store, budget_cycles=2).run("Hard question", policy="none")
    assert result.status == "answered" and result.answer == "best guess" and len(result.plans) == 2
    assert [t.name for t in planner.calls[2].tools] == ["submit_answer"]


async def test_a_subtask_that_runs_out_of_steps_reports_what_it_had(store: RunStore) -> None:
    hub = StubHub({"search__web_search": lambda a: "more links"})
    planner = ScriptedModel([plan("dig"), answer("partial")])
    executor = ScriptedModel([tool_reply(call("search__web_search", q=str(i)), text=f"step {i}") for i in range(3)])
    result = await episode(planner, executor, hub, store, budget_steps=3).run("Dig deep", policy="none")
    subtask = store.get_run(result.run_id).subtasks[0]
    assert subtask.status == "budget" and "step 2" in subtask.result and "per-subtask limit" in subtask.result


async def test_the_tool_call_budget_ends_the_run_with_the_planners_best_answer(store: RunStore) -> None:
    hub = StubHub({"search__web_search": lambda a: "a result"})
    planner = ScriptedModel([plan("search a lot"), answer("what I have")])
    executor = ScriptedModel(
        [tool_reply(call("search__web_search", q="1"), call("search__web_search", q="2")), tool_reply(call("search__web_search", q="3"))]
    )
    result = await episode(planner, executor, hub, store, budget_tool_calls=2).run("Search", policy="none")
    assert result.status == "budget_exhausted" and result.stopped_by == "tool_calls" and result.answer == "what I have"
    closing = planner.calls[1]
    assert [t.name for t in closing.tools] == ["submit_answer"] and "tool_calls budget is spent" in closing.last_user_text
    # every tool call of the planner is still answered (the vendors refuse an unanswered one)
    assert isinstance(closing.messages[-1].parts[0], ToolResultPart)
    run = store.get_run(result.run_id)
    assert run.status == "budget_exhausted" and run.stopped_by == "tool_calls"


async def test_a_spent_cost_budget_makes_no_further_model_call(store: RunStore) -> None:
    planner = ScriptedModel([tool_reply(call("submit_plan", subtasks=["one", "two"]), usage=usage(cost=0.01))])
    executor = ScriptedModel([text_reply("first finding: 7", usage=usage(cost=1.0))])
    result = await episode(planner, executor, StubHub({}), store, budget_cost_usd=0.5).run("Costly", policy="none")
    assert result.status == "budget_exhausted" and result.stopped_by == "cost"
    assert result.answer == "first finding: 7" and planner.remaining == 0 and len(planner.calls) == 1


async def test_a_model_that_fails_for_good_fails_the_run_and_keeps_its_trace(store: RunStore) -> None:
    planner = ScriptedModel([plan("step"), ModelFailed("Anthropic answered 500 five times; retries spent.")])
    executor = ScriptedModel([text_reply("done")])
    result = await episode(planner, executor, StubHub({}), store).run("Fragile", policy="none")
    assert result.status == "failed" and "retries spent" in (result.error or "")
    run = store.get_run(result.run_id)
    assert run.status == "failed" and run.subtasks[0].result == "done"
    assert any(m.error for m in run.model_calls)


async def test_the_json_result_has_exactly_the_agreed_keys(store: RunStore) -> None:
    result = await episode(ScriptedModel([answer("4")]), ScriptedModel(), StubHub({}), store).run("2+2?", policy="none")
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
    assert result.to_json()["reward"] is None and result.to_json()["reward_kind"] == "unrated"


async def test_a_known_truth_is_judged_and_the_case_is_learned_then_shown_to_a_similar_task(store: RunStore, memento_home: Path) -> None:
    from memento.memory import CaseBank, MemorySettings

    with CaseBank.open(MemorySettings(home=memento_home)) as bank:
        hub = StubHub({"code__run_python": lambda a: "1267650600228229401496703205376"})
        planner = ScriptedModel([plan("Compute 2**100 with Python"), answer("1267650600228229401496703205376")])
        executor = ScriptedModel([tool_reply(call("code__run_python", q="2**100")), text_reply("2**100 = 1267650600228229401496703205376")])
        first = await episode(planner, executor, hub, store, bank).run(
            "What is 2 to the power 100?", truth="1267650600228229401496703205376"
        )
        assert first.reward == 1.0 and first.case_id and first.judgement and first.judgement.exact
        case = bank.get(first.case_id)
        assert case.plan == ["Compute 2**100 with Python"] and case.outcome == "positive" and "code__run_python" in case.tools

        planner2 = ScriptedModel([answer("1125899906842624")])
        second = await episode(planner2, ScriptedModel(), hub, store, bank).run("What is 2 to the power 50?", truth="1125899906842624")
        assert second.cases_shown and second.cases_shown[0]["id"] == first.case_id
        first_turn = planner2.calls[0].messages[0].text
        assert (
            "What is 2 to the power 100?" in first_turn
            and "Compute 2**100 with Python" in first_turn
            and "These plans worked" in first_turn
        )
        assert bank.stats()["transitions"] == 1


async def test_without_a_truth_the_reward_is_pending_and_the_case_is_stored_unrated_until_feedback(
    store: RunStore, memento_home: Path
) -> None:
    from memento.memory import CaseBank, MemorySettings

    with CaseBank.open(MemorySettings(home=memento_home)) as bank:
        result = await episode(ScriptedModel([answer("Paris")]), ScriptedModel(), StubHub({}), store, bank).run("Capital of France?")
        assert result.reward is None and result.reward_kind == "unrated" and result.case_id is not None
        assert bank.get(result.case_id).outcome == "unverified" and store.pending_case(result.run_id) is None  # never a success


async def test_a_wrong_answer_is_judged_by_the_llm_and_a_failed_judge_is_unknown_not_zero(store: RunStore) -> None:
    planner = ScriptedModel([answer("The Big Apple"), tool_reply(call("submit_verdict", verdict="correct", reason="nickname"))])
    judged = await episode(planner, ScriptedModel(), StubHub({}), store).run("Which city?", truth="New York City", policy="none")
    assert judged.reward == 1.0 and judged.judgement and judged.judgement.llm == "correct" and not judged.judgement.exact

    planner = ScriptedModel([answer("Gotham"), ModelFailed("overloaded")])
    unknown = await episode(planner, ScriptedModel(), StubHub({}), store).run("Which city?", truth="New York City", policy="none")
    assert unknown.reward is None and unknown.judgement and unknown.judgement.llm == "unknown"


def test_old_tool_results_are_compacted_without_separating_calls_from_results() -> None:
    from memento.agent.context import compact, estimate_tokens
    from memento.agent.llm import TextPart, ToolCall

    messages = [Message.user("task")]
    for i in range(10):
        messages.append(Message("assistant", [ToolCall(f"c{i}", "search__web_search", {"q": str(i)})]))
        messages.append(Message("user", [ToolResultPart(f"c{i}", "x" * 40_000)]))
    before = estimate_tokens("", messages)
    shrunk = compact("", messages, context_tokens=100_000)
    assert shrunk > 0 and estimate_tokens("", messages) <= 70_000 < before
    for call_turn, result_turn in zip(messages[1::2], messages[2::2]):
        assert call_turn.parts[0].id == result_turn.parts[0].call_id  # type: ignore[union-attr]
    assert messages[-1].parts[0].text == "x" * 40_000  # the latest results stay whole  # type: ignore[union-attr]
    assert messages[1].parts and "removed to save context: this result had 40,000 characters" in messages[2].parts[0].text  # type: ignore[union-attr]
    assert isinstance(messages[0].parts[0], TextPart)
