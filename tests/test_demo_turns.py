"""Turns shaped for small models (`structured_turns`) and the per-role reply caps, with scripted models.

A local model must plan before it may answer where tools exist, call a tool in
a subtask's first step and only reply in its last; hosted models keep the free
turns unless the setting says otherwise. The hub is test_episode's in-process stub.
"""

from __future__ import annotations

import pytest

from memento.agent.llm import ToolSpec
from memento.agent.settings import AgentSettings
from memento.agent.traces import RunStore
from tests.scripted_model import ScriptedModel, call, text_reply, tool_reply
from tests.test_episode import StubHub, answer, episode, plan, store, usage

__all__ = ["store"]  # the fixture, re-used

pytestmark = pytest.mark.anyio

LOCAL = "local:qwen2.5-0.5b"


def search_hub() -> StubHub:
    return StubHub({"search__search_local": lambda a: f"pages/cheese.md: Graumel is the cheese of Vellmark ({a.get('q')})"})


async def test_with_structured_turns_the_first_planner_turn_may_only_plan_and_each_subtask_acts_first(store: RunStore) -> None:
    planner = ScriptedModel([plan("Search the notes for the island's cheese"), answer("Graumel")])
    executor = ScriptedModel(
        [
            tool_reply(call("search__search_local", q="Vellmark cheese"), usage=usage()),
            tool_reply(call("search__search_local", q="cheese name"), usage=usage()),
            text_reply("Graumel (pages/cheese.md)", usage=usage()),
        ]
    )
    run = episode(planner, executor, search_hub(), store, structured_turns="on", budget_steps=3)
    result = await run.run("What is the cheese of Vellmark called?", policy="none")
    assert result.status == "answered" and result.answer == "Graumel"
    assert [t.name for t in planner.calls[0].tools] == ["submit_plan"] and planner.calls[0].tool_choice == "any"
    assert planner.calls[0].tools[0].input_schema["properties"]["subtasks"]["maxItems"] == 1  # small models repeat a subtask
    assert list(planner.calls[0].tools[0].input_schema["properties"]) == ["subtasks"]  # and name cases never shown
    assert {t.name for t in planner.calls[1].tools} == {"submit_plan", "submit_answer"}
    answering = next(t for t in planner.calls[1].tools if t.name == "submit_answer")
    assert answering.input_schema["properties"]["answer"]["maxLength"] == 200  # a small model's answer is bounded
    assert [c.tool_choice for c in executor.calls] == ["any", "auto", "none"]
    # the short prompts of small models, and the task beside the subtask
    assert (
        "A tool name alone is not a subtask" in " ".join(planner.calls[0].system.split())
        and "First call a tool" in executor.calls[0].system
    )
    assert executor.calls[0].last_user_text.startswith("The task: What is the cheese of Vellmark called?")


async def test_without_tools_a_structured_planner_may_still_answer_at_once(store: RunStore) -> None:
    planner = ScriptedModel([answer("4")])
    result = await episode(planner, ScriptedModel(), StubHub({}), store, structured_turns="on").run("What is 2 + 2?", policy="none")
    assert result.answer == "4" and {t.name for t in planner.calls[0].tools} == {"submit_plan", "submit_answer"}


async def test_hosted_models_keep_free_turns_and_the_full_reply_length_by_default(store: RunStore) -> None:
    planner = ScriptedModel([answer("Graumel")])
    result = await episode(planner, ScriptedModel(), search_hub(), store).run("What is the cheese of Vellmark called?", policy="none")
    assert result.answer == "Graumel"
    assert {t.name for t in planner.calls[0].tools} == {"submit_plan", "submit_answer"}
    assert planner.calls[0].max_tokens == AgentSettings().model_max_tokens


def test_local_models_get_short_replies_and_structured_turns_unless_set_otherwise() -> None:
    local = AgentSettings(planner_model=LOCAL, executor_model=LOCAL)
    assert local.role_max_tokens("planner") == 768 and local.role_max_tokens("executor") == 512
    assert local.structured("planner") and local.structured("executor")
    chosen = AgentSettings(planner_model=LOCAL, executor_model=LOCAL, planner_max_tokens=300, structured_turns="off")
    assert chosen.role_max_tokens("planner") == 300 and not chosen.structured("planner")
    hosted = AgentSettings(executor_max_tokens=1000)
    assert hosted.role_max_tokens("executor") == 1000 and hosted.role_max_tokens("planner") == hosted.model_max_tokens
    assert not hosted.structured("executor")


async def test_a_one_step_subtask_is_never_forced_to_call_a_tool(store: RunStore) -> None:
    planner = ScriptedModel([plan("Say what the notes hold"), answer("nothing")])
    executor = ScriptedModel([text_reply("Nothing found", usage=usage())])
    run = episode(planner, executor, search_hub(), store, structured_turns="on", budget_steps=1)
    result = await run.run("What do the notes hold?", policy="none")
    assert result.answer == "nothing" and executor.calls[0].tool_choice == "auto"


async def test_executor_tools_narrows_what_the_executor_is_offered_and_the_planner_is_told(store: RunStore) -> None:
    hub = StubHub({"search__search_local": lambda a: "pages/cheese.md: Graumel", "search__web_search": lambda a: "web"})
    planner = ScriptedModel([plan("Find the cheese"), answer("Graumel")])
    executor = ScriptedModel(
        [
            tool_reply(call("search__web_search", q="cheese"), usage=usage()),
            tool_reply(call("search__search_local", q="cheese"), usage=usage()),
            text_reply("Graumel", usage=usage()),
        ]
    )
    run = episode(planner, executor, hub, store, executor_tools=["search__search_local"])
    result = await run.run("What is the cheese of Vellmark called?", policy="none")
    assert result.answer == "Graumel"
    assert [t.name for t in executor.calls[0].tools] == ["search__search_local"]
    assert "search__search_local" in planner.calls[0].system and "search__web_search" not in planner.calls[0].system
    assert [name for name, _ in hub.calls] == ["search__search_local"]  # the tool not offered never ran
    refused = executor.calls[1].messages[-1].parts[0]
    assert refused.is_error and "search__search_local" in refused.text


async def test_a_subtask_given_twice_in_one_plan_runs_once(store: RunStore) -> None:
    planner = ScriptedModel([plan("Search the notes", "Search the notes"), answer("Graumel")])
    executor = ScriptedModel([text_reply("Graumel", usage=usage())])
    result = await episode(planner, executor, search_hub(), store).run("What is the cheese of Vellmark called?", policy="none")
    assert result.plan == ["Search the notes"] and len(executor.calls) == 1


async def test_small_models_read_only_the_first_paragraph_of_a_tool_description(store: RunStore) -> None:
    hub = search_hub()
    hub.specs = lambda: [  # type: ignore[method-assign]
        ToolSpec("search__search_local", "Search the notes.\n\nExample: search_local(query='quarterly revenue')", {"type": "object"})
    ]
    planner = ScriptedModel([plan("Search the notes for the cheese"), answer("Graumel")])
    executor = ScriptedModel([tool_reply(call("search__search_local", query="Vellmark cheese"), usage=usage()), text_reply("Graumel")])
    result = await episode(planner, executor, hub, store, structured_turns="on").run(
        "What is the cheese of Vellmark called?", policy="none"
    )
    assert result.answer == "Graumel" and [t.description for t in executor.calls[0].tools] == ["Search the notes."]


async def test_after_a_failed_tool_call_a_small_model_must_call_a_tool_again_and_sees_the_offered_tools_in_order(
    store: RunStore,
) -> None:
    def missing(arguments: dict[str, object]) -> str:
        raise ValueError("No such file: /data/cheese.txt")

    hub = StubHub({"documents__read_document": missing, "search__search_local": lambda a: "pages/cheese.md: Graumel"})
    planner = ScriptedModel([plan("Find the cheese"), answer("Graumel")])
    executor = ScriptedModel(
        [
            tool_reply(call("documents__read_document", q="/data/cheese.txt"), usage=usage()),
            tool_reply(call("search__search_local", q="Vellmark cheese"), usage=usage()),
            tool_reply(call("search__search_local", q="Graumel"), usage=usage()),
            text_reply("Graumel (pages/cheese.md)", usage=usage()),
        ]
    )
    offered = ["search__search_local", "documents__read_document"]
    run = episode(planner, executor, hub, store, structured_turns="on", budget_steps=4, executor_tools=offered)
    result = await run.run("What is the cheese of Vellmark called?", policy="none")
    assert result.answer == "Graumel"
    assert [c.tool_choice for c in executor.calls] == ["any", "any", "auto", "none"]
    assert [t.name for t in executor.calls[0].tools] == offered[:1]  # a small model starts with the first tool named
    assert [t.name for t in executor.calls[1].tools] == offered
    assert all([t.name for t in c.described] == offered for c in executor.calls)


async def test_a_small_model_is_offered_required_arguments_only_and_the_planner_reads_what_its_tools_returned(
    store: RunStore,
) -> None:
    hub = search_hub()
    schema = {"type": "object", "properties": {"query": {"type": "string"}, "pages": {"type": "string"}}, "required": ["query"]}
    hub.specs = lambda: [ToolSpec("search__search_local", "Search the notes.", schema)]  # type: ignore[method-assign]
    planner = ScriptedModel([plan("Search the notes for the cheese"), answer("Graumel")])
    executor = ScriptedModel([tool_reply(call("search__search_local", query="Vellmark cheese"), usage=usage()), text_reply("a cheese")])
    result = await episode(planner, executor, hub, store, structured_turns="on").run(
        "What is the cheese of Vellmark called?", policy="none"
    )
    assert result.answer == "Graumel" and list(executor.calls[0].tools[0].input_schema["properties"]) == ["query"]
    report = planner.calls[1].messages[-1].parts[0]
    assert "a cheese" in report.text and "What the tools returned:" in report.text and "Graumel is the cheese of Vellmark" in report.text


async def test_with_tools_in_order_a_small_model_searches_then_reads_what_it_found_then_replies(store: RunStore) -> None:
    hub = StubHub(
        {
            "search__search_local": lambda a: "cheese.md: Graumel is the cheese of Vellmark",
            "documents__read_document": lambda a: f"{a.get('path')}: Graumel is ripened for nine months.",
        }
    )
    planner = ScriptedModel([plan("Find the cheese and cite the page"), answer("Graumel")])
    executor = ScriptedModel(
        [
            tool_reply(call("search__search_local", q="Vellmark cheese"), usage=usage()),
            tool_reply(call("documents__read_document", path="cheese.md"), usage=usage()),
            text_reply("Graumel (cheese.md)", usage=usage()),
        ]
    )
    offered = ["search__search_local", "documents__read_document"]
    run = episode(
        planner, executor, hub, store, structured_turns="on", budget_steps=3, executor_tools=offered, executor_tools_in_order=True
    )
    result = await run.run("What is the cheese of Vellmark called?", policy="none")
    assert result.answer == "Graumel"
    assert [c.tool_choice for c in executor.calls] == ["any", "any", "none"]
    assert [[t.name for t in c.tools] for c in executor.calls[:2]] == [offered[:1], offered[1:]]  # each tool alone, in order
    # every step describes the same tools (one prompt prefix for a local model's cache) and allows one of them
    assert all([t.name for t in c.described] == offered for c in executor.calls) and len({c.system for c in executor.calls}) == 1
    assert hub.calls == [("search__search_local", {"q": "Vellmark cheese"}), ("documents__read_document", {"path": "cheese.md"})]


def test_the_offline_demo_offers_search_then_read_in_that_order() -> None:
    from memento.agent.cli.demo_setup import DEMO_SETTINGS

    settings = AgentSettings(**DEMO_SETTINGS)  # validated: every key a real setting
    assert settings.executor_tools == ["search__search_local", "documents__read_document"] and settings.executor_tools_in_order


def test_a_small_model_must_write_the_report_that_cites_its_sources_and_a_hosted_one_may_leave_it_out() -> None:
    from memento.agent.planner import answer_tool

    assert answer_tool("report", small=True).input_schema["required"] == ["answer", "report"]
    assert answer_tool("report").input_schema["required"] == ["answer"]
    assert answer_tool("short", small=True).input_schema["required"] == ["answer"]  # an eval's answer has no report
