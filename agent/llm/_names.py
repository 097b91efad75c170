"""Tool names the vendors accept (`^[a-zA-Z0-9_-]{1,64}$`), mapped back to the agent's own names.

MCP allows dots, slashes and long names that a vendor would refuse outright; the
provider sends a safe alias and turns the model's calls back into the real name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["ToolNames"]

_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")
_LONGEST = 64


class ToolNames:
    """A two-way map between the agent's tool names and names every vendor accepts."""

    def __init__(self, names: Iterable[str]) -> None:
        self._to_safe: dict[str, str] = {}
        self._to_original: dict[str, str] = {}
        for name in names:
            self.safe(name)

    def safe(self, name: str) -> str:
        """The vendor-safe alias of `name` (itself when already safe), stable for this map."""
        if name in self._to_safe:
            return self._to_safe[name]
        alias = _UNSAFE.sub("_", name)[:_LONGEST] or "tool"
        # Two names may fold to one alias ("a.b" and "a_b"): number the later ones.
        n = 1
        while alias in self._to_original and self._to_original[alias] != name:
            n += 1
            suffix = f"_{n}"
            alias = _UNSAFE.sub("_", name)[: _LONGEST - len(suffix)] + suffix
        self._to_safe[name] = alias
        self._to_original[alias] = name
        return alias

    def original(self, alias: str) -> str:
        """The agent's name behind an alias the model used (an unknown alias is returned as is)."""
        return self._to_original.get(alias, alias)
