"""Read an MCP host configuration (`mcp.json`, the `mcpServers` format) and start its servers.

The agent talks to tool servers only over MCP, like any other host: this
module turns a config entry into the official client's stdio parameters, with
the command found in this installation's bin folder when it is not on PATH
and the `MEMENTO_*` settings passed through. It never reads the process
environment: the entry point's settings hand it over (`server_environment`).

Besides the config's entries, every installed server package that declares
itself in the `memento.servers` entry-point group (`name = "pkg.server:main"`)
is offered, so a plug-in needs no edit of any config; the config wins a name.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from memento.core.errors import ConfigError
from memento.core.settings import MementoSettings

if TYPE_CHECKING:  # the MCP client (a second to import) is loaded when a server is launched, not to read a config
    from mcp.client.stdio import StdioServerParameters

__all__ = [
    "PLUGIN_GROUP",
    "ConfigError",
    "ServerEntry",
    "default_config_path",
    "load_config",
    "plugin_entries",
    "server_environment",
    "stdio_parameters",
    "Launch",
    "launch_of",
]

# The entry-point group a server package declares itself in: name = "module:main" (its entry point).
PLUGIN_GROUP = "memento.servers"


@dataclass(frozen=True)
class ServerEntry:
    name: str
    command: str = ""
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    url: str = ""  # for servers reached over streamable HTTP instead of launched

    @property
    def transport(self) -> str:
        return "http" if self.url else "stdio"


def default_config_path() -> Path:
    """./mcp.json when present, else the one at the root of this project."""
    here = Path.cwd() / "mcp.json"
    if here.is_file():
        return here
    return Path(__file__).resolve().parent.parent / "mcp.json"


def load_config(path: Path, plugins: bool = True) -> list[ServerEntry]:
    """The servers of the config at `path`, then (with `plugins`) the installed ones it does not name."""
    entries = _config_entries(path)
    if plugins:
        named = {e.name for e in entries}
        entries += [e for e in plugin_entries() if e.name not in named]
    return entries


def plugin_entries() -> list[ServerEntry]:
    """One entry per installed server package in the `memento.servers` group, launched by its console script when
    one beside this Python runs the same entry point, else by `python -m` of the entry point's module."""
    from importlib import metadata

    declared = sorted(metadata.entry_points(group=PLUGIN_GROUP), key=lambda ep: ep.name)
    if not declared:
        return []
    here = Path(sys.executable).parent
    scripts = {ep.value: ep.name for ep in metadata.entry_points(group="console_scripts") if (here / ep.name).is_file()}
    entries: dict[str, ServerEntry] = {}
    for ep in declared:
        if ep.name in entries:  # two packages claiming one name: the first on the path serves, as for imports
            continue
        script = scripts.get(ep.value)
        entries[ep.name] = ServerEntry(ep.name, script) if script else ServerEntry(ep.name, sys.executable, ["-m", ep.module])
    return list(entries.values())


def _config_entries(path: Path) -> list[ServerEntry]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"No MCP config at {path}; pass --config PATH.") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON (line {exc.lineno}: {exc.msg}).") from None
    servers = raw.get("mcpServers") if isinstance(raw, dict) else None
    if not isinstance(servers, dict):
        raise ConfigError(f'{path} has no "mcpServers" object.')
    entries = []
    for name, spec in servers.items():
        if not isinstance(spec, dict) or not (spec.get("command") or spec.get("url")):
            raise ConfigError(f'{path}: server {name!r} needs a "command" (or a "url").')
        args = spec.get("args", [])
        env = spec.get("env", {})
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise ConfigError(f'{path}: "args" of server {name!r} must be a list of strings.')
        if not isinstance(env, dict):
            raise ConfigError(f'{path}: "env" of server {name!r} must be an object.')
        entries.append(
            ServerEntry(name, spec.get("command", ""), list(args), {str(k): str(v) for k, v in env.items()}, spec.get("url", ""))
        )
    return entries


def resolve_command(command: str, path: str = "") -> str:
    """An absolute path for `command`, looking beside this Python first (a venv's bin folder), then on `path` (a PATH)."""
    if os.path.isabs(command):
        return command
    search = os.pathsep.join([str(Path(sys.executable).parent), path])
    found = shutil.which(command, path=search)
    if found is None:
        raise ConfigError(f"Command {command!r} was not found on PATH or beside {sys.executable}.")
    return found


def server_environment(settings: MementoSettings) -> dict[str, str]:
    """What the launched servers inherit from the agent: the variables its settings pass on, and its home."""
    return {**settings.passed_environment, "MEMENTO_HOME": str(settings.home)}


def passthrough_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The `MEMENTO_*` settings (and proxy-free basics) a launched server should see."""
    return {k: v for k, v in environ.items() if k.startswith("MEMENTO_") or k in ("HF_HUB_OFFLINE", "PYTHONPATH")}


@dataclass(frozen=True)
class Launch:
    """How to start one stdio server: its resolved command, arguments, environment and folder (no MCP import)."""

    command: str
    args: list[str]
    env: dict[str, str]
    cwd: Path | None = None

    def parameters(self) -> StdioServerParameters:
        """This launch as the MCP client's stdio parameters (imports the client's stdio module)."""
        from mcp.client.stdio import StdioServerParameters

        return StdioServerParameters(command=self.command, args=self.args, env=self.env, cwd=self.cwd)


def launch_of(entry: ServerEntry, environ: Mapping[str, str], cwd: Path | None = None, quiet: bool = False) -> Launch:
    """How to start `entry`. `environ`: the agent's environment as its settings read it (`server_environment`);
    its MEMENTO_* variables pass on and its PATH finds the command. `quiet` lowers the server's log level
    unless the user set one. A command not found is a `ConfigError` here, before anything starts."""
    env = passthrough_env(environ)
    if quiet:
        env.setdefault("MEMENTO_LOG_LEVEL", "WARNING")
    command = resolve_command(entry.command, environ.get("PATH", ""))
    return Launch(command, list(entry.args), {**env, **entry.env}, cwd)


def stdio_parameters(entry: ServerEntry, environ: Mapping[str, str], cwd: Path | None = None, quiet: bool = False) -> StdioServerParameters:
    """`launch_of(...)` as the MCP client's launch parameters."""
    return launch_of(entry, environ, cwd, quiet).parameters()
