"""Claude over the Messages API: neutral messages in, one `Reply` out; this module maps parts to content blocks and back.

Every call streams (the API refuses long non-streaming calls) and marks the stable
prefix for prompt caching; thinking blocks come back as `OpaquePart`s and are
sent back untouched. The wire client (messages_api.py, httpx, no vendor SDK: the
SDK's import alone took over a second) retries 429/529/5xx and error events;
what still fails becomes `ModelFailed`. The key stays inside that client: never in a repr or a message.
"""

from __future__ import annotations

import logging
from typing import Any

from memento.agent.settings import AgentSettings

from ._names import ToolNames
from ._vendor import Call, Endpoint, SdkErrors, VendorModel
from .base import ImagePart, Message, OpaquePart, Part, Reply, TextPart, ToolCall, ToolResultPart, Usage
from .messages_api import ApiConnectionError, ApiStatusError, ApiTimeout, MessagesApiError, MessagesClient
from .pricing import cost
from .streaming import streamed

__all__ = ["AnthropicModel"]

log = logging.getLogger(__name__)

_CACHE = {"type": "ephemeral"}
_MIN_THINKING = 1024


class AnthropicModel(VendorModel):
    """A Claude model (`anthropic:claude-sonnet-4-5`) with tool use, prompt caching and optional extended thinking."""

    provider = "anthropic"
    errors = SdkErrors(MessagesApiError, ApiTimeout, ApiConnectionError, ApiStatusError)

    def __init__(self, model: str, settings: AgentSettings, endpoint: Endpoint, *, context_tokens: int = 200_000) -> None:
        super().__init__(model, settings, endpoint, context_tokens=context_tokens)
        self._thinking = settings.thinking_budget if settings.thinking_budget >= _MIN_THINKING else 0

    def connect(self, api_key: str, base_url: str, *, retries: int, timeout_s: float) -> MessagesClient:
        return MessagesClient(api_key, base_url, retries=retries, timeout_s=timeout_s)

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- request ---------------------------------------------------------------------------------

    def request(self, call: Call, names: ToolNames) -> dict[str, Any]:
        """The Messages API request body for this call, less `stream` (public for tests and traces)."""
        limit = call.max_tokens or self._max_tokens
        request: dict[str, Any] = {"model": self.model, "messages": _messages(call.messages, names)}
        if call.system:
            # The system prompt and the tool list are the stable prefix: one cache breakpoint after each.
            request["system"] = [{"type": "text", "text": call.system, "cache_control": dict(_CACHE)}]
        if call.tools:
            request["tools"] = [
                {"name": names.safe(t.name), "description": t.description, "input_schema": t.input_schema} for t in call.tools
            ]
            request["tools"][-1]["cache_control"] = dict(_CACHE)
            choice = call.tool_choice
            if self._thinking and choice == "any":
                # With thinking on the API accepts only auto or none; the caller sees whether a tool was called.
                log.debug("tool_choice 'any' becomes 'auto': extended thinking is on")
                choice = "auto"
            request["tool_choice"] = {"type": choice}
        if self._thinking:
            request["thinking"] = {"type": "enabled", "budget_tokens": self._thinking}
            # Thinking counts against max_tokens, which must exceed the budget: keep the asked-for room for the answer.
            if limit <= self._thinking:
                limit += self._thinking
        request["max_tokens"] = limit
        return request

    # -- call ------------------------------------------------------------------------------------

    async def send(self, request: dict[str, Any]) -> dict[str, Any]:
        # Every call streams (the API refuses long non-streaming calls); each delta is reported to whoever watches (streaming.py).
        message: dict[str, Any] = await self._client.stream(request, streamed)
        return message

    def reply(self, final: dict[str, Any], names: ToolNames, latency: float) -> Reply:
        parts: list[Part] = []
        for block in final.get("content") or []:
            kind = block.get("type")
            if kind == "text":
                parts.append(TextPart(block.get("text", "")))
            elif kind == "tool_use":
                given = block.get("input")
                arguments = given if isinstance(given, dict) else {"input": given}
                parts.append(ToolCall(block["id"], names.original(block["name"]), arguments))
            else:
                # thinking, redacted_thinking and any block type we do not know: kept verbatim to send back.
                parts.append(OpaquePart(self.provider, block))
        u = final.get("usage") or {}
        usage = Usage(
            input_tokens=u.get("input_tokens") or 0,
            output_tokens=u.get("output_tokens") or 0,
            cache_read_tokens=u.get("cache_read_input_tokens") or 0,
            cache_write_tokens=u.get("cache_creation_input_tokens") or 0,
        )
        usage.cost_usd = cost(self.model, usage, self._fallback)
        return Reply(Message("assistant", parts), usage, str(final.get("stop_reason") or ""), self.name, latency)


# -- neutral parts → Anthropic content blocks -----------------------------------------------------


def _messages(messages: list[Message], names: ToolNames) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    last_blocks: list[dict[str, Any]] = []
    for message in messages:
        blocks = [b for part in message.parts if (b := _block(part, names)) is not None]
        if message.role == "user":
            # The API wants a turn's tool results before anything else in it.
            blocks.sort(key=lambda b: b["type"] != "tool_result")
        if blocks:
            out.append({"role": message.role, "content": blocks})
            last_blocks = blocks
    if out and out[-1]["role"] == "user" and last_blocks[-1]["type"] in ("text", "image", "tool_result"):
        # A third breakpoint at the newest turn: the next call in a tool loop reads the whole history from cache.
        last_blocks[-1]["cache_control"] = dict(_CACHE)
    return out


def _image(part: ImagePart) -> dict[str, Any]:
    return {"type": "image", "source": {"type": "base64", "media_type": part.mime_type, "data": part.data}}


def _block(part: Part, names: ToolNames) -> dict[str, Any] | None:
    if isinstance(part, TextPart):
        # The API refuses empty text blocks.
        return {"type": "text", "text": part.text} if part.text else None
    if isinstance(part, ImagePart):
        return _image(part)
    if isinstance(part, ToolCall):
        return {"type": "tool_use", "id": part.id, "name": names.safe(part.name), "input": part.arguments}
    if isinstance(part, ToolResultPart):
        content: str | list[dict[str, Any]] = part.text
        if part.images:
            text = [{"type": "text", "text": part.text}] if part.text else []
            content = [*text, *(_image(i) for i in part.images)]
        block: dict[str, Any] = {"type": "tool_result", "tool_use_id": part.call_id, "content": content}
        if part.is_error:
            block["is_error"] = True
        return block
    if isinstance(part, OpaquePart):
        # Another vendor's block means nothing here; ours goes back exactly as it came (a copy: we never edit history).
        return dict(part.data) if part.provider == AnthropicModel.provider else None
    return None
