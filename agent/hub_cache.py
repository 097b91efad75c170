"""The last `tools/list` of each MCP server, kept on disk so a planner can see the tools before their servers are up.

A listing is keyed by what starts its server (command, args, env or URL) and this package's version, so a changed
config or an upgrade never shows stale tools. A missing, stale or unreadable file is a miss, never an error; this
module starts no server and does not decide what the hub offers (hub.py does).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from memento.core.files import replace_file

from .hosts import ServerEntry

__all__ = ["ToolListCache", "cache_key"]

log = logging.getLogger(__name__)

_FORMAT = 1  # bumped when the file's shape changes


@functools.cache
def _package_version() -> str:
    from importlib import metadata  # only when a cache is used at all

    try:
        return metadata.version("memento-agent")
    except metadata.PackageNotFoundError:  # a source tree that is not installed: the listing still keys on the config
        return "unknown"


def cache_key(entry: ServerEntry) -> str:
    """A file-safe digest of everything that decides what a server lists: its launch and the package version."""
    launch = {"command": entry.command, "args": entry.args, "env": entry.env, "url": entry.url, "version": _package_version()}
    digest = hashlib.sha256(json.dumps(launch, sort_keys=True).encode()).hexdigest()[:24]
    return f"{_safe(entry.name)}-{digest}"


class ToolListCache:
    """Listings as plain JSON (the MCP `Tool` shape, by alias) under `folder`; `folder=None` keeps nothing."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    def load(self, entry: ServerEntry) -> list[dict[str, Any]] | None:
        if self.folder is None:
            return None
        path = self.folder / f"{cache_key(entry)}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:  # a torn or foreign file is a miss; the next start rewrites it
            log.debug("tool list cache %s unreadable: %s", path, exc)
            return None
        if not isinstance(data, dict) or data.get("format") != _FORMAT or not isinstance(data.get("tools"), list):
            return None
        return [tool for tool in data["tools"] if isinstance(tool, dict)]

    def save(self, entry: ServerEntry, tools: list[dict[str, Any]]) -> None:
        """Write the listing atomically (a concurrent run reads the old file or the new one, never half)."""
        if self.folder is None:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            body = json.dumps({"format": _FORMAT, "server": entry.name, "tools": tools}, ensure_ascii=False)
            replace_file(self.folder / f"{cache_key(entry)}.json", body)
        except OSError as exc:  # a read-only home costs the next run some start-up time, nothing more
            log.debug("tool list cache not written for %s: %s", entry.name, exc)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:40] or "server"
