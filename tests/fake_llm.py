"""Fake Anthropic and OpenAI HTTP APIs on 127.0.0.1, replaying scripted replies to the real clients.

`FakeAnthropic` speaks POST /v1/messages (SSE streaming and plain JSON);
`FakeOpenAI` speaks POST /v1/chat/completions (JSON and streamed chunks). A test
queues answers (text, tool calls, thinking blocks, usage) and failures (429 with
retry-after, 5xx, 529, an error inside a stream, a stream cut or stalled), then reads back every request
received. Each fake checks the rules its real API enforces that our providers
must respect, and refuses a request breaking them with the vendor's 400. A
request with nothing scripted, or past `max_requests`, gets a 400 that no client retries.
What a test scripts and the server that replays it are in `tests/fake_api.py`,
re-exported here; this module holds the two vendors' formats.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from typing import Any

from tests.fake_api import (
    Answer,
    Failure,
    FakeAPI,
    RedactedThinking,
    Responder,
    Seen,
    Text,
    Thinking,
    ToolUse,
    answer,
    bad_request,
    overloaded,
    rate_limited,
    server_error,
    stream_cut,
    stream_error,
    stream_stalled,
    unauthorized,
)

__all__ = [
    "Answer",
    "Failure",
    "FakeAnthropic",
    "FakeOpenAI",
    "RedactedThinking",
    "Seen",
    "Text",
    "Thinking",
    "ToolUse",
    "answer",
    "bad_request",
    "overloaded",
    "rate_limited",
    "server_error",
    "stream_cut",
    "stream_error",
    "stream_stalled",
    "unauthorized",
]


def _halves(text: str) -> list[str]:
    """A text cut in two, as a stream would deliver it in pieces."""
    cut = max(1, len(text) // 2)
    return [p for p in (text[:cut], text[cut:]) if p]


def _pieces(text: str, n: int) -> list[str]:
    """A text cut in `n` pieces of about equal length (fewer when it is shorter; 2: its halves)."""
    if n <= 2:
        return _halves(text)
    cuts = [len(text) * i // n for i in range(n + 1)]
    return [text[a:b] for a, b in itertools.pairwise(cuts) if b > a]


# -- Anthropic ---------------------------------------------------------------------------------------


class FakeAnthropic(FakeAPI):
    """The Anthropic Messages API: POST /v1/messages; point `base_url` at `.url`."""

    path = "/v1/messages"
    id_prefix = "toolu_fake_"
    pieces = 2  # how many deltas a streamed text, tool input or thinking is cut into
    plain = False  # answer one JSON document even when a stream is asked for, as some proxies do

    def problems(self, body: Any) -> list[str]:
        if not isinstance(body, dict):
            return ["body: expected a JSON object"]
        found = []
        max_tokens = body.get("max_tokens")
        if not isinstance(max_tokens, int) or max_tokens < 1:
            found.append("max_tokens: field required")
        thinking = body.get("thinking") or {}
        if thinking.get("type") == "enabled":
            budget = thinking.get("budget_tokens", 0)
            if budget < 1024:
                found.append("thinking.budget_tokens: must be >= 1024")
            if isinstance(max_tokens, int) and max_tokens <= budget:
                found.append("`max_tokens` must be greater than `thinking.budget_tokens`")
            if (body.get("tool_choice") or {}).get("type") not in (None, "auto", "none"):
                found.append("Thinking may not be enabled when tool_choice forces tool use.")
        for i, message in enumerate(body.get("messages") or []):
            content = message.get("content")
            blocks = content if isinstance(content, list) else []
            for block in blocks:
                if block.get("type") == "text" and not block.get("text"):
                    found.append(f"messages.{i}: text content blocks must be non-empty")
                if block.get("type") == "thinking" and not block.get("signature"):
                    found.append(f"messages.{i}: thinking block without its signature")
            kinds = [b.get("type") for b in blocks]
            if "tool_result" in kinds and kinds.index("tool_result") > 0 and kinds[0] != "tool_result":
                found.append(f"messages.{i}: tool_result blocks must come first in the content")
        return found

    def error_body(self, failure: Failure) -> dict[str, Any]:
        return {"type": "error", "error": {"type": failure.error_type, "message": failure.message}}

    def _blocks(self, item: Answer) -> list[dict[str, Any]]:
        blocks = []
        for b in item.blocks:
            if isinstance(b, Text):
                blocks.append({"type": "text", "text": b.text})
            elif isinstance(b, ToolUse):
                blocks.append({"type": "tool_use", "id": b.id or self._next_id(), "name": b.name, "input": b.arguments})
            elif isinstance(b, Thinking):
                blocks.append({"type": "thinking", "thinking": b.thinking, "signature": b.signature})
            else:
                blocks.append({"type": "redacted_thinking", "data": b.data})
        return blocks

    def send_answer(self, out: Responder, item: Answer | Failure, body: dict[str, Any]) -> None:
        if isinstance(item, Failure) and not body.get("stream"):
            out.json(529 if item.error_type == "overloaded_error" else 500, self.error_body(item))
            return
        blocks = [] if isinstance(item, Failure) else self._blocks(item)
        usage = {"input_tokens": 0, "output_tokens": 0}
        stop = "end_turn"
        if isinstance(item, Answer):
            usage = {
                "input_tokens": item.input_tokens,
                "output_tokens": item.output_tokens,
                "cache_creation_input_tokens": item.cache_write_tokens,
                "cache_read_input_tokens": item.cache_read_tokens,
            }
            stop = item.stop_reason or ("tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn")
        message = {
            "id": f"msg_fake_{len(self.requests)}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", ""),
            "content": blocks,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": usage,
        }
        if not body.get("stream") or self.plain:
            out.json(200, message)
            return
        out.start_stream()
        out.event(
            {"type": "message_start", "message": {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}},
            "message_start",
        )
        out.event({"type": "ping"}, "ping")
        if isinstance(item, Failure) and item.stall_s:  # silence, then the connection closes
            time.sleep(item.stall_s)
            return
        if isinstance(item, Failure) and item.cut:  # a text block begun, one delta, then the connection closes
            out.event({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}, "content_block_start")
            delta = {"type": "text_delta", "text": "The answer is"}
            out.event({"type": "content_block_delta", "index": 0, "delta": delta}, "content_block_delta")
            return
        if isinstance(item, Failure):  # an error after the stream began
            out.event(self.error_body(item), "error")
            return
        for index, block in enumerate(blocks):
            self._stream_block(out, index, block, self.pieces)
        out.event(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": usage["output_tokens"]},
            },
            "message_delta",
        )
        out.event({"type": "message_stop"}, "message_stop")

    @staticmethod
    def _stream_block(out: Responder, index: int, block: dict[str, Any], pieces: int = 2) -> None:
        kind = block["type"]
        empty = {
            "text": {"type": "text", "text": ""},
            "tool_use": {**block, "input": {}},
            "thinking": {"type": "thinking", "thinking": "", "signature": ""},
        }.get(kind, block)
        out.event({"type": "content_block_start", "index": index, "content_block": empty}, "content_block_start")
        deltas: list[dict[str, Any]] = []
        if kind == "text":
            deltas = [{"type": "text_delta", "text": piece} for piece in _pieces(block["text"], pieces)]
        elif kind == "tool_use":
            deltas = [{"type": "input_json_delta", "partial_json": piece} for piece in _pieces(json.dumps(block["input"]), pieces)]
        elif kind == "thinking":
            deltas = [{"type": "thinking_delta", "thinking": piece} for piece in _pieces(block["thinking"], pieces)]
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        for delta in deltas:
            out.event({"type": "content_block_delta", "index": index, "delta": delta}, "content_block_delta")
        out.event({"type": "content_block_stop", "index": index}, "content_block_stop")


# -- OpenAI ------------------------------------------------------------------------------------------

_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


class FakeOpenAI(FakeAPI):
    """OpenAI chat completions: POST /v1/chat/completions; point `base_url` at `.url + "/v1"`."""

    path = "/v1/chat/completions"
    id_prefix = "call_fake_"

    def problems(self, body: Any) -> list[str]:
        if not isinstance(body, dict):
            return ["body: expected a JSON object"]
        found = []
        for i, tool in enumerate(body.get("tools") or []):
            name = (tool.get("function") or {}).get("name", "")
            if not _TOOL_NAME.match(name):
                found.append(f"Invalid 'tools[{i}].function.name': string does not match pattern '^[a-zA-Z0-9_-]{{1,64}}$'")
        if "max_tokens" in body and "max_completion_tokens" in body:
            found.append("max_tokens and max_completion_tokens cannot both be set")
        # Every assistant tool call must be answered by role: tool messages right after it.
        pending: set[str] = set()
        for i, message in enumerate(body.get("messages") or []):
            role = message.get("role")
            if role == "tool":
                if message.get("tool_call_id") not in pending:
                    found.append(f"messages.[{i}]: a tool message must answer a preceding tool call")
                pending.discard(message.get("tool_call_id"))
                if not isinstance(message.get("content"), str):
                    found.append(f"messages.[{i}].content: tool messages take text")
                continue
            if pending:
                found.append(f"messages.[{i}]: tool calls {sorted(pending)} were not answered")
                pending = set()
            if role == "assistant":
                pending = {c["id"] for c in message.get("tool_calls") or []}
        return found

    def error_body(self, failure: Failure) -> dict[str, Any]:
        return {"error": {"message": failure.message, "type": failure.error_type, "param": None, "code": failure.error_type}}

    def send_answer(self, out: Responder, item: Answer | Failure, body: dict[str, Any]) -> None:
        if isinstance(item, Failure):  # an error after the stream began, as an `error` chunk
            if not body.get("stream"):
                out.json(500, self.error_body(item))
                return
            out.start_stream()
            out.event(self.error_body(item))
            return
        text = "".join(b.text for b in item.blocks if isinstance(b, Text)) or None
        calls = [
            {"id": b.id or self._next_id(), "type": "function", "function": {"name": b.name, "arguments": json.dumps(b.arguments)}}
            for b in item.blocks
            if isinstance(b, ToolUse)
        ]
        finish = item.stop_reason or ("tool_calls" if calls else "stop")
        prompt = item.input_tokens + item.cache_read_tokens
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": item.output_tokens,
            "total_tokens": prompt + item.output_tokens,
            "prompt_tokens_details": {"cached_tokens": item.cache_read_tokens},
        }
        head = {"id": f"chatcmpl-fake-{len(self.requests)}", "created": 1_700_000_000, "model": body.get("model", "")}
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": text}
            if calls:
                message["tool_calls"] = calls
            choice = {"index": 0, "message": message, "finish_reason": finish}
            out.json(200, {**head, "object": "chat.completion", "choices": [choice], "usage": usage})
            return
        out.start_stream()

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> None:
            choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
            out.event({**head, "object": "chat.completion.chunk", "choices": [choice]})

        chunk({"role": "assistant", "content": ""})
        for piece in _halves(text or ""):
            chunk({"content": piece})
        for index, call in enumerate(calls):
            function = call["function"]
            first, *rest = _halves(function["arguments"]) or [""]
            chunk(
                {
                    "tool_calls": [
                        {"index": index, "id": call["id"], "type": "function", "function": {"name": function["name"], "arguments": first}}
                    ]
                }
            )
            for piece in rest:
                chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
        chunk({}, finish)
        if (body.get("stream_options") or {}).get("include_usage"):
            out.event({**head, "object": "chat.completion.chunk", "choices": [], "usage": usage})
        out.event("[DONE]")
