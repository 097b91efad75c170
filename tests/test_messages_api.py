"""Our Messages API client (httpx, no SDK) against the fake Anthropic API on loopback.

The stream is read into the message the API would return; failures are retried
the way the SDK retried them (retry-after, x-should-retry, errors inside a
started stream, a stream that breaks off) and what is not cured becomes
`ModelFailed` naming the variable to fix. Waits are read from the client's log,
never from a clock.
"""

from __future__ import annotations

import email.utils
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from memento.agent.llm import Message, Model, OpaquePart, ToolResultPart, ToolSpec
from memento.agent.llm.messages_api import ApiConnectionError, ApiStatusError, MessagesClient, retry_after
from memento.agent.llm.registry import make_model
from memento.agent.settings import AgentSettings
from memento.core.errors import ModelFailed
from tests.fake_llm import (
    Failure,
    FakeAnthropic,
    Thinking,
    ToolUse,
    answer,
    rate_limited,
    server_error,
    stream_cut,
    stream_error,
    stream_stalled,
    unauthorized,
)

pytestmark = pytest.mark.anyio

KEY = "sk-ant-test-secret-0123456789abcdef"
SEARCH = ToolSpec("search", "Search the web.", {"type": "object", "properties": {"query": {"type": "string"}}})
BODY: dict[str, Any] = {"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}


@asynccontextmanager
async def client(fake: FakeAnthropic, *, retries: int = 2, timeout_s: float = 30.0) -> AsyncIterator[MessagesClient]:
    api = MessagesClient(KEY, fake.url, retries=retries, timeout_s=timeout_s)
    try:
        yield api
    finally:
        await api.aclose()


@asynccontextmanager
async def claude(fake: FakeAnthropic, tmp_path: Path, **overrides: Any) -> AsyncIterator[Model]:
    settings = AgentSettings(home=tmp_path, anthropic_api_key=KEY, anthropic_base_url=fake.url, **overrides)
    model = make_model("anthropic:claude-sonnet-4-5", settings)
    try:
        yield model
    finally:
        await model.aclose()


def waits(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The waits the client announced before each retry, as logged ("0.00")."""
    return [r.getMessage().rsplit(" in ", 1)[1].removesuffix(" s") for r in caplog.records if "; retry " in r.getMessage()]


# -- reading the stream ------------------------------------------------------------------------------


async def test_text_and_a_tool_input_cut_into_many_partial_json_deltas_are_assembled_into_the_message(
    fake_anthropic: FakeAnthropic,
) -> None:
    fake_anthropic.pieces = 7  # the input's JSON arrives in 7 pieces, cut mid-token and mid-escape
    arguments = {"query": "Fluss Rhône – Länge?", "limit": 3, "filters": {"lang": ["de", "fr"], "safe": True}}
    fake_anthropic.enqueue(answer("Let me search for that river.", ToolUse("search", arguments, id="toolu_1"), output_tokens=31))
    deltas: list[int] = []
    async with client(fake_anthropic) as api:
        message = await api.stream(BODY, deltas.append)

    text, tool = message["content"]
    assert text == {"type": "text", "text": "Let me search for that river."}
    assert tool == {"type": "tool_use", "id": "toolu_1", "name": "search", "input": arguments}
    assert message["stop_reason"] == "tool_use" and message["usage"]["output_tokens"] == 31
    assert deltas == list(range(1, 15))  # 7 text deltas and 7 input deltas, counted as they came
    assert fake_anthropic.last.streamed
    assert fake_anthropic.last.headers["anthropic-version"] == "2023-06-01" and fake_anthropic.last.api_key == KEY


async def test_thinking_and_its_signature_go_back_in_the_next_request_exactly_as_they_came(
    fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    fake_anthropic.pieces = 5
    thought = Thinking('First "search", then\nanswer — in ünïcode, with \\ and /.', signature="Eq0BCkYIBxgCKkD+/aZ09==")
    fake_anthropic.enqueue(answer(thought, ToolUse("search", {"query": "river"})), answer("42 km"))
    async with claude(fake_anthropic, tmp_path, thinking_budget=2048) as model:
        first = await model.generate("sys", [Message.user("How long?")], [SEARCH])
        (opaque,) = [p for p in first.message.parts if isinstance(p, OpaquePart)]
        history = [Message.user("How long?"), first.message, Message("user", [ToolResultPart(first.tool_calls[0].id, "42 km")])]
        assert (await model.generate("sys", history, [SEARCH])).text == "42 km"

    assert opaque.data == {"type": "thinking", "thinking": thought.thinking, "signature": thought.signature}
    sent_back = fake_anthropic.last.body["messages"][1]["content"][0]
    assert sent_back == {"type": "thinking", "thinking": thought.thinking, "signature": thought.signature}


async def test_a_proxy_answering_one_json_document_to_a_stream_request_is_read_as_the_message(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.plain = True
    fake_anthropic.enqueue(answer("not streamed", ToolUse("search", {"query": "q"}, id="toolu_9"), input_tokens=5))
    async with client(fake_anthropic) as api:
        message = await api.stream(BODY)
    assert fake_anthropic.last.streamed
    assert [b["type"] for b in message["content"]] == ["text", "tool_use"] and message["usage"]["input_tokens"] == 5


# -- retries -----------------------------------------------------------------------------------------


async def test_a_zero_second_retry_after_is_honoured_as_no_wait(fake_anthropic: FakeAnthropic, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="memento.agent.llm.messages_api")
    fake_anthropic.enqueue(rate_limited("0"), server_error(503, **{"retry-after-ms": "30"}), answer("after the waits"))
    async with client(fake_anthropic, retries=3) as api:
        message = await api.stream(BODY)
    assert message["content"] == [{"type": "text", "text": "after the waits"}]
    assert len(fake_anthropic.requests) == 3
    assert waits(caplog) == ["0.00", "0.03"]  # the server's own waits, not the backoff's half second


async def test_x_should_retry_false_stops_a_503_and_true_retries_a_400(fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.enqueue(
        server_error(503, **{"x-should-retry": "false"}),
        Failure(400, "invalid_request_error", "try again", {"x-should-retry": "true", "retry-after": "0"}),
        answer("second time lucky"),
    )
    async with client(fake_anthropic, retries=3) as api:
        with pytest.raises(ApiStatusError) as refused:
            await api.stream(BODY)
        assert refused.value.status_code == 503 and len(fake_anthropic.requests) == 1
        assert (await api.stream(BODY))["content"][0]["text"] == "second time lucky"
    assert len(fake_anthropic.requests) == 3


async def test_a_rejected_key_is_asked_once_and_the_message_names_the_key_variable_without_the_key(
    fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    fake_anthropic.enqueue(unauthorized())
    async with claude(fake_anthropic, tmp_path, model_retries=4) as model:
        with pytest.raises(ModelFailed, match=r"401 .*check ANTHROPIC_API_KEY") as failed:
            await model.generate("sys", [Message.user("go")], [])
        assert KEY not in repr(model) and KEY not in repr(vars(model)["_client"])
    assert len(fake_anthropic.requests) == 1
    assert KEY not in str(failed.value) and KEY not in repr(failed.value.__cause__)


async def test_an_overloaded_error_inside_a_started_stream_is_retried_and_a_refusal_inside_one_is_not(
    fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    fake_anthropic.enqueue(stream_error("overloaded_error"), answer("recovered"), stream_error("invalid_request_error"))
    async with claude(fake_anthropic, tmp_path, model_retries=2) as model:
        assert (await model.generate("", [Message.user("a")], [])).text == "recovered"
        assert len(fake_anthropic.requests) == 2
        with pytest.raises(ModelFailed, match=r"answered 400 .*invalid_request_error"):
            await model.generate("", [Message.user("b")], [])
    assert len(fake_anthropic.requests) == 3


async def test_a_stream_cut_mid_way_is_retried_and_when_it_keeps_breaking_the_call_fails_with_the_base_url_variable(
    fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    fake_anthropic.enqueue(stream_cut(), answer("whole this time"), stream_cut(), stream_cut())
    partial: list[int] = []
    async with client(fake_anthropic, retries=1) as api:
        message = await api.stream(BODY, partial.append)
        assert message["content"] == [{"type": "text", "text": "whole this time"}]
        assert partial[:2] == [1, 1]  # the broken try's one delta, then the count starts again
        with pytest.raises(ApiConnectionError, match="stream ended before message_stop"):
            await api.stream(BODY)
    assert len(fake_anthropic.requests) == 4

    fake_anthropic.enqueue(stream_cut())
    async with claude(fake_anthropic, tmp_path, model_retries=0) as model:
        with pytest.raises(ModelFailed, match=r"Could not reach Anthropic .*stream ended.*ANTHROPIC_BASE_URL"):
            await model.generate("", [Message.user("go")], [])


async def test_a_stream_that_goes_silent_ends_in_the_time_limit_never_a_hang(fake_anthropic: FakeAnthropic, tmp_path: Path) -> None:
    fake_anthropic.enqueue(stream_stalled(2.0))
    async with claude(fake_anthropic, tmp_path, model_retries=0, model_timeout_s=0.3) as model:
        with pytest.raises(ModelFailed, match=r"did not answer .* within 0\.3 s.*MEMENTO_MODEL_TIMEOUT_S"):
            await model.generate("", [Message.user("go")], [])


async def test_a_proxy_in_the_environment_is_not_used_for_a_loopback_api(
    fake_anthropic: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there: a proxied request would fail
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    fake_anthropic.enqueue(answer("straight to the fake"))
    async with client(fake_anthropic, retries=0) as api:
        assert (await api.stream(BODY))["content"][0]["text"] == "straight to the fake"


# -- retry-after, as a header says it ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "100", "retry-after": "7"}, 0.1),
        ({"retry-after": "0"}, 0.0),
        ({"retry-after": "2.5"}, 2.5),
        ({"retry-after": email.utils.formatdate(1_000_030, usegmt=True)}, 30.0),
        ({"retry-after": "3600"}, None),
        ({"retry-after": "-1"}, None),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_reads_milliseconds_seconds_and_http_dates_and_ignores_what_is_not_sensible(
    headers: dict[str, str], expected: float | None
) -> None:
    assert retry_after(headers, now=1_000_000) == expected
