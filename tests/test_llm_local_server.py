"""The real 0.5B model served by llama.cpp in this process: a schema-held tool call, one server for every role, shutdown.

Slow on a busy 2-core machine (seconds per call), so the calls are few and short.
The weights come from the installed part packages (`make model-parts`): their
absence fails these tests, it does not skip them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from memento.agent.llm import Message, ToolSpec, local_server
from memento.agent.llm.local_model import model_file
from memento.agent.llm.registry import make_model
from memento.agent.settings import AgentSettings

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

# One thread: on 2 cores shared with the rest of the suite, two llama.cpp threads wait on each other at every
# layer and measured several times slower (bench/local_model.py).
THREADS = 1

WEATHER = ToolSpec(
    "weather.forecast",
    "The weather forecast of a city.",
    {
        "type": "object",
        "properties": {"city": {"type": "string", "maxLength": 40}, "days": {"type": "integer", "minimum": 1, "maximum": 7}},
        "required": ["city", "days"],
        "additionalProperties": False,
    },
)
CLOCK = ToolSpec(
    "clock.now",
    "The current time in a time zone.",
    {"type": "object", "properties": {"zone": {"type": "string", "maxLength": 40}}, "required": ["zone"]},
)


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    # One assembled file for the module (half a gigabyte): each test's own MEMENTO_HOME would copy it again.
    folder = tmp_path_factory.mktemp("models")
    yield folder
    local_server.shutdown()


def settings(home: Path, models_dir: Path) -> AgentSettings:
    return AgentSettings(home=home, local_models_dir=models_dir, local_threads=THREADS, local_context_tokens=2048)


async def test_a_forced_turn_of_the_real_model_is_one_offered_tool_with_arguments_its_schema_allows(
    tmp_path: Path, models_dir: Path
) -> None:
    planner = make_model("local:qwen2.5-0.5b", settings(tmp_path, models_dir))
    executor = make_model("local:qwen2.5-0.5b", settings(tmp_path, models_dir))
    try:
        reply = await planner.generate(
            "You help with travel. Use the tools.", [Message.user("Will it rain in Lisbon in the next 3 days?")], [WEATHER, CLOCK],
            tool_choice="any", max_tokens=48,
        )  # fmt: skip
        (call,) = reply.tool_calls
        assert call.name in ("weather.forecast", "clock.now")  # the agent's names, not the aliases the model saw
        if call.name == "weather.forecast":
            assert set(call.arguments) == {"city", "days"} and 1 <= call.arguments["days"] <= 7
        else:
            assert isinstance(call.arguments["zone"], str)
        assert reply.usage.output_tokens <= 48 and reply.usage.cost_usd == 0.0
        # A second role of the same process: no second model in memory.
        second = await executor.generate("Reply in one word.", [Message.user("Say yes.")], [], max_tokens=4)
        assert second.usage.output_tokens <= 4
        assert len(local_server.running()) == 1
    finally:
        await planner.aclose()
        await executor.aclose()


def test_the_server_holds_a_reply_to_a_json_schema_the_model_would_never_write_on_its_own(tmp_path: Path, models_dir: Path) -> None:
    path = model_file("qwen2.5-0.5b", settings(tmp_path, models_dir))
    base = local_server.serve(local_server.ServerKey(path.resolve(), THREADS, 2048))
    assert base.startswith("http://127.0.0.1:")
    schema = {
        "type": "object",
        "properties": {"word": {"enum": ["zebra-42"]}, "n": {"type": "integer", "minimum": 900, "maximum": 999}},
        "required": ["word", "n"],
        "additionalProperties": False,
    }
    body = {
        "model": "any",
        "messages": [{"role": "user", "content": "Say hello."}],
        "max_tokens": 64,
        "temperature": 0,
        "response_format": {"type": "json_schema", "json_schema": {"name": "odd", "schema": schema}},
    }
    answer = httpx.post(f"{base}/chat/completions", json=body, timeout=120).json()
    value = json.loads(answer["choices"][0]["message"]["content"])
    assert value["word"] == "zebra-42" and 900 <= value["n"] <= 999


def test_shutdown_stops_the_server_and_frees_its_port(tmp_path: Path, models_dir: Path) -> None:
    path = model_file("qwen2.5-0.5b", settings(tmp_path, models_dir))
    base = local_server.serve(local_server.ServerKey(path.resolve(), THREADS, 2048))
    assert httpx.get(base.removesuffix("/v1") + "/health", timeout=30).status_code == 200
    local_server.shutdown()
    assert local_server.running() == []
    with pytest.raises(httpx.ConnectError):
        httpx.get(base.removesuffix("/v1") + "/health", timeout=5)
