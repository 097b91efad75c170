"""The model providers through their real clients (our Messages API client, the `openai` SDK), against fake vendor APIs on loopback.

Each test points a provider at `fake_anthropic` or `fake_openai` by base URL,
scripts the vendor's answers, and checks both the `Reply` and the requests the
client actually sent (streaming, cache markers, thinking blocks, tool results, retries).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from memento.agent.llm import ImagePart, Message, Model, OpaquePart, ToolResultPart, ToolSpec
from memento.agent.llm.registry import make_model
from memento.agent.llm.streaming import watching
from memento.agent.settings import AgentSettings
from memento.core.errors import ModelFailed
from tests.fake_llm import (
    FakeAnthropic,
    FakeOpenAI,
    RedactedThinking,
    Thinking,
    ToolUse,
    answer,
    bad_request,
    overloaded,
    rate_limited,
    server_error,
    stream_error,
    unauthorized,
)

pytestmark = pytest.mark.anyio

KEY = "sk-test-secret-0123456789abcdef"
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
FAST_RETRY = {"retry-after-ms": "5"}  # both clients honour it, so exhausting retries takes milliseconds
SEARCH = ToolSpec("search", "Search the web.", {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]})
SHOT = ToolSpec("screenshot", "Take a screenshot.", {"type": "object", "properties": {"url": {"type": "string"}}})


def claude_settings(fake: FakeAnthropic, tmp_path: Path, **overrides: Any) -> AgentSettings:
    return AgentSettings(home=tmp_path, anthropic_api_key=KEY, anthropic_base_url=fake.url, **overrides)


def openai_settings(fake: FakeOpenAI, tmp_path: Path, **overrides: Any) -> AgentSettings:
    values: dict[str, Any] = {"openai_api_key": KEY, "openai_base_url": fake.url + "/v1", **overrides}
    return AgentSettings(home=tmp_path, **values)


@asynccontextmanager
async def opened(spec: str, settings: AgentSettings) -> AsyncIterator[Model]:
    model = make_model(spec, settings)
    try:
        yield model
    finally:
        await model.aclose()


# -- Anthropic ---------------------------------------------------------------------------------------


async def test_a_claude_text_reply_arrives_streamed_with_usage_cost_stop_reason_and_the_key_sent(
    fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    fake_anthropic.enqueue(answer("The river is 42 km long.", input_tokens=1000, output_tokens=200))
    async with opened("anthropic:claude-sonnet-4-5", claude_settings(fake_anthropic, tmp_path)) as model:
        reply = await model.generate("You answer briefly.", [Message.user("How long is the river?")], [])

    assert reply.text == "The river is 42 km long."
    assert reply.tool_calls == []
    assert reply.model == "anthropic:claude-sonnet-4-5"
    assert reply.stop_reason == "end_turn"
    assert reply.latency_s > 0
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (1000, 200)
    assert reply.usage.cost_usd == pytest.approx((1000 * 3.0 + 200 * 15.0) / 1e6)
    seen = fake_anthropic.last
    assert seen.streamed, "every Anthropic call must stream"
    assert seen.api_key == KEY
    assert seen.body["model"] == "claude-sonnet-4-5"
    assert seen.body["max_tokens"] == 8192
    assert "tools" not in seen.body and "tool_choice" not in seen.body


async def test_a_claude_reply_is_seen_growing_while_it_streams(fake_anthropic: FakeAnthropic, tmp_path: Path) -> None:
    fake_anthropic.enqueue(answer("The river is 42 km long.", ToolUse("search", {"query": "river"})))
    seen: list[int] = []
    async with opened("anthropic:claude-sonnet-4-5", claude_settings(fake_anthropic, tmp_path)) as model:
        with watching(seen.append):
            reply = await model.generate("", [Message.user("How long is the river?")], [SEARCH])
    assert seen == list(range(1, len(seen) + 1)) and len(seen) >= 2  # text and tool input deltas, counted as they come
    assert reply.text == "The river is 42 km long." and reply.tool_calls[0].name == "search"


async def test_a_large_max_tokens_still_goes_through_the_streaming_endpoint(fake_anthropic: FakeAnthropic, tmp_path: Path) -> None:
    fake_anthropic.enqueue(answer("ok"))
    async with opened("claude-sonnet-4-5", claude_settings(fake_anthropic, tmp_path)) as model:
        await model.generate("", [Message.user("hi")], [], max_tokens=64_000)
    assert fake_anthropic.last.streamed
    assert fake_anthropic.last.body["max_tokens"] == 64_000
    assert "system" not in fake_anthropic.last.body  # an empty system prompt is left out, not sent empty


async def test_the_system_prompt_the_last_tool_and_the_newest_turn_carry_cache_markers(
    fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    fake_anthropic.enqueue(answer("done", input_tokens=50, output_tokens=10, cache_read_tokens=4000, cache_write_tokens=600))
    async with opened("anthropic:claude-sonnet-4-5", claude_settings(fake_anthropic, tmp_path)) as model:
        reply = await model.generate("A long, stable system prompt.", [Message.user("go")], [SEARCH, SHOT])

    body = fake_anthropic.last.body
    ephemeral = {"type": "ephemeral"}
    assert body["system"] == [{"type": "text", "text": "A long, stable system prompt.", "cache_control": ephemeral}]
    assert [t.get("cache_control") for t in body["tools"]] == [None, ephemeral]
    assert body["messages"][-1]["content"][-1]["cache_control"] == ephemeral
    assert body["tool_choice"] == {"type": "auto"}
    assert (reply.usage.cache_read_tokens, reply.usage.cache_write_tokens) == (4000, 600)
    expected = (50 * 3.0 + 10 * 15.0 + 4000 * 0.3 + 600 * 3.75) / 1e6
    assert reply.usage.cost_usd == pytest.approx(expected)


async def test_a_tool_call_round_trip_sends_the_result_with_its_image_and_error_flag(fake_anthropic: FakeAnthropic, tmp_path: Path) -> None:
    fake_anthropic.enqueue(
        answer("Let me look.", ToolUse("search", {"query": "rivers of Europe"}), ToolUse("screenshot", {"url": "https://example.org"})),
        answer("The Danube."),
    )
    async with opened("anthropic:claude-sonnet-4-5", claude_settings(fake_anthropic, tmp_path)) as model:
        history = [Message.user("Which river?")]
        first = await model.generate("sys", history, [SEARCH, SHOT], tool_choice="any")
        assert first.stop_reason == "tool_use"
        search, shot = first.tool_calls
        assert (search.name, search.arguments) == ("search", {"query": "rivers of Europe"})
        history += [
            first.message,
            Message(
                "user",
                [
                    ToolResultPart(search.id, "Search backend failed: timeout", is_error=True),
                    ToolResultPart(shot.id, "A screenshot of the page.", images=(ImagePart(PNG, "image/png"),)),
                ],
            ),
        ]
        second = await model.generate("sys", history, [SEARCH, SHOT])

    assert second.text == "The Danube."
    first_body, second_body = (r.body for r in fake_anthropic.requests)
    assert first_body["tool_choice"] == {"type": "any"}
    assistant, results = second_body["messages"][1:]
    assert assistant == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": search.id, "name": "search", "input": {"query": "rivers of Europe"}},
            {"type": "tool_use", "id": shot.id, "name": "screenshot", "input": {"url": "https://example.org"}},
        ],
    }
    failed, pictured = results["content"]
    assert failed == {"type": "tool_result", "tool_use_id": search.id, "content": "Search backend failed: timeout", "is_error": True}
    assert pictured["tool_use_id"] == shot.id and "is_error" not in pictured
    assert pictured["content"] == [
        {"type": "text", "text": "A screenshot of the page."},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
    ]


async def test_thinking_blocks_go_back_unchanged_in_a_tool_loop(fake_anthropic: FakeAnthropic, tmp_path: Path) -> None:
    thought = Thinking("The user wants a length; search first.", signature="EqQBCkYIBxgCKkD-signature==")
    fake_anthropic.enqueue(answer(thought, RedactedThinking("ENCRYPTED-blob=="), ToolUse("search", {"query": "river"})), answer("42 km"))
    settings = claude_settings(fake_anthropic, tmp_path, thinking_budget=2048)
    async with opened("anthropic:claude-sonnet-4-5", settings) as model:
        first = await model.generate("sys", [Message.user("How long?")], [SEARCH])
        opaque = [p for p in first.message.parts if isinstance(p, OpaquePart)]
        assert [p.data for p in opaque] == [
            {"type": "thinking", "thinking": thought.thinking, "signature": thought.signature},
            {"type": "redacted_thinking", "data": "ENCRYPTED-blob=="},
        ]
        history = [Message.user("How long?"), first.message, Message("user", [ToolResultPart(first.tool_calls[0].id, "42 km")])]
        await model.generate("sys", history, [SEARCH])

    first_body, second_body = (r.body for r in fake_anthropic.requests)
    assert first_body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert first_body["max_tokens"] > 2048
    sent_back = second_body["messages"][1]["content"]
    assert sent_back[:2] == [p.data for p in opaque]
    assert "cache_control" not in sent_back[0]


async def test_with_thinking_on_a_forced_tool_becomes_auto_and_max_tokens_stays_above_the_budget(
    fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    fake_anthropic.enqueue(answer(ToolUse("search", {"query": "x"})))
    settings = claude_settings(fake_anthropic, tmp_path, thinking_budget=4096)
    async with opened("anthropic:claude-sonnet-4-5", settings) as model:
        await model.generate("sys", [Message.user("go")], [SEARCH], tool_choice="any", max_tokens=1000)
    body = fake_anthropic.last.body
    assert body["tool_choice"] == {"type": "auto"}
    assert body["max_tokens"] == 5096


async def test_a_thinking_budget_below_1024_leaves_thinking_off(fake_anthropic: FakeAnthropic, tmp_path: Path) -> None:
    fake_anthropic.enqueue(answer("ok"))
    async with opened("anthropic:claude-sonnet-4-5", claude_settings(fake_anthropic, tmp_path, thinking_budget=500)) as model:
        await model.generate("sys", [Message.user("go")], [SEARCH], tool_choice="any")
    assert "thinking" not in fake_anthropic.last.body
    assert fake_anthropic.last.body["tool_choice"] == {"type": "any"}


async def test_a_429_with_retry_after_is_retried_and_then_succeeds(fake_anthropic: FakeAnthropic, tmp_path: Path) -> None:
    fake_anthropic.enqueue(rate_limited("0"), answer("after the wait"))
    async with opened("anthropic:claude-sonnet-4-5", claude_settings(fake_anthropic, tmp_path, model_retries=2)) as model:
        reply = await model.generate("sys", [Message.user("go")], [])
    assert reply.text == "after the wait"
    assert len(fake_anthropic.requests) == 2


async def test_a_529_overloaded_and_an_error_inside_a_started_stream_are_both_retried(
    fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    fake_anthropic.enqueue(overloaded(**FAST_RETRY), stream_error("overloaded_error"), answer("finally"))
    async with opened("anthropic:claude-sonnet-4-5", claude_settings(fake_anthropic, tmp_path, model_retries=3)) as model:
        reply = await model.generate("sys", [Message.user("go")], [])
    assert reply.text == "finally"
    assert len(fake_anthropic.requests) == 3


async def test_5xx_until_the_retries_run_out_is_model_failed_without_the_key(fake_anthropic: FakeAnthropic, tmp_path: Path) -> None:
    fake_anthropic.enqueue(*[server_error(503, **FAST_RETRY)] * 5)
    async with opened("anthropic:claude-sonnet-4-5", claude_settings(fake_anthropic, tmp_path, model_retries=2)) as model:
        with pytest.raises(ModelFailed) as failed:
            await model.generate("sys", [Message.user("go")], [])
    assert len(fake_anthropic.requests) == 3  # the first try and two retries
    message = str(failed.value)
    assert "503" in message and "after 2 retries" in message
    assert KEY not in message and KEY not in repr(failed.value)
    assert failed.value.__cause__ is not None


async def test_a_rejected_key_is_not_retried_and_names_the_key_variable(fake_anthropic: FakeAnthropic, tmp_path: Path) -> None:
    fake_anthropic.enqueue(unauthorized())
    async with opened("anthropic:claude-sonnet-4-5", claude_settings(fake_anthropic, tmp_path)) as model:
        with pytest.raises(ModelFailed, match=r"401.*ANTHROPIC_API_KEY"):
            await model.generate("sys", [Message.user("go")], [])
    assert len(fake_anthropic.requests) == 1


async def test_a_key_the_vendor_echoes_back_is_scrubbed_from_the_message(fake_anthropic: FakeAnthropic, tmp_path: Path) -> None:
    fake_anthropic.enqueue(bad_request(f"the key {KEY} may not call this model"))
    async with opened("anthropic:claude-sonnet-4-5", claude_settings(fake_anthropic, tmp_path)) as model:
        with pytest.raises(ModelFailed, match=r"400 .*the key \*\*\* may not") as failed:
            await model.generate("sys", [Message.user("go")], [])
    assert KEY not in str(failed.value)


async def test_an_unreachable_endpoint_is_model_failed_naming_the_base_url_variable(tmp_path: Path) -> None:
    with FakeAnthropic() as closed:
        url = closed.url  # nothing listens there once the fake has stopped
    settings = AgentSettings(home=tmp_path, anthropic_api_key=KEY, anthropic_base_url=url, model_retries=0)
    async with opened("anthropic:claude-sonnet-4-5", settings) as model:
        with pytest.raises(ModelFailed, match=r"Could not reach Anthropic.*ANTHROPIC_BASE_URL"):
            await model.generate("sys", [Message.user("go")], [])


async def test_keys_stay_out_of_model_reprs(fake_anthropic: FakeAnthropic, fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    async with opened("anthropic:claude-sonnet-4-5", claude_settings(fake_anthropic, tmp_path)) as claude:
        assert KEY not in repr(claude) and KEY not in str(vars(claude).get("name"))
    async with opened("openai:gpt-4.1", openai_settings(fake_openai, tmp_path)) as gpt:
        assert KEY not in repr(gpt)


# -- OpenAI-compatible -------------------------------------------------------------------------------


async def test_an_openai_text_reply_counts_cached_tokens_apart_and_uses_max_completion_tokens(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    fake_openai.enqueue(answer("Paris.", input_tokens=800, cache_read_tokens=1200, output_tokens=100))
    async with opened("openai:gpt-4.1", openai_settings(fake_openai, tmp_path)) as model:
        reply = await model.generate("Answer briefly.", [Message.user("Capital of France?")], [], max_tokens=300)

    assert reply.text == "Paris."
    assert reply.stop_reason == "stop"
    assert (reply.usage.input_tokens, reply.usage.cache_read_tokens, reply.usage.output_tokens) == (800, 1200, 100)
    assert reply.usage.cost_usd == pytest.approx((800 * 2.0 + 1200 * 0.5 + 100 * 8.0) / 1e6)
    body = fake_openai.last.body
    assert body["max_completion_tokens"] == 300 and "max_tokens" not in body
    assert body["messages"] == [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "Capital of France?"}]
    assert fake_openai.last.api_key == KEY


async def test_a_local_endpoint_without_a_key_gets_a_placeholder_key(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    fake_openai.enqueue(answer("hello"))
    settings = AgentSettings(home=tmp_path, openai_base_url=fake_openai.url + "/v1")
    async with opened("openai:llama3.1", settings) as model:
        reply = await model.generate("", [Message.user("hi")], [])
    assert reply.text == "hello"
    assert fake_openai.last.api_key and fake_openai.last.api_key != KEY
    assert reply.usage.cost_usd == pytest.approx((12 * 3.0 + 7 * 15.0) / 1e6)  # priced by the settings' fallback


async def test_openai_tool_calls_use_safe_names_and_results_with_images_follow_as_a_user_message(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    dotted = ToolSpec("browse.screenshot/page", "Screenshot a page.", {"type": "object", "properties": {"url": {"type": "string"}}})
    fake_openai.enqueue(answer(ToolUse("search", {"query": "q"}), ToolUse("browse_screenshot_page", {"url": "u"})), answer("seen"))
    async with opened("openai:gpt-4.1", openai_settings(fake_openai, tmp_path)) as model:
        first = await model.generate("sys", [Message.user("look")], [SEARCH, dotted], tool_choice="any")
        search, shot = first.tool_calls
        assert (search.name, shot.name) == ("search", "browse.screenshot/page")  # the agent's own names come back
        assert first.stop_reason == "tool_calls"
        history = [
            Message.user("look"),
            first.message,
            Message(
                "user",
                [
                    ToolResultPart(search.id, "no results", is_error=True),
                    ToolResultPart(shot.id, "shot taken", (ImagePart(PNG, "image/png"),)),
                ],
            ),
        ]
        await model.generate("sys", history, [SEARCH, dotted])

    first_body, second_body = (r.body for r in fake_openai.requests)
    assert [t["function"]["name"] for t in first_body["tools"]] == ["search", "browse_screenshot_page"]
    assert first_body["tools"][0] == {
        "type": "function",
        "function": {"name": "search", "description": "Search the web.", "parameters": SEARCH.input_schema},
    }
    assert first_body["tool_choice"] == "required"
    assistant, error_result, image_result, images = second_body["messages"][2:]
    assert assistant["tool_calls"][1]["function"] == {"name": "browse_screenshot_page", "arguments": '{"url": "u"}'}
    assert error_result == {"role": "tool", "tool_call_id": search.id, "content": "Error: no results"}
    assert image_result["role"] == "tool" and image_result["content"].startswith("shot taken")
    assert images["role"] == "user"
    assert {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}} in images["content"]


@pytest.mark.parametrize(("choice", "sent"), [("auto", "auto"), ("any", "required"), ("none", "none")])
async def test_tool_choice_maps_to_the_openai_words(fake_openai: FakeOpenAI, tmp_path: Path, choice: Any, sent: str) -> None:
    fake_openai.enqueue(answer("ok"))
    async with opened("openai:gpt-4o", openai_settings(fake_openai, tmp_path)) as model:
        await model.generate("", [Message.user("hi")], [SEARCH], tool_choice=choice)
    assert fake_openai.last.body["tool_choice"] == sent


async def test_an_openai_429_is_retried_and_5xx_until_retries_run_out_is_model_failed(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    fake_openai.enqueue(rate_limited("0"), answer("fine"), *[server_error(502, **FAST_RETRY)] * 3)
    async with opened("openai:gpt-4.1", openai_settings(fake_openai, tmp_path, model_retries=2)) as model:
        assert (await model.generate("", [Message.user("a")], [])).text == "fine"
        assert len(fake_openai.requests) == 2
        with pytest.raises(ModelFailed) as failed:
            await model.generate("", [Message.user("b")], [])
    assert len(fake_openai.requests) == 5
    assert "502" in str(failed.value) and KEY not in str(failed.value)


async def test_openai_calls_stream_with_usage_and_text_and_two_tool_calls_are_assembled_from_their_deltas(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    fake_openai.enqueue(
        answer("Looking it up.", ToolUse("search", {"query": "llama cpp"}), ToolUse("screenshot", {"url": "u"}), output_tokens=9)
    )
    seen: list[int] = []
    async with opened("openai:gpt-4.1", openai_settings(fake_openai, tmp_path)) as model:
        with watching(seen.append):
            reply = await model.generate("", [Message.user("look")], [SEARCH, SHOT])
    assert seen == list(range(1, len(seen) + 1)) and len(seen) >= 4  # the reply seen growing, piece by piece
    assert fake_openai.last.streamed and fake_openai.last.body["stream_options"] == {"include_usage": True}
    assert reply.text == "Looking it up."
    assert [(c.name, c.arguments) for c in reply.tool_calls] == [("search", {"query": "llama cpp"}), ("screenshot", {"url": "u"})]
    assert len({c.id for c in reply.tool_calls}) == 2 and reply.stop_reason == "tool_calls"
    assert reply.usage.output_tokens == 9


async def test_an_error_inside_an_openai_stream_is_model_failed_without_the_key(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    fake_openai.enqueue(stream_error("server_error"))
    async with opened("openai:gpt-4.1", openai_settings(fake_openai, tmp_path, model_retries=0)) as model:
        with pytest.raises(ModelFailed) as failed:
            await model.generate("", [Message.user("hi")], [])
    assert KEY not in str(failed.value)


async def test_a_tool_call_written_as_fenced_json_text_becomes_a_call_whose_result_goes_back_as_a_tool_message(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    written = 'I will search.\n```json\n{"name": "search", "arguments": {"query": "q"}}\n```'
    fake_openai.enqueue(answer(written), answer("found it"))
    async with opened("openai:qwen2.5", openai_settings(fake_openai, tmp_path)) as model:
        first = await model.generate("", [Message.user("look")], [SEARCH])
        (call,) = first.tool_calls
        assert (call.name, call.arguments, first.text, first.stop_reason) == ("search", {"query": "q"}, "I will search.", "tool_calls")
        history = [Message.user("look"), first.message, Message("user", [ToolResultPart(call.id, "q: 3 results")])]
        assert (await model.generate("", history, [SEARCH])).text == "found it"  # the fake refuses an unanswered call
    sent = fake_openai.last.body["messages"]
    assert sent[1]["tool_calls"][0]["id"] == call.id and sent[2] == {"role": "tool", "tool_call_id": call.id, "content": "q: 3 results"}


async def test_json_text_naming_no_offered_tool_is_a_call_the_planner_answers_with_an_error_and_no_tools_means_plain_text(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    from memento.agent.planner import read_call

    fake_openai.enqueue(answer('{"tool": "delete_everything", "arguments": {}}'), answer('{"name": "search", "arguments": {}}'))
    async with opened("openai:qwen2.5", openai_settings(fake_openai, tmp_path)) as model:
        unknown = await model.generate("", [Message.user("go")], [SEARCH])
        untooled = await model.generate("", [Message.user("go")], [])
    (call,) = unknown.tool_calls
    assert call.name == "delete_everything"
    read = read_call(call, plan_allowed=True)
    assert read.kind == "invalid" and "There is no tool 'delete_everything'" in read.problem
    assert untooled.tool_calls == [] and untooled.text == '{"name": "search", "arguments": {}}'


# -- the fakes' other paths, straight through plain HTTP and the SDK ----------------------------------


async def test_the_fake_anthropic_also_answers_without_streaming(fake_anthropic: FakeAnthropic) -> None:
    import httpx

    fake_anthropic.enqueue(answer("plain", ToolUse("search", {"query": "q"}, id="toolu_1")))
    body = {"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
    async with httpx.AsyncClient(trust_env=False) as client:
        response = await client.post(fake_anthropic.url + "/v1/messages", json=body, headers={"x-api-key": KEY})
    message = response.json()
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert [b["type"] for b in message["content"]] == ["text", "tool_use"]
    assert message["content"][1] == {"type": "tool_use", "id": "toolu_1", "name": "search", "input": {"query": "q"}}
    assert message["stop_reason"] == "tool_use" and not fake_anthropic.last.streamed


async def test_the_fake_openai_also_streams_chunks(fake_openai: FakeOpenAI) -> None:
    import openai

    fake_openai.enqueue(answer("streamed text", ToolUse("search", {"query": "q"}), input_tokens=5, output_tokens=3))
    client = openai.AsyncOpenAI(api_key=KEY, base_url=fake_openai.url + "/v1", max_retries=0)
    try:
        stream = await client.chat.completions.create(
            model="gpt-4.1", messages=[{"role": "user", "content": "hi"}], stream=True, stream_options={"include_usage": True}
        )
        chunks = [chunk async for chunk in stream]
    finally:
        await client.close()
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    arguments = "".join(
        call.function.arguments or "" for c in chunks if c.choices for call in c.choices[0].delta.tool_calls or [] if call.function
    )
    assert text == "streamed text" and arguments == '{"query": "q"}'
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 5


async def test_a_model_made_with_a_key_but_no_base_url_still_cannot_reach_a_vendor(tmp_path: Path) -> None:
    settings = AgentSettings(home=tmp_path, anthropic_api_key=KEY, openai_api_key=KEY, model_retries=0)
    for spec in ("anthropic:claude-sonnet-4-5", "openai:gpt-4.1"):
        async with opened(spec, settings) as model:
            with pytest.raises(ModelFailed, match="Could not reach"):
                await model.generate("", [Message.user("hi")], [])
