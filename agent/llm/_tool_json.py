"""Tool calls as JSON text: the reply schema a local model is held to, and calls recovered from a reply's text.

Small models write `{"name": …, "arguments": {…}}` (often in a ```json fence)
instead of a structured tool call; llama.cpp can hold a reply to a JSON schema
(grammar-constrained). Whether a recovered call names a tool that exists and
fits its schema is the tool hub's check, answered as a tool error. Nothing here talks to a server.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from ._names import ToolNames
from .base import ToolSpec

__all__ = ["TOOL_KEYS", "call_id", "recover_call", "reply_schema", "tools_prompt"]

# The keys a tool's name and its arguments come under, in the shapes models write.
TOOL_KEYS = (("tool", "arguments"), ("name", "arguments"), ("name", "parameters"), ("function", "arguments"), ("function", "parameters"))

_FENCE = re.compile(r"```(?:json)?\s*(\{.*?\})\s*```", re.DOTALL)
_REF = re.compile(r"#/(\$defs|definitions)/")


def call_id() -> str:
    """A fresh id for a call the endpoint gave none (its result must name it)."""
    return f"call_{uuid.uuid4().hex[:12]}"


def reply_schema(tools: list[ToolSpec], names: ToolNames, *, must_call: bool) -> dict[str, Any]:
    """One JSON object: a call `{"tool": <name>, "arguments": {…}}` of one offered tool, or (unless `must_call`) `{"reply": "…"}`."""
    branches: list[dict[str, Any]] = []
    hoisted: dict[str, Any] = {}
    for tool in tools:
        alias = names.safe(tool.name)
        arguments = _hoist(tool.input_schema, alias, hoisted)
        branches.append(
            {
                "type": "object",
                "properties": {"tool": {"const": alias}, "arguments": arguments},
                "required": ["tool", "arguments"],
                "additionalProperties": False,
            }
        )
    if not must_call:
        branches.append(
            {"type": "object", "properties": {"reply": {"type": "string"}}, "required": ["reply"], "additionalProperties": False}
        )
    schema: dict[str, Any] = {"anyOf": branches}
    if hoisted:
        schema["$defs"] = hoisted
    return schema


def tools_prompt(tools: list[ToolSpec], names: ToolNames, *, must_call: bool) -> str:
    """The tool list and the reply format in words, for a model that gets no `tools` field."""
    lines = ["", "## Tools", "", "Answer with one JSON object and nothing else."]
    lines.append('To call a tool: {"tool": "<tool name>", "arguments": {<its arguments>}}.')
    if must_call:
        lines.append("You must call one of the tools now.")
    else:
        lines.append('To answer without a tool: {"reply": "<your answer>"}.')
    lines.append("")
    for tool in tools:
        schema = json.dumps(tool.input_schema.get("properties", {}), ensure_ascii=False, separators=(",", ":"))
        lines.append(f"- {names.safe(tool.name)}: {tool.description.strip()}\n  arguments: {schema}")
    return "\n".join(lines)


def recover_call(text: str) -> tuple[str, dict[str, Any], str] | None:
    """(name, arguments, the text around it) of a tool call written as JSON text, bare or in a fence, else None.

    The name may be one no tool has: the caller's tool error then tells the model what exists.
    """
    stripped = text.strip()
    for candidate, rest in _candidates(stripped):
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        found = _call_in(value) if isinstance(value, dict) else None
        if found:
            return found[0], found[1], rest
    return None


def _candidates(text: str) -> list[tuple[str, str]]:
    """(JSON text, the prose left without it): the whole reply first, then each fenced block."""
    out = [(text, "")] if text.startswith("{") and text.endswith("}") else []
    out.extend((m.group(1), (text[: m.start()] + text[m.end() :]).strip()) for m in _FENCE.finditer(text))
    return out


def _call_in(value: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    if isinstance(value.get("function"), dict):  # the wire shape {"function": {"name": …, "arguments": …}}
        value = value["function"]
    for name_key, arguments_key in TOOL_KEYS:
        name = value.get(name_key)
        if not isinstance(name, str) or arguments_key not in value:
            continue
        arguments = value[arguments_key]
        if isinstance(arguments, str):  # the arguments as a JSON string, as the chat API sends them
            try:
                arguments = json.loads(arguments)
            except ValueError:
                return name, {"_unparsed_arguments": arguments}
        return name, arguments if isinstance(arguments, dict) else {"_unparsed_arguments": arguments}
    return None


def _hoist(schema: dict[str, Any], alias: str, hoisted: dict[str, Any]) -> dict[str, Any]:
    """`schema` with its own `$defs` moved to the root under names of its tool, and its refs renamed to match."""
    local = {**schema.get("$defs", {}), **schema.get("definitions", {})}
    if not local:
        return schema
    text = json.dumps({k: v for k, v in schema.items() if k not in ("$defs", "definitions")})
    text = _REF.sub(f"#/$defs/{alias}__", text)
    for name, definition in local.items():
        hoisted[f"{alias}__{name}"] = json.loads(_REF.sub(f"#/$defs/{alias}__", json.dumps(definition)))
    result: dict[str, Any] = json.loads(text)
    return result
