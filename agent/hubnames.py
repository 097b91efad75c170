"""How the hub names tools for models: `{server}__{tool}`, unique, stable and short enough for every vendor.

Also the run-scoped session names stateful servers receive. Pure functions: nothing here talks MCP.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .llm import ToolSpec

__all__ = ["MAX_NAME", "HubTool", "ListedTool", "hub_tools", "scoped_session", "tool_names"]

MAX_NAME = 64  # what every vendor accepts for a tool name
_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")


def scoped_session(scope: str, session: Any) -> str:
    """`session` of the run `scope`, as a session name servers accept: `[A-Za-z0-9][A-Za-z0-9_.-]{0,63}`."""
    prefix = re.sub(r"[^A-Za-z0-9]", "", scope.removeprefix("run-"))[:16] or "run"
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", str(session or "default"))
    return f"{prefix}-{name}"[:64]


class Listed(Protocol):
    """What the hub reads of a listed tool: an MCP `Tool` from a live server, or a `ListedTool` from the cache."""

    @property
    def name(self) -> str: ...
    @property
    def title(self) -> str | None: ...
    @property
    def description(self) -> str | None: ...
    @property
    def input_schema(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class ListedTool:
    """A tool of a server's last listing, read back from the cache without the MCP SDK (it is not loaded yet)."""

    name: str
    title: str | None
    description: str | None
    input_schema: dict[str, Any]

    @classmethod
    def read(cls, tool: dict[str, Any]) -> ListedTool | None:
        """The tool of one cached entry (the MCP `Tool` shape, by alias); None when it is not one."""
        name, schema = tool.get("name"), tool.get("inputSchema")
        if not isinstance(name, str) or not isinstance(schema, dict):
            return None
        title, description = tool.get("title"), tool.get("description")
        return cls(name, title if isinstance(title, str) else None, description if isinstance(description, str) else None, schema)


@dataclass(frozen=True)
class HubTool:
    """One tool as models see it: `name` is unique across servers; `tool` is the server's own name."""

    name: str
    server: str
    tool: str
    description: str
    input_schema: dict[str, Any]

    def spec(self) -> ToolSpec:
        return ToolSpec(self.name, self.description, self.input_schema)


def tool_names(pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Model-facing names for (server, tool) pairs, each unique and the same in every run.

    `server__tool` with anything outside [a-zA-Z0-9_-] replaced by `_`; a name over 64 characters, or
    one that two pairs would share, is cut and ends with a hash of its exact pair instead.
    """
    plain = {pair: _UNSAFE.sub("_", f"{pair[0]}__{pair[1]}") for pair in dict.fromkeys(pairs)}
    shared = Counter(plain.values())
    names = {pair: name if len(name) <= MAX_NAME and shared[name] == 1 else _hashed(pair, name, 8) for pair, name in plain.items()}
    # A hashed name could still equal a plain one (or two short hashes meet): longer hashes until none do.
    digits = 8
    while clashes := [pair for pair, name in names.items() if Counter(names.values())[name] > 1]:
        digits += 8
        if digits > 40:
            raise AssertionError(f"tool names still clash with 40-digit hashes: {clashes}")
        for pair in clashes:
            names[pair] = _hashed(pair, plain[pair], digits)
    return names


def _hashed(pair: tuple[str, str], name: str, digits: int) -> str:
    digest = hashlib.sha256("\0".join(pair).encode()).hexdigest()[:digits]
    return f"{name[: MAX_NAME - digits - 1]}_{digest}"


def hub_tools(listings: Mapping[str, Sequence[Listed]]) -> list[HubTool]:
    """The hub's tool list from each server's `tools/list`, in config order; a tool listed twice counts once."""
    pairs = [(server, tool.name) for server, tools in listings.items() for tool in tools]
    names = tool_names(pairs)
    found: dict[str, HubTool] = {}
    for server, tools in listings.items():
        for tool in tools:
            name = names[(server, tool.name)]
            if name not in found:
                description = tool.description or tool.title or f"The {tool.name} tool of the {server} server."
                found[name] = HubTool(name, server, tool.name, description, {"type": "object", **tool.input_schema})
    return list(found.values())
