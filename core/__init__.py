"""What every part of Memento shares and nothing else: the error tree and the settings base.

`memento.core` imports no other Memento package, so the servers, the case
memory and the agent can all build on it without depending on each other.
Its names load on first use: `memento.core.imports` runs before anything
else in every process and must not bring pydantic with it (`memento --help`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .errors import MementoError, SettingsError
    from .settings import MementoSettings, env_name, split_list

__all__ = ["MementoError", "MementoSettings", "SettingsError", "env_name", "split_list"]

_HOMES = {
    "MementoError": "errors",
    "SettingsError": "errors",
    "MementoSettings": "settings",
    "env_name": "settings",
    "split_list": "settings",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
