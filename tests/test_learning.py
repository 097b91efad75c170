"""What an episode teaches the case memory (issue 24): the cases its plan follows, runs without a teacher, exploration.

The models are `ScriptedModel`s and the tools a small in-process hub; the trace store and the case bank are the
real ones. `Recording` only notes what the episode hands the real bank's `record_episode`, then hands it on.
The last test runs the real command against the fake vendor API on loopback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from memento.agent.cli.runs_view import timeline
from memento.agent.feedback import apply_feedback
from memento.agent.llm import ToolCall, ToolResultPart
from memento.agent.planner import read_call
from memento.agent.traces import RunStore
from tests.eval_helpers import eval_environment
from tests.fake_llm import FakeAnthropic, ToolUse
from tests.fake_llm import answer as reply
from tests.scripted_model import ScriptedModel, call, text_reply, tool_reply
from tests.test_agent_more import memento
from tests.test_episode import StubHub, answer, episode, plan, usage

pytestmark = pytest.mark.anyio


class Recording:
    """The real case bank, with each `record_episode` call's arguments noted before it is made."""

    def __init__(self, bank: Any) -> None:
        self.bank = bank
        self.recorded: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.bank, name)

    def record_episode(self, **arguments: Any) -> Any:
        self.recorded.append(arguments)
        return self.bank.record_episode(**arguments)


@pytest.fixture
def store(memento_home: Path):
    with RunStore.open(memento_home) as opened:
        yield opened


@pytest.fixture
def bank(memento_home: Path):
    from memento.memory import CaseBank, MemorySettings

    with CaseBank.open(MemorySettings(home=memento_home)) as opened:
        yield opened


def following(*numbers: int, steps: tuple[str, ...] = ("Look it up",)) -> Any:
    return tool_reply(call("submit_plan", subtasks=list(steps), follows=list(numbers)), usage=usage())


def lookup_hub() -> StubHub:
    return StubHub({"search__web_search": lambda a: "https://example.org/peaks says: Everest is 8849 m high"})


def finder() -> ScriptedModel:
    """An executor that searches once, then reports what it found."""
    return ScriptedModel(
        [
            tool_reply(call("search__web_search", q="Everest height"), usage=usage()),
            text_reply("Everest is 8849 m (example.org)", usage=usage()),
        ]
    )


def seed_cases(bank: Any) -> tuple[str, str]:
    """A success and a failure in memory, close to the questions below: shown as Case 1 and Case 2."""
    good = bank.record_episode(task="How high is Mount Everest in metres?", plan=["Search a survey"], answer="8849", reward=1.0)
    bad = bank.record_episode(task="How high is Mount Everest in feet?", plan=["Guess"], answer="9000", reward=0.0)
    return good.case_id, bad.case_id


async def test_the_case_numbers_a_plan_follows_reach_the_memory_as_case_ids(store: RunStore, bank: Any) -> None:
    good, bad = seed_cases(bank)
    memory = Recording(bank)
    planner = ScriptedModel([following(2), answer("8849 m")])
    result = await episode(planner, finder(), lookup_hub(), store, memory).run("How tall is Everest, in metres?", truth="8849 m")
    first_turn = planner.calls[0].messages[0].text
    assert "Case 1. Task: How high is Mount Everest in metres?" in first_turn and "Case 2. Task:" in first_turn
    assert "follows" in str(planner.calls[0].tools[0].input_schema["properties"])
    assert result.case_id and memory.recorded[-1]["followed_case_ids"] == [bad]
    assert set(memory.recorded[-1]["shown_case_ids"]) == {good, bad}


async def test_a_plan_that_names_no_cases_leaves_the_choice_to_the_memory(store: RunStore, bank: Any) -> None:
    seed_cases(bank)
    memory = Recording(bank)
    planner = ScriptedModel([plan("Look it up"), answer("8849 m")])
    await episode(planner, finder(), lookup_hub(), store, memory).run("How tall is Everest, in metres?", truth="8849 m")
    assert memory.recorded[-1].get("followed_case_ids") is None  # the memory decides by plan similarity

    planner = ScriptedModel([following(), answer("8849 m")])
    await episode(planner, finder(), lookup_hub(), store, memory).run("How tall is Everest, in metres?", truth="8849 m")
    assert memory.recorded[-1]["followed_case_ids"] == []  # said: none followed


async def test_case_numbers_that_were_not_shown_go_back_to_the_planner_as_an_error(store: RunStore, bank: Any) -> None:
    seed_cases(bank)
    memory = Recording(bank)
    planner = ScriptedModel([following(7), following(1), answer("8849 m")])
    result = await episode(planner, finder(), lookup_hub(), store, memory).run("How tall is Everest, in metres?", truth="8849 m")
    assert result.status == "answered" and len(result.plans) == 1  # the bad plan was not run
    refused = planner.calls[1].messages[-1].parts[0]
    assert isinstance(refused, ToolResultPart) and refused.is_error
    assert "case 7" in refused.text and "numbered 1 to 2" in refused.text and "Nothing was run" in refused.text
    assert len(memory.recorded[-1]["followed_case_ids"]) == 1


def test_follows_is_read_as_case_numbers_and_anything_else_is_explained() -> None:
    def read(follows: Any, cases: int = 3) -> Any:
        return read_call(ToolCall("c1", "submit_plan", {"subtasks": ["a"], "follows": follows}), plan_allowed=True, cases=cases)

    assert read([3, 1, 3]).follows == [3, 1] and read(["2"]).follows == [2] and read([]).follows == []
    assert read_call(ToolCall("c1", "submit_plan", {"subtasks": ["a"]}), plan_allowed=True, cases=3).follows is None
    assert "list of case numbers" in read(["first"]).problem and read([True]).kind == "invalid"
    assert "No past cases were shown" in read([1], cases=0).problem and read([], cases=0).kind == "plan"
    assert "numbered 1 to 3" in read([0, 4]).problem


async def test_a_run_without_a_truth_is_stored_unrated_and_the_next_planner_reads_outcome_not_verified(store: RunStore, bank: Any) -> None:
    first = await episode(ScriptedModel([answer("Paris")]), ScriptedModel(), StubHub({}), store, bank).run("Capital of France?")
    assert first.reward is None and first.reward_kind == "unrated" and first.case_id
    stored = bank.get(first.case_id)
    assert stored.outcome == "unverified" and stored.reward_kind == "unrated"
    run = store.get_run(first.run_id)
    assert run.reward is None and run.reward_kind == "unrated" and run.case_id == first.case_id and not run.case_pending

    planner = ScriptedModel([answer("Paris")])
    await episode(planner, ScriptedModel(), StubHub({}), store, bank).run("What is the capital city of France?", learn=False)
    turn = planner.calls[0].messages[0].text
    assert "Capital of France?" in turn and "outcome not verified" in turn
    assert "These plans worked" not in turn and "success" not in turn


async def test_self_assess_stores_the_judges_check_against_the_sources_as_a_self_assessed_reward(store: RunStore, bank: Any) -> None:
    judge = ScriptedModel([tool_reply(call("submit_assessment", verdict="supported", reason="the survey page says 8849 m"))])
    planner = ScriptedModel([plan("Find Everest's height"), answer("8849 m")])
    agent = episode(planner, finder(), lookup_hub(), store, bank)
    agent.judge = judge
    result = await agent.run("How tall is Everest?", self_assess=True)
    assert result.reward == 1.0 and result.reward_kind == "self-assessed" and result.judgement and result.judgement.basis == "sources"
    checked = judge.calls[0].messages[0].text
    assert "Everest is 8849 m (example.org)" in checked and "Answer given:\n8849 m" in checked
    case = bank.get(result.case_id)
    assert case.reward_kind == "self-assessed" and case.outcome == "positive"
    run = store.get_run(result.run_id)
    assert run.reward == 1.0 and run.reward_source == "self-assessed" and run.reward_kind == "self-assessed"

    said = apply_feedback(store, bank, result.run_id, 0.0)  # a person disagrees: their reward wins
    assert any("Case memory updated" in line for line in said)
    case = bank.get(result.case_id)
    assert case.reward == 0.0 and case.outcome == "negative" and case.reward_kind == "verified"
    run = store.get_run(result.run_id)
    assert run.reward == 0.0 and run.reward_source == "feedback" and run.reward_kind == "verified"


async def test_a_self_assessment_without_sources_or_verdict_leaves_the_case_unrated(store: RunStore, bank: Any) -> None:
    judge = ScriptedModel()  # never asked: the run read nothing to check its answer against
    agent = episode(ScriptedModel([answer("Paris")]), ScriptedModel(), StubHub({}), store, bank)
    agent.judge = judge
    result = await agent.run("Capital of France?", self_assess=True)
    assert not judge.calls and result.reward is None and result.reward_kind == "unrated"
    assert bank.get(result.case_id).outcome == "unverified"


async def test_a_truth_whose_verdict_failed_still_holds_the_case_until_feedback(store: RunStore, bank: Any) -> None:
    from memento.core.errors import ModelFailed

    planner = ScriptedModel([answer("Gotham"), ModelFailed("overloaded")])
    result = await episode(planner, ScriptedModel(), StubHub({}), store, bank).run("Which city?", truth="New York City")
    assert result.reward is None and result.reward_kind is None and result.case_id is None and bank.count() == 0
    assert store.pending_case(result.run_id)["answer"] == "Gotham"


async def test_a_run_is_greedy_by_default_and_its_trace_says_so(store: RunStore, bank: Any) -> None:
    seed_cases(bank)
    result = await episode(ScriptedModel([answer("8849")]), ScriptedModel(), StubHub({}), store, bank).run("Everest's height?", learn=False)
    run = store.get_run(result.run_id)
    assert result.temperature is None and run.temperature is None and run.to_json()["temperature"] is None
    assert run.settings["explore"] is False
    shown = "\n".join(line.plain for line in timeline(run))
    assert "similarity, greedy (the best cases)" in shown


async def test_a_run_asked_to_explore_samples_its_cases_and_records_the_temperature(store: RunStore, bank: Any) -> None:
    seed_cases(bank)
    agent = episode(ScriptedModel([answer("8849")]), ScriptedModel(), StubHub({}), store, bank)
    result = await agent.run("Everest's height?", learn=False, explore=True, temperature=0.7)
    run = store.get_run(result.run_id)
    assert result.temperature == run.temperature == 0.7 and result.to_json()["temperature"] == 0.7
    assert "explored (sampled at temperature 0.7)" in "\n".join(line.plain for line in timeline(run))


@pytest.mark.integration
def test_memento_run_explores_when_asked_stores_an_unrated_case_and_feedback_verifies_it(
    tmp_path: Path, memento_home: Path, fake_anthropic: FakeAnthropic
) -> None:
    env = eval_environment(tmp_path, memento_home, fake_anthropic)
    fake_anthropic.enqueue(reply(ToolUse("submit_answer", {"answer": "42", "report": "Six sevens are 42."})))
    done = memento(env, "run", "What is 6 times 7?", "--explore", "0.6", "--self-assess", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    # nothing was read, so nothing could be self-assessed: the case is stored unrated, and no judge was asked
    assert result["temperature"] == 0.6 and result["reward"] is None and result["reward_kind"] == "unrated" and result["case_id"]
    assert len(fake_anthropic.requests) == 1
    shown = memento(env, "runs", "show", result["run_id"])
    assert "explored (sampled at temperature 0.6)" in shown.stdout and "unrated" in shown.stdout

    fed = memento(env, "feedback", result["run_id"], "good")
    assert fed.returncode == 0, fed.stderr
    kept = json.loads(memento(env, "runs", "show", result["run_id"], "--json").stdout)
    assert (kept["reward"], kept["reward_source"], kept["reward_kind"], kept["temperature"]) == (1.0, "feedback", "verified", 0.6)


def test_memory_search_lists_a_run_nobody_rated_apart_from_successes_and_failures() -> None:
    from click.testing import CliRunner

    from memento.agent.cli import cli
    from memento.memory import CaseBank, MemorySettings

    with CaseBank.open(MemorySettings.from_env()) as bank:
        bank.record_episode("Who painted the Mona Lisa?", ["search the painter"], "Leonardo", 1.0)
        bank.record_episode("Who painted The Night Watch?", ["search the painter"], "Rembrandt", None, reward_kind="unrated")
    shown = CliRunner().invoke(cli, ["memory", "search", "Who painted the Girl with a Pearl Earring?"], prog_name="memento")
    assert shown.exit_code == 0, shown.output
    successes, unrated = shown.output.split("\nsuccesses:")[1].split("\nnot verified (never rated):")
    assert "Mona Lisa" in successes and "Night Watch" not in successes
    assert "Night Watch" in unrated and "Mona Lisa" not in unrated
