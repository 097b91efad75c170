"""Choosing a model: specs, the provider registry and plug-ins, context windows, prices, and the scripted test model."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from memento.agent.llm import Message, Model, Provider, TextPart, ToolCall, ToolResultPart, ToolSpec, Usage, register
from memento.agent.llm import registry as llm_registry
from memento.agent.llm.pricing import cost, price_of
from memento.agent.llm.registry import check_configured, context_window, make_model, parse_spec
from memento.agent.settings import AgentSettings
from memento.core.errors import ModelFailed, ModelNotConfigured
from tests.scripted_model import ScriptedModel, ScriptExhausted, call, text_reply, tool_reply
from tests.test_llm_providers import SEARCH

pytestmark = pytest.mark.anyio


# -- choosing and checking a model -------------------------------------------------------------------


def test_without_a_key_check_configured_names_the_variable_to_set(tmp_path: Path) -> None:
    settings = AgentSettings.from_env({"MEMENTO_HOME": str(tmp_path)})
    with pytest.raises(ModelNotConfigured, match=r"ANTHROPIC_API_KEY \(or MEMENTO_ANTHROPIC_API_KEY\)") as claude:
        check_configured("anthropic:claude-sonnet-4-5", settings)
    with pytest.raises(ModelNotConfigured, match=r"OPENAI_API_KEY.*OPENAI_BASE_URL") as gpt:
        make_model("openai:gpt-4.1", settings)
    assert "\n" not in str(claude.value) and "\n" not in str(gpt.value)


def test_the_vendors_own_variables_configure_a_model(tmp_path: Path) -> None:
    settings = AgentSettings.from_env({"MEMENTO_HOME": str(tmp_path), "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})
    check_configured("openai:qwen2.5", settings)  # a local endpoint needs no key


def test_specs_parse_with_anthropic_as_the_default_and_unknown_providers_refused() -> None:
    assert parse_spec("claude-haiku-4-5") == ("anthropic", "claude-haiku-4-5")
    assert parse_spec("openai:gpt-4.1-mini") == ("openai", "gpt-4.1-mini")
    assert parse_spec("openai:org/model:7b") == ("openai", "org/model:7b")
    with pytest.raises(ModelNotConfigured, match="anthropic, openai, local"):
        parse_spec("mistral:large")
    with pytest.raises(ModelNotConfigured, match="No model name"):
        parse_spec("openai:")


class ScriptedProvider(Provider):
    """A plug-in provider: `scripted:NAME` models answer from a script, configured by MEMENTO_PLANNER_MODEL alone."""

    prefix = "scripted"
    example = "echo"

    def __init__(self, script: list[Any]) -> None:
        self.script = script

    def problem(self, settings: AgentSettings) -> str | None:
        return None if self.script else "No script: give the scripted provider its replies first."

    def make(self, model: str, settings: AgentSettings, *, context_tokens: int) -> Model:
        return ScriptedModel(list(self.script), name=f"scripted:{model}", context_tokens=context_tokens)


async def test_a_registered_provider_makes_the_models_its_prefix_names_and_checks_its_own_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(llm_registry, "_PROVIDERS", dict(llm_registry._PROVIDERS))  # registered for this test only
    settings = AgentSettings(home=tmp_path, context_tokens=32_000)
    with pytest.raises(ModelNotConfigured, match="anthropic, openai, local"):
        parse_spec("scripted:echo")
    register(ScriptedProvider([]))
    with pytest.raises(ModelNotConfigured, match="No script"):
        check_configured("scripted:echo", settings)
    register(ScriptedProvider([text_reply("hello")]))  # the same prefix again replaces the first
    model = make_model("scripted:echo", settings)
    assert model.name == "scripted:echo" and model.context_tokens == 32_000
    assert (await model.generate("", [Message.user("hi")], [])).text == "hello"
    assert [p.prefix for p in llm_registry.providers()] == ["anthropic", "openai", "local", "scripted"]


def test_context_windows_come_from_the_table_unless_the_setting_says(tmp_path: Path) -> None:
    settings = AgentSettings(home=tmp_path)
    assert context_window("claude-sonnet-4-5", settings) == 200_000
    assert context_window("gpt-4.1-mini", settings) == 1_047_576
    assert context_window("gpt-4o", settings) == 128_000
    assert context_window("o3", settings) == 200_000
    assert context_window("llama3.1:8b", settings) == 128_000
    assert context_window("gpt-4o", AgentSettings(home=tmp_path, context_tokens=32_000)) == 32_000


def test_prices_match_by_name_prefix_and_unknown_models_use_the_fallback() -> None:
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    assert cost("anthropic:claude-opus-4-1-20250805", usage) == pytest.approx(90.0)
    assert cost("claude-haiku-4-5", usage) == pytest.approx(6.0)
    assert cost("claude-3-5-haiku-latest", usage) == pytest.approx(4.8)
    assert cost("openai:gpt-4o-mini-2024-07-18", usage) == pytest.approx(0.75)
    assert cost("o4-mini", usage) == pytest.approx(5.5)
    assert price_of("o3x") is None and price_of("my-local-model") is None
    assert cost("my-local-model", usage) == 0.0


def test_no_test_sees_a_vendor_key_or_endpoint() -> None:
    leaked = [k for k in os.environ if k.startswith(("ANTHROPIC_", "OPENAI_"))]
    assert leaked == []
    settings = AgentSettings.from_env()
    assert not (settings.anthropic_api_key or settings.openai_api_key or settings.anthropic_base_url or settings.openai_base_url)


# -- the scripted stand-in ---------------------------------------------------------------------------


async def test_a_scripted_model_replays_its_script_records_each_call_and_says_when_it_runs_out() -> None:
    seen_tools: list[str] = []

    def echo(system: str, messages: list[Message], tools: list[ToolSpec]) -> Any:
        seen_tools.extend(t.name for t in tools)
        return text_reply(f"echo: {messages[-1].text}")

    lookup = call("search", query="rivers")
    model = ScriptedModel([tool_reply(lookup, text="Searching."), echo])
    assert isinstance(model, Model)
    first = await model.generate("sys", [Message.user("find rivers")], [SEARCH], tool_choice="any")
    assert first.tool_calls == [lookup] and first.text == "Searching." and first.stop_reason == "tool_use"
    assert first.model == "scripted:model"
    second = await model.generate("sys", [Message("user", [TextPart("again")])], [SEARCH])
    assert second.text == "echo: again" and seen_tools == ["search"]
    assert [c.tool_choice for c in model.calls] == ["any", "auto"]
    assert model.calls[0].last_user_text == "find rivers"

    model.enqueue(ModelFailed("scripted failure"))
    with pytest.raises(ModelFailed, match="scripted failure"):
        await model.generate("sys", [Message.user("x")], [])
    with pytest.raises(ScriptExhausted, match="call 4 but only 3 replies"):
        await model.generate("sys", [Message.user("one more")], [])
    await model.aclose()
    assert model.closed


async def test_tool_calls_keep_their_ids_across_a_scripted_round_trip() -> None:
    model = ScriptedModel([tool_reply(ToolCall("call_x", "search", {"query": "q"})), text_reply("done")])
    first = await model.generate("", [Message.user("q")], [SEARCH])
    history = [Message.user("q"), first.message, Message("user", [ToolResultPart("call_x", "r")])]
    await model.generate("", history, [SEARCH])
    assert model.calls[1].messages[1].tool_calls[0].id == "call_x"
