"""Any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, Ollama, llama.cpp, LiteLLM) through the `openai` SDK.

Neutral messages become chat messages with function tools; tool results become
`role: tool` messages, their images a following user message (tool messages
cannot hold images on most endpoints). Every call streams; a tool call a model
wrote as JSON text (small local models do) is read back as a call. The SDK
retries 429/5xx itself; what still fails becomes `ModelFailed`. The key never
leaves the SDK client.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import anyio
import openai

from memento.core.errors import ModelFailed

from ._names import ToolNames
from ._tool_json import call_id, recover_call
from ._vendor import Call, SdkErrors, VendorModel
from .base import ImagePart, Message, Part, Reply, TextPart, ToolCall, ToolResultPart, Usage
from .pricing import cost
from .streaming import streamed

__all__ = ["OpenAIModel"]

_CHOICES = {"auto": "auto", "any": "required", "none": "none"}


class OpenAIModel(VendorModel):
    """A chat-completions model (`openai:gpt-4.1`, or any name an OpenAI-compatible server serves)."""

    provider = "openai"
    errors = SdkErrors(openai.OpenAIError, openai.APITimeoutError, openai.APIConnectionError, openai.APIStatusError)

    def connect(self, api_key: str, base_url: str, *, retries: int, timeout_s: float) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(api_key=api_key, base_url=base_url, max_retries=retries, timeout=timeout_s)

    def request(self, call: Call, names: ToolNames) -> dict[str, Any]:
        """The keyword arguments of `chat.completions.create(...)` for this call (public for tests and traces)."""
        chat: list[dict[str, Any]] = [{"role": "system", "content": call.system}] if call.system else []
        for message in call.messages:
            chat.extend(_chat_messages(message, names))
        # max_completion_tokens, not max_tokens: reasoning models (o1, o3, o4…) refuse the older name.
        request: dict[str, Any] = {
            "model": self.model,
            "messages": chat,
            "max_completion_tokens": call.max_tokens or self._max_tokens,
            # Streamed, so a slow (local) model shows progress and a long reply never hits a read timeout.
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if call.tools:
            request["tools"] = [
                {"type": "function", "function": {"name": names.safe(t.name), "description": t.description, "parameters": t.input_schema}}
                for t in call.tools
            ]
            request["tool_choice"] = _CHOICES[call.tool_choice]
        return request

    async def send(self, request: dict[str, Any]) -> Any:
        stream = await self._client.chat.completions.create(**request)
        try:
            completion = await _collect(stream)
        finally:
            # Closed even when the call is cancelled (Ctrl-C, a judge's time limit): its connection is let go at once,
            # not when the collector gets to it (llama.cpp goes on generating regardless: see local_server).
            with anyio.CancelScope(shield=True):
                await stream.close()
        completion.tools_offered = bool(request.get("tools"))
        return completion

    def status(self, exc: Any) -> tuple[int, Any]:
        # Compatible servers do not all wrap their errors in {"error": …}: the message helpers expect it.
        return exc.status_code, exc.body if isinstance(exc.body, dict) and "error" in exc.body else {"error": exc.body}

    def reply(self, completion: Any, names: ToolNames, latency: float) -> Reply:
        offered = getattr(completion, "tools_offered", False)
        if not completion.choices:
            raise ModelFailed(f"The OpenAI-compatible endpoint answered {self.name} with no choices; try again or choose another model.")
        choice = completion.choices[0]
        parts: list[Part] = []
        if choice.message.content:
            parts.append(TextPart(choice.message.content))
        for n, call in enumerate(choice.message.tool_calls or [], start=1):
            function = getattr(call, "function", None)
            if function is None:  # a custom (non-function) tool call: we never offer those
                continue
            # Some local servers leave the id out, yet the result must name its call.
            parts.append(ToolCall(call.id or f"call_{n}", names.original(function.name), _arguments(function.arguments)))
        finish = str(choice.finish_reason or "")
        if offered and parts and not any(isinstance(p, ToolCall) for p in parts):
            recovered = recover_call(choice.message.content)
            if recovered:
                # The call as text (vLLM, Ollama and small models do this): a real call now, so the tool answers it
                # (an unknown name or bad arguments come back to the model as a tool error, not a crash).
                name, arguments, rest = recovered
                parts = [TextPart(rest)] if rest else []
                parts.append(ToolCall(call_id(), names.original(name), arguments))
                finish = "tool_calls"
        usage = _usage(completion.usage)
        usage.cost_usd = cost(self.model, usage, self._fallback)
        return Reply(Message("assistant", parts), usage, finish, self.name, latency)


# -- a streamed answer, assembled ---------------------------------------------------------------------


@dataclass
class _Function:
    name: str = ""
    arguments: str = ""


@dataclass
class _ToolCall:
    id: str = ""
    function: _Function = field(default_factory=_Function)


@dataclass
class _Message:
    content: str | None = None
    tool_calls: list[_ToolCall] = field(default_factory=list)


@dataclass
class _Choice:
    message: _Message = field(default_factory=_Message)
    finish_reason: str | None = None


@dataclass
class _Completion:
    """The parts of a `ChatCompletion` that `reply` reads, built from a stream's chunks."""

    choices: list[_Choice] = field(default_factory=list)
    usage: Any = None
    tools_offered: bool = False  # whether a text reply may be a tool call written out


async def _collect(stream: Any) -> _Completion:
    """Text and tool-call deltas of a chat-completions stream put together (usage comes in the last chunk)."""
    completion = _Completion()
    text: list[str] = []
    calls: dict[int, _ToolCall] = {}
    pieces = 0
    async for chunk in stream:
        if chunk.usage is not None:
            completion.usage = chunk.usage
        for delta_choice in chunk.choices:
            if delta_choice.index != 0:  # n=1 always: a second choice is not ours
                continue
            if not completion.choices:
                completion.choices.append(_Choice())
            delta = delta_choice.delta
            if delta.content or delta.tool_calls:
                pieces += 1
                streamed(pieces)  # for whoever watches the reply grow (agent/llm/streaming.py)
            if delta.content:
                text.append(delta.content)
            for piece in delta.tool_calls or []:
                call = calls.setdefault(piece.index, _ToolCall())
                call.id = piece.id or call.id
                if piece.function is not None:
                    call.function.name += piece.function.name or ""
                    call.function.arguments += piece.function.arguments or ""
            if delta_choice.finish_reason:
                completion.choices[0].finish_reason = delta_choice.finish_reason
    if completion.choices:
        completion.choices[0].message = _Message("".join(text) or None, [calls[i] for i in sorted(calls)])
    return completion


def _arguments(raw: str | None) -> dict[str, Any]:
    """A call's JSON arguments; unparsable ones are kept whole so the tool's error shows the model what it sent."""
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {"_unparsed_arguments": raw}
    return value if isinstance(value, dict) else {"_unparsed_arguments": raw}


def _usage(reported: Any) -> Usage:
    if reported is None:  # some compatible servers report nothing
        return Usage()
    details = reported.prompt_tokens_details
    cached = (details.cached_tokens or 0) if details else 0
    written = (getattr(details, "cache_write_tokens", None) or 0) if details else 0
    # prompt_tokens counts cached input too; Usage keeps fresh, read and written input apart.
    return Usage(
        input_tokens=max(0, (reported.prompt_tokens or 0) - cached - written),
        output_tokens=reported.completion_tokens or 0,
        cache_read_tokens=cached,
        cache_write_tokens=written,
    )


# -- neutral parts → chat messages ------------------------------------------------------------------


def _image_url(part: ImagePart) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": f"data:{part.mime_type};base64,{part.data}"}}


def _chat_messages(message: Message, names: ToolNames) -> list[dict[str, Any]]:
    if message.role == "assistant":
        text = "\n".join(p.text for p in message.parts if isinstance(p, TextPart) and p.text)
        calls = [
            {
                "id": p.id,
                "type": "function",
                "function": {"name": names.safe(p.name), "arguments": json.dumps(p.arguments, ensure_ascii=False)},
            }
            for p in message.parts
            if isinstance(p, ToolCall)
        ]
        turn: dict[str, Any] = {"role": "assistant", "content": text or None}
        if calls:
            turn["tool_calls"] = calls
        return [turn]
    # A user turn: tool answers first (they must follow the assistant's calls), then one user message with the rest.
    out: list[dict[str, Any]] = []
    content: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, ToolResultPart):
            text = f"Error: {part.text}" if part.is_error else part.text
            if part.images:
                text += f"\n[{len(part.images)} image(s) follow in the next user message]"
                content.append({"type": "text", "text": f"Image(s) returned by tool call {part.call_id}:"})
                content.extend(_image_url(i) for i in part.images)
            out.append({"role": "tool", "tool_call_id": part.call_id, "content": text})
        elif isinstance(part, TextPart) and part.text:
            content.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            content.append(_image_url(part))
    if content:
        if all(c["type"] == "text" for c in content):
            # Plain text as a string: the widest-supported shape among compatible servers.
            out.append({"role": "user", "content": "\n".join(c["text"] for c in content)})
        else:
            out.append({"role": "user", "content": content})
    return out
