"""Tool calls as JSON text: the reply schema a local model is held to, and calls recovered from a reply's text.

Small models write `{"name": …, "arguments": {…}}` (often in a ```json fence)
instead of a structured tool call; llama.cpp can hold a reply to a JSON schema
(grammar-constrained). Only offered tools are recovered; whether the arguments
fit is the tool's own check. Nothing here talks to a server.
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


def recover_call(text: str, names: ToolNames) -> tuple[str, dict[str, Any]] | None:
    """(alias, arguments) of a call to an offered tool written as JSON text (bare or fenced), else None."""
    for candidate in _candidates(text):
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if not isinstance(value, dict):
            continue
        found = _call_in(value)
        if found and found[0] in names:
            return found
    return None


def _candidates(text: str) -> list[str]:
    stripped = text.strip()
    out = [m.group(1) for m in _FENCE.finditer(stripped)]
    if stripped.startswith("{") and stripped.endswith("}"):
        out.insert(0, stripped)
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
